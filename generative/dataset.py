"""Build the generative model's training set: every 3D-encodable crystal of the shared sources, deduplicated by
canonical string, with the evaluation crystals (MP-20 dev) removed by string and by structure match.

``python -m generative.dataset --out data/model/train_strings.csv.gz`` writes the strings with their source and
properties, and a JSON of counts (per source: read, encoded, not 3D, too large, dev overlap, duplicates, kept).
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from generative.errors import GenerativeError
from periodicnet.resources import shared_data_dir


@dataclass(frozen=True)
class Source:
    """One CSV of crystals and which of its columns hold the model's properties (None: the source has none)."""

    name: str
    path: str  # relative to the shared data folder
    band_gap: str | None = None
    formation_energy: str | None = None
    id_prefix: str = ""  # prepended to integer material ids (the elasticity set stores MP ids as bare numbers)
    e_above_hull: str | None = None  # column of the energy above hull, when the source has one


# In priority order: when two sources hold the same canonical string, the first one's row (and properties) is kept.
SOURCES = (
    Source("mp20_train_pool", "mp20/train_pool.csv.gz", "band_gap", "formation_energy_per_atom"),
    Source("mp_binaries_2025", "structures/mp_binaries_2025_10k.csv.gz", "band_gap", "formation_energy_per_atom",
           e_above_hull="e_above_hull"),
    Source("mp_elasticity", "structures/mp_elasticity_3959.csv.gz", id_prefix="mp-"),
    Source("lemat_mp", "structures/lemat_sample_mp_2473.csv.gz"),
    Source("lemat_alexandria", "structures/lemat_sample_alexandria_2475.csv.gz"),
    Source("lemat_oqmd", "structures/lemat_sample_oqmd_2487.csv.gz"),
    Source("alexandria_binaries", "structures/alexandria_binaries_1170.csv.gz"),
)
# Not used: `structures/lemat_sample_aflow_2203.csv.gz`. It is called a random sample of AFLOW, but every one of its
# 2,203 crystals contains hydrogen and 97% contain helium (H-He, H-He-Li, H-He-Li-Be systems: one high-pressure
# screening corner of AFLOW, not a sample of its chemistry); 2.6% of them pass the SMACT test, and
# the model trained with them wrote helium compounds (data/model/TRAINING.md). perov-5 and carbon-24 stay out for
# the same kind of reason (one prototype, one element).
DEV_SET = "mp20/dev_1000.csv.gz"
# MP-20-frame properties by Materials Project id (band gap and formation energy for every row)
MP20_PROPERTIES = "known_materials/mp20_hull_35k.csv.gz"
PROPERTY_NAMES = ("band_gap", "formation_energy_per_atom")
# crystals further above the hull than this are left out where a source says (MP-20 itself keeps < 0.08 eV/atom;
# 0.1 is the S.U.N. stability threshold): the model should learn the stable and near-stable crystals
MAX_E_ABOVE_HULL = 0.1
# validation: the first shipped models' held-out crystals (so validation losses compare across models) plus this
# share of every other crystal, drawn with a fixed seed
EXTRA_VAL_FRACTION = 0.03


def n_atoms_of(string: str) -> int:
    """Number of atoms of a SLICES string (its leading element symbols)."""
    count = 0
    for word in string.split():
        if word.isdigit():
            break
        count += 1
    return count


def encode_source(path: Path, cache_dir=None, workers: int = 1, progress: bool = True) -> pd.DataFrame:
    """Frame of one source: ``material_id``, ``cif``, ``slices`` ('' on failure), ``failure`` and its own columns."""
    from generative.data import encode_csv_cached

    frame = pd.read_csv(path, keep_default_na=False)
    if "cif" not in frame.columns:
        raise GenerativeError(f"{path} has no 'cif' column")
    strings, reasons = encode_csv_cached(path, frame["cif"].tolist(), cache_dir, workers, progress)
    frame["slices"] = [s or "" for s in strings]
    frame["failure"] = reasons
    return frame


