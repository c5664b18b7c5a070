"""Benchmark of the matgl stage and the screening models (one thread).

1. Known crystals: relaxed volume per atom under each potential vs the PBE (Materials Project) value, and the
   same for plain ``matgl.load_model`` without this project's fix (run in a child process).
2. MP-20 dev crystals, strained (+-6%) and rattled (0.1 A) from their MP geometry: time, optimiser steps and
   accuracy of each (optimiser, fmax) against a tight reference relaxation (BFGS, fmax 0.005) from the same start;
   plus per-step cost: graph construction, model call, cell-filter overhead.
3. Property models against the MP values of the first N dev rows: band gap (PBE fidelity) and formation energy.

Usage: ``python benchmarks/bench_potential.py [--n-relax 30] [--n-props 200] [--data PATH]``.
Needs ``SLICES_MODEL_DIR`` (defaults to ``../shared/models`` next to the repository). Prints tables and writes
JSON (default ``benchmarks/results/potential.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "potential.json"
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_NUM_THREADS", "1")
if not os.environ.get("SLICES_MODEL_DIR") and (REPO.parent / "shared" / "models").is_dir():
    os.environ["SLICES_MODEL_DIR"] = str(REPO.parent / "shared" / "models")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from pymatgen.core import Lattice, Structure  # noqa: E402

torch.set_num_threads(1)
warnings.filterwarnings("ignore")

POTENTIALS = ["M3GNet-MatPES-PBE-v2025.1-PES", "M3GNet-MP-2021.2.8-PES", "TensorNet-MatPES-PBE-v2025.1-PES"]
SETTINGS = [("FIRE", 0.02), ("FIRE", 0.05), ("FIRE", 0.1), ("BFGS", 0.02), ("BFGS", 0.05), ("BFGS", 0.1)]


def known_crystals() -> dict[str, tuple[Structure, float]]:
    """Crystals built from experimental lattice constants, with the PBE (MP) volume per atom as reference."""

    def fcc2(a, b, lat, pos_b):
        return Structure.from_spacegroup("Fm-3m" if pos_b == 0.5 else "F-43m", Lattice.cubic(lat), [a, b],
                                         [[0, 0, 0], [pos_b] * 3]).get_primitive_structure()

    return {
        "NaCl": (fcc2("Na", "Cl", 5.64, 0.5), 5.69**3 / 8),
        "MgO": (fcc2("Mg", "O", 4.21, 0.5), 4.26**3 / 8),
        "LiF": (fcc2("Li", "F", 4.03, 0.5), 4.08**3 / 8),
        "GaAs": (fcc2("Ga", "As", 5.65, 0.25), 5.75**3 / 8),
        "Si": (Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]]).get_primitive_structure(),
               5.47**3 / 8),
        "SrTiO3": (Structure.from_spacegroup("Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"],
                                             [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]), 3.945**3 / 5),
        "Cu": (Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]]).get_primitive_structure(),
               3.63**3 / 4),
    }


_PLAIN_MATGL = r"""
import json, sys, warnings, torch, logging
torch.set_num_threads(1); warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
import matgl
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE
from matgl.ext.ase import PESCalculator
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
folder, items = sys.argv[1], json.loads(sys.stdin.read())
calc = PESCalculator(matgl.load_model(folder), stress_unit="eV/A3")
out = {}
for name, d in items.items():
    atoms = AseAtomsAdaptor.get_atoms(Structure.from_dict(d)); atoms.calc = calc
    FIRE(FrechetCellFilter(atoms), logfile=None).run(fmax=0.02, steps=300)
    out[name] = [atoms.get_volume() / len(atoms), atoms.get_potential_energy() / len(atoms)]
