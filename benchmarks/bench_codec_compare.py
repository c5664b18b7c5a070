"""Side by side: this codec against an earlier version of it, on the same inputs, in one run.

    git archive <commit> | tar -x -C /tmp/before        # a checkout of the earlier version
    OMP_NUM_THREADS=1 python benchmarks/bench_codec_compare.py --before /tmp/before --label <commit>

Each version runs in its own child process (``PYTHONPATH`` pointing at its checkout), alternately, so both see the
same machine load. Measured: whether the canonical strings are identical (the 1,432 reference strings, the MP-20 dev
encodings, and the MP-21-40 / QMOF dev encodings the earlier version could make), how many dev crystals each refuses,
encode throughput (median of alternating passes), and the time to canonicalise large supercell graphs.
Writes ``benchmarks/results/codec_compare.json`` (overwritten; the label names the other codec inside).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_DATA = HERE.parents[1] / "shared" / "data"
SETS = {"mp20": "mp20/dev_1000.csv.gz", "mp21_40": "mp21_40/dev_300.csv.gz", "qmof": "qmof/dev_140.csv.gz"}


def _structures(data: Path, relative: str, n: int | None = None):
    import pandas as pd
    from pymatgen.core import Structure

    table = pd.read_csv(data / relative, keep_default_na=False)
    cifs = list(table.cif)[:n]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [Structure.from_str(c, fmt="cif") for c in cifs]


def worker(task: str, data: Path, payload: Path | None) -> dict:
    """Run one task with whichever ``slices`` is first on the path; return JSON-able results."""
    import slices

    if task == "strings":
        import pandas as pd

        out: dict = {"reference": []}
        for s in pd.read_csv(data / "slices_reference/mp20_nonmetal_slices_1432.csv.gz", keep_default_na=False).SLICES:
            out["reference"].append(slices.canonical(s))
        for name, relative in SETS.items():
            out[name] = []
            for structure in _structures(data, relative):
                try:
                    out[name].append(slices.encode(structure))
                except slices.SlicesError as exc:
                    out[name].append("refused: " + getattr(exc, "reason", type(exc).__name__))
        return out
    if task == "throughput":
        structures = _structures(data, SETS["mp20"], 200)
        slices.encode(structures[0])
        start = time.perf_counter()
        for structure in structures:
            slices.encode(structure)
        return {"per_second": len(structures) / (time.perf_counter() - start)}
    if task == "large":
        cases = json.loads(payload.read_text())
        out = {}
        for name, string in cases.items():
            start = time.perf_counter()
            canonical = slices.canonical(string)
            out[name] = {"seconds": time.perf_counter() - start, "canonical": canonical}
        return out
    raise SystemExit(f"unknown task {task}")


def run(checkout: Path, task: str, data: Path, payload: Path | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", task, "--data", str(data)]
    if payload is not None:
        command += ["--payload", str(payload)]
    done = subprocess.run(command, env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def large_cases(data: Path) -> dict[str, str]:
    sys.path.insert(0, str(HERE))
    from bench_codec import _large_graphs

    keep = ("NaCl conventional x64 (512)", "NaCl conventional x125 (1000)", "Si conventional x125 (1000)")
    return {name: graph.to_string() for name, (graph, _) in _large_graphs(data, 0).items() if name in keep}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="checkout of the earlier version")
    parser.add_argument("--label", default="before")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--worker")
    parser.add_argument("--payload", type=Path)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.payload)))
        return
    versions = {"before": args.before.resolve(), "after": ROOT}
    import numpy as np

    strings = {v: run(path, "strings", args.data) for v, path in versions.items()}
    identical = {}
    for key in strings["before"]:
        pairs = [(b, a) for b, a in zip(strings["before"][key], strings["after"][key]) if not b.startswith("refused")]
        identical[key] = {"compared": len(pairs), "identical": sum(b == a for b, a in pairs)}
    refused = {
        v: {key: dict(Counter(s.split(": ")[1] for s in strings[v][key] if s.startswith("refused"))) for key in SETS}
        for v in versions
    }
    throughput = {v: [] for v in versions}
    for _ in range(args.passes):
        for v, path in versions.items():
            throughput[v].append(run(path, "throughput", args.data)["per_second"])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(large_cases(args.data), handle)
    large = {v: run(path, "large", args.data, Path(handle.name)) for v, path in versions.items()}
    os.unlink(handle.name)
    result = {
        "label": args.label,
        "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "load_average_1min_at_end": os.getloadavg()[0],
        "identical_strings": identical,
        "refused": refused,
        "encode_per_second_runs": throughput,
        "encode_per_second_median": {v: float(np.median(r)) for v, r in throughput.items()},
        "large_cell_seconds": {v: {k: r["seconds"] for k, r in large[v].items()} for v in versions},
        "large_cell_identical": {
            k: large["before"][k]["canonical"] == large["after"][k]["canonical"] for k in large["after"]
        },
    }
    out = HERE / "results" / "codec_compare.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "encode_per_second_runs"}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