def source_properties(frame: pd.DataFrame, source: Source, mp20_frame: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Band gap and formation energy per row: the source's own columns, overridden by the MP-20 frame's values when
    the material id is a Materials Project id found there (one consistent frame for the same crystal)."""
    out = pd.DataFrame(index=frame.index)
    for name, column in zip(PROPERTY_NAMES, (source.band_gap, source.formation_energy)):
        own = pd.to_numeric(frame[column], errors="coerce") if column else pd.Series(np.nan, index=frame.index)
        ids = frame["material_id"].astype(str).map(lambda x: source.id_prefix + x if x.isdigit() else x)
        ref = ids.map(lambda x: mp20_frame.get(x, {}).get(name, np.nan)).astype(float)
        out[name] = ref.where(ref.notna(), own)
    return out


def dev_structure_matches(train: pd.DataFrame, dev: pd.DataFrame, progress: bool = True) -> np.ndarray:
    """Boolean mask over ``train`` rows whose structure matches a dev crystal of the same reduced formula
    (pymatgen ``StructureMatcher`` with its default tolerances)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from tqdm import tqdm

    from generative.data import read_cif

    matcher = StructureMatcher()
    dev_by_formula: dict[str, list] = {}
    for cif in dev["cif"]:
        s = read_cif(cif)
        dev_by_formula.setdefault(s.composition.reduced_formula, []).append(s)
    hit = np.zeros(len(train), dtype=bool)
    candidates = [k for k, f in enumerate(train["reduced_formula"]) if f in dev_by_formula]
    for k in tqdm(candidates, disable=not progress, desc="dev match"):
        s = read_cif(train["cif"].iat[k])
        hit[k] = any(matcher.fit(s, d) for d in dev_by_formula[train["reduced_formula"].iat[k]])
    return hit


def legacy_validation_ids(train_pool: pd.DataFrame, fraction: float = 0.1, seed: int = 0) -> set[str]:
    """Material ids the earlier models held out: ``generative.train``'s random split of the encodable MP-20 train pool
    rows (CSV order, ``default_rng(seed).permutation``, first ``fraction``)."""
    encoded = train_pool[train_pool["slices"] != ""]
    n_val = int(round(len(encoded) * fraction))
    perm = np.random.default_rng(seed).permutation(len(encoded))
    return set(encoded["material_id"].astype(str).to_numpy()[perm[:n_val]])


def build(data_dir: Path | None = None, max_atoms: int = 20, cache_dir=None, workers: int = 1,
          progress: bool = True, sources: tuple[Source, ...] = SOURCES) -> tuple[pd.DataFrame, dict]:
    """The training frame (``slices``, ``source``, ``material_id``, properties, ``split``) and a dict of counts."""
    from pymatgen.core import Composition

    data_dir = Path(data_dir) if data_dir is not None else shared_data_dir()
    hull = pd.read_csv(data_dir / MP20_PROPERTIES, keep_default_na=False)
    mp20_frame = {
        mid: {name: float(v) for name, v in zip(PROPERTY_NAMES, vals)}
        for mid, *vals in zip(hull["material_id"], *(pd.to_numeric(hull[n], errors="coerce") for n in PROPERTY_NAMES))
    }
    dev = encode_source(data_dir / DEV_SET, cache_dir, workers, progress)
    dev_strings = set(dev["slices"]) - {""}

    parts, counts, legacy_val = [], {}, set()
    for source in sources:
        frame = encode_source(data_dir / source.path, cache_dir, workers, progress)
        if source.name == "mp20_train_pool":
            legacy_val = legacy_validation_ids(frame)
        c = {"rows": len(frame)}
        failures = Counter(r for r in frame["failure"] if r)
        c["not_encodable"] = dict(sorted(failures.items()))
        frame = frame[frame["slices"] != ""].copy()
        c["encoded"] = len(frame)
        if source.e_above_hull is not None:
            unstable = pd.to_numeric(frame[source.e_above_hull], errors="coerce") > MAX_E_ABOVE_HULL
            c[f"e_above_hull_over_{MAX_E_ABOVE_HULL:g}"] = int(unstable.sum())
            frame = frame[~unstable].copy()
        big = frame["slices"].map(n_atoms_of) > max_atoms
        c[f"more_than_{max_atoms}_atoms"] = int(big.sum())
        frame = frame[~big].copy()
        frame["source"] = source.name
        props = source_properties(frame, source, mp20_frame)
        frame = pd.concat([frame.drop(columns=[c for c in PROPERTY_NAMES if c in frame.columns]), props], axis=1)
        counts[source.name] = c
        parts.append(frame[["material_id", "source", "slices", "cif", *PROPERTY_NAMES]])
    data = pd.concat(parts, ignore_index=True)
    data["material_id"] = data["material_id"].astype(str)

    # deduplicate by canonical string; the first source in SOURCES order wins, but a duplicate's properties fill
    # the kept row's gaps (same crystal; MP ids already carry MP-20-frame values)
    for name in PROPERTY_NAMES:
        first_value = data.groupby("slices", sort=False)[name].transform("first")  # first non-missing value
        data[name] = data[name].where(data[name].notna(), first_value)
    dup = data.duplicated("slices", keep="first").to_numpy()
    for name in counts:
        counts[name]["duplicates"] = int((dup & (data["source"] == name).to_numpy()).sum())
    data = data[~dup].reset_index(drop=True)

    # dev exclusion, by canonical string, then by structure match within a reduced formula
    same_string = data["slices"].isin(dev_strings).to_numpy()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "No Pauling electronegativity", UserWarning)  # noble gases: no effect here
        data["reduced_formula"] = [Composition(" ".join(s.split()[: n_atoms_of(s)])).reduced_formula
                                   for s in data["slices"]]
    same_structure = np.zeros(len(data), dtype=bool)
    rest = np.flatnonzero(~same_string)
    same_structure[rest] = dev_structure_matches(data.iloc[rest].reset_index(drop=True), dev, progress)
    for name in counts:
        in_src = (data["source"] == name).to_numpy()
        counts[name]["dev_same_string"] = int((same_string & in_src).sum())
        counts[name]["dev_structure_match_only"] = int((same_structure & in_src).sum())
    data = data[~(same_string | same_structure)].reset_index(drop=True)
    legacy = ((data["source"] == "mp20_train_pool") & data["material_id"].isin(legacy_val)).to_numpy()
    extra = np.random.default_rng(1).random(len(data)) < EXTRA_VAL_FRACTION
    data["split"] = np.where(legacy | (extra & ~(data["source"] == "mp20_train_pool").to_numpy()), "val", "train")
    for name in counts:
        kept = data[data["source"] == name]
        counts[name]["validation"] = int((kept["split"] == "val").sum())
        counts[name]["kept"] = len(kept)
        counts[name]["with_band_gap"] = int(kept["band_gap"].notna().sum())
        counts[name]["with_formation_energy"] = int(kept["formation_energy_per_atom"].notna().sum())
    gaps = data["band_gap"].to_numpy(dtype=float)
    summary = {
        "max_atoms": max_atoms, "sources": counts, "total": len(data),
        "with_band_gap": int(np.isfinite(gaps).sum()),
        "with_formation_energy": int(data["formation_energy_per_atom"].notna().sum()),
        "band_gap_above": {f"{t:g}": int((gaps > t).sum()) for t in (0.0, 1.0, 2.0, 3.0, 4.0)},
        "dev_excluded_same_string": int(same_string.sum()), "dev_excluded_structure_match": int(same_structure.sum()),
        "validation": int((data["split"] == "val").sum()), "legacy_validation": int(legacy.sum()),
        "legacy_validation_ids": len(legacy_val),
    }
    return data[["slices", "source", "material_id", *PROPERTY_NAMES, "split"]], summary


def main(argv: list[str] | None = None) -> int:
    """Command line: build the training set and write it (CSV.gz) and its counts (JSON beside it)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/model/train_strings.csv.gz", help="CSV.gz to write")
    parser.add_argument("--data-dir", default=None, help="shared data folder (default $SLICES_SHARED_DATA)")
    parser.add_argument("--max-atoms", type=int, default=20, help="largest cell kept (the vocabulary's limit)")
    parser.add_argument("--workers", type=int, default=1, help="encoding processes (at most 2)")
    parser.add_argument("--cache-dir", default=None, help="encoded-string cache (default as `slices train`)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    data, summary = build(args.data_dir, args.max_atoms, args.cache_dir, args.workers, not args.quiet)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    data.to_csv(out, index=False, float_format="%.6g")
    out.with_name(out.name.split(".")[0] + "_counts.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