print(json.dumps(out))
"""


def bench_known(potentials) -> list[dict]:
    from relax import RelaxSettings, relax_structure
    from relax.models import find_model

    crystals = known_crystals()
    rows = []
    for pot in potentials:
        plain = {}
        try:
            proc = subprocess.run([sys.executable, "-c", _PLAIN_MATGL, str(find_model(pot))], check=True,
                                  input=json.dumps({k: s.as_dict() for k, (s, _) in crystals.items()}),
                                  capture_output=True, text=True, timeout=600)
            plain = json.loads(proc.stdout.strip().splitlines()[-1])
        except Exception as exc:  # the comparison column is informative only
            print(f"plain matgl run failed for {pot}: {exc}", file=sys.stderr)
        for name, (start, ref) in crystals.items():
            run = relax_structure(start, pot, RelaxSettings(fmax=0.02, steps=300))
            relaxed, energy, converged, steps = run.structure, run.energy_per_atom, run.converged, run.steps
            vol = relaxed.volume / len(relaxed)
            rows.append({"potential": pot, "crystal": name, "start_vol": start.volume / len(start), "pbe_vol": ref,
                         "vol": vol, "vol_err_pct": 100 * (vol / ref - 1), "energy_per_atom": energy,
                         "converged": converged, "steps": steps,
                         "plain_matgl_vol": plain.get(name, [None, None])[0],
                         "plain_matgl_energy": plain.get(name, [None, None])[1]})
    return rows


def perturbed_dev(data: Path, n: int, seed: int = 0) -> list[tuple[str, Structure, Structure]]:
    frame = pd.read_csv(data).sample(n, random_state=seed)
    rng = np.random.default_rng(seed)
    out = []
    for mid, cif in zip(frame["material_id"], frame["cif"]):
        mp = Structure.from_str(cif, fmt="cif")
        start = mp.copy()
        start.apply_strain(list(rng.uniform(-0.06, 0.06, 3)))
        for i in range(len(start)):  # independent rattle per site
            start.translate_sites([i], rng.normal(0, 0.1, 3), frac_coords=False)
        out.append((mid, mp, start))
    return out


def step_costs(pot: str, structures: list[Structure]) -> dict:
    """Median per-evaluation cost split: graph construction, model call (energy+forces+stress), filter overhead."""
    from ase.filters import FrechetCellFilter
    from pymatgen.io.ase import AseAtomsAdaptor

    from relax.potential import calculator

    calc = calculator(pot)
    graph, model, frechet = [], [], []
    for s in structures:  # best of 5 per structure (the machine is shared), then the median over structures
        atoms = AseAtomsAdaptor.get_atoms(s)
        best = [np.inf, np.inf, np.inf]
        for _ in range(5):
            t0 = time.perf_counter()
            g, lat, state = calc._atoms2graph.get_graph(atoms)
            t1 = time.perf_counter()
            calc.potential(g, lat, state)
            t2 = time.perf_counter()
            atoms.calc = calc
            filt = FrechetCellFilter(atoms)
            filt.get_forces()  # computes the calculator once
            t3 = time.perf_counter()
            filt.get_forces()  # calculator cached by ASE: this is the filter's own cost
            t4 = time.perf_counter()
            best = [min(best[0], t1 - t0), min(best[1], t2 - t1), min(best[2], t4 - t3)]
            atoms.calc = None
        graph.append(best[0]), model.append(best[1]), frechet.append(best[2])
    return {"graph_ms": 1e3 * float(np.median(graph)), "model_call_ms": 1e3 * float(np.median(model)),
            "frechet_filter_ms": 1e3 * float(np.median(frechet))}


def bench_relax(potentials, cases) -> tuple[list[dict], dict]:
    from relax import RelaxSettings, relax_structure

    rows, costs = [], {}
    for pot in potentials:
        costs[pot] = step_costs(pot, [mp for _, mp, _ in cases])
        refs = [relax_structure(start, pot, RelaxSettings(optimizer="BFGS", fmax=0.005, steps=2000))
                for _, _, start in cases]
        for opt, fmax in SETTINGS:
            times, steps, conv, dv, de, dv_mp = [], [], [], [], [], []
            for (mid, mp, start), ref in zip(cases, refs):
                t0 = time.perf_counter()
                run = relax_structure(start, pot, RelaxSettings(optimizer=opt, fmax=fmax, steps=500))
                relaxed, energy, converged, n = run.structure, run.energy_per_atom, run.converged, run.steps
                times.append(time.perf_counter() - t0)
                steps.append(n), conv.append(converged)
                dv.append(abs(relaxed.volume / ref.structure.volume - 1))
                de.append(abs(energy - ref.energy_per_atom))
                dv_mp.append(abs(relaxed.volume / mp.volume - 1))
            rows.append({"potential": pot, "optimizer": opt, "fmax": fmax, "n": len(cases),
                         "median_time_s": float(np.median(times)), "mean_time_s": float(np.mean(times)),
                         "median_steps": float(np.median(steps)), "converged_frac": float(np.mean(conv)),
                         "median_dvol_vs_tight_pct": 100 * float(np.median(dv)),
                         "p90_dvol_vs_tight_pct": 100 * float(np.quantile(dv, 0.9)),
                         "median_dE_vs_tight_meV": 1e3 * float(np.median(de)),
                         "p90_dE_vs_tight_meV": 1e3 * float(np.quantile(de, 0.9)),
                         "mean_abs_dvol_vs_mp_pct": 100 * float(np.mean(dv_mp))})
        tight = [abs(r[0].volume / mp.volume - 1) for r, (_, mp, _) in zip(refs, cases)]
        costs[pot]["tight_mean_abs_dvol_vs_mp_pct"] = 100 * float(np.mean(tight))
        costs[pot]["tight_frac_dvol_vs_mp_over_5pct"] = float(np.mean(np.array(tight) > 0.05))
    return rows, costs


def bench_properties(data: Path, n: int) -> list[dict]:
    from screening.properties import predict_band_gap, predict_formation_energy

    frame = pd.read_csv(data).head(n)
    structures = [Structure.from_str(c, fmt="cif") for c in frame["cif"]]
    rows = []
    for model in ["M3GNet-MP-2018.6.1-Eform", "MEGNet-MP-2018.6.1-Eform"]:
        t0 = time.perf_counter()
        pred = predict_formation_energy(structures, model=model)
        dt = time.perf_counter() - t0
        err = np.abs(pred - frame["formation_energy_per_atom"].to_numpy())
        rows.append({"property": "formation_energy_per_atom", "model": model, "n": int(np.isfinite(err).sum()),
                     "mae": float(np.nanmean(err)), "median_ae": float(np.nanmedian(err)),
                     "n_nan": int(np.isnan(pred).sum()), "ms_per_structure": 1e3 * dt / len(structures)})
    mask = frame["band_gap"].notna().to_numpy()
    gap_structs = [s for s, k in zip(structures, mask) if k]
    target = frame["band_gap"].to_numpy()[mask]
    t0 = time.perf_counter()
    pred = predict_band_gap(gap_structs, fidelity="PBE")
    dt = time.perf_counter() - t0
    err = np.abs(pred - target)
    metal = target < 0.01
    rows.append({"property": "band_gap_pbe", "model": "MEGNet-MP-2019.4.1-BandGap-mfi", "n": int(mask.sum()),
                 "mae": float(err.mean()), "median_ae": float(np.median(err)),
                 "mae_metals": float(err[metal].mean()), "mae_nonmetals": float(err[~metal].mean()),
                 "nonmetals_predicted_metal_frac": float(np.mean(pred[~metal] < 0.1)),
                 "ms_per_structure": 1e3 * dt / len(gap_structs)})
    return rows


def table(rows: list[dict], cols: list[str]) -> str:
    def fmt(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    cells = [[fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(x.ljust(w) for x, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "mp20" / "dev_1000.csv.gz")
    parser.add_argument("--n-relax", type=int, default=30)
    parser.add_argument("--n-props", type=int, default=200)
    parser.add_argument("--potentials", nargs="+", default=POTENTIALS)
    parser.add_argument("--sections", nargs="+", default=["known", "props", "relax"],
                        choices=["known", "props", "relax", "costs"], help="parts to run (the JSON keeps the rest)")
    args = parser.parse_args(argv)

    t_start = time.perf_counter()
    result = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if "known" in args.sections:
        known = bench_known(args.potentials)
        print("== known crystals: relaxed volume per atom (A^3), FIRE fmax 0.02")
        print(table(known, ["potential", "crystal", "pbe_vol", "vol", "vol_err_pct", "energy_per_atom",
                            "plain_matgl_vol", "plain_matgl_energy"]))
        result["known_crystals"] = known
    if "props" in args.sections:
        props = bench_properties(args.data, args.n_props)
        print("\n== property models vs MP values (dev rows)")
        print(table(props, ["property", "model", "n", "mae", "median_ae", "n_nan", "ms_per_structure"]))
        result["properties"], result["n_props"] = props, args.n_props
    if "relax" in args.sections:
        cases = perturbed_dev(args.data, args.n_relax)
        relax_rows, costs = bench_relax(args.potentials, cases)
        print(f"\n== relaxation of {len(cases)} strained+rattled MP-20 dev crystals (vs tight BFGS fmax 0.005)")
        print(table(relax_rows, ["potential", "optimizer", "fmax", "median_time_s", "median_steps",
                                 "converged_frac", "median_dvol_vs_tight_pct", "p90_dvol_vs_tight_pct",
                                 "median_dE_vs_tight_meV", "mean_abs_dvol_vs_mp_pct"]))
        print("\n== per-evaluation cost (median, ms) and tight-relaxed volume vs MP")
        print(table([{"potential": k, **v} for k, v in costs.items()],
                    ["potential", "graph_ms", "model_call_ms", "frechet_filter_ms",
                     "tight_mean_abs_dvol_vs_mp_pct", "tight_frac_dvol_vs_mp_over_5pct"]))
        result["relaxation"], result["step_costs"], result["n_relax"] = relax_rows, costs, len(cases)
    if "costs" in args.sections:
        cases = perturbed_dev(args.data, args.n_relax)
        costs = {pot: step_costs(pot, [mp for _, mp, _ in cases]) for pot in args.potentials}
        print("\n== per-evaluation cost, best of 5 per crystal, median over crystals (ms)")
        print(table([{"potential": k, **v} for k, v in costs.items()],
                    ["potential", "graph_ms", "model_call_ms", "frechet_filter_ms"]))
        for pot, value in costs.items():
            result.setdefault("step_costs", {}).setdefault(pot, {}).update(value)
    result.update({
        "benchmark": "bench_potential",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"python": platform.python_version(), "torch_threads": torch.get_num_threads(),
                    "cpu": platform.processor() or platform.machine(), "load_average": os.getloadavg()},
        "data": str(args.data),
        f"wall_time_s_{'_'.join(args.sections)}": time.perf_counter() - t_start,
    })
    RESULTS.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
