"""Round trip with the reference implementation (PyPI ``slices`` 2.0.12), run inside ITS OWN scratch venv.

Never imported by the project and never a dependency of it: ``bench_reconstruction_vs_reference.py`` starts it as a
subprocess with the reference venv's interpreter. Reads tasks (JSON lines ``{"id", "cif"}``), appends one JSON line
per crystal to the output file (resumable: ids already there are skipped):
``{"id", "encoded", "error", "encode_s", "decode_s", "cpu_s", "cif", "energy_per_atom"}``; the reconstructed structure is
returned as a CIF so that the benchmark matches both sides with the same pymatgen.

    /work/refvenv/bin/python benchmarks/reference_driver.py TASKS.jsonl OUT.jsonl

Time limits are the reference's own (it arms SIGALRM around its potential relaxation: 360 s, more for large cells).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
             "TF_NUM_INTEROP_THREADS"):
    os.environ[_var] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


def _cpu() -> float:
    """CPU seconds of this process (all threads) plus its finished children (the reference runs xtb as one)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks")
    parser.add_argument("out")
    args = parser.parse_args()

    import warnings

    warnings.filterwarnings("ignore")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from pymatgen.core import Structure
    from slices.core import SLICES

    backend = SLICES(relax_model="m3gnet")
    done = set()
    if os.path.exists(args.out):
        with open(args.out) as handle:
            done = {json.loads(line)["id"] for line in handle if line.strip()}
    with open(args.tasks) as handle:
        tasks = [json.loads(line) for line in handle if line.strip()]
    # warm up (model loading, graph tracing) outside the timed region, on the first task
    if tasks:
        try:
            first = Structure.from_str(tasks[0]["cif"], fmt="cif")
            backend.SLICES2structure(backend.structure2SLICES(first))
        except Exception:  # noqa: BLE001 - the reference's own failures are recorded per crystal below
            pass
    for task in tasks:
        if task["id"] in done:
            continue
        record = {"id": task["id"], "encoded": False, "error": None, "encode_s": None, "decode_s": None,
                  "cpu_s": None, "cif": None, "energy_per_atom": None}
        structure = Structure.from_str(task["cif"], fmt="cif")
        try:
            t0, c0 = time.perf_counter(), _cpu()
            string = backend.structure2SLICES(structure)
            record["encode_s"] = time.perf_counter() - t0
            record["encoded"] = True
            t0 = time.perf_counter()
            rebuilt, energy = backend.SLICES2structure(string)
            record["decode_s"] = time.perf_counter() - t0
            record["cpu_s"] = _cpu() - c0
            record["cif"] = rebuilt.to(fmt="cif")
            record["energy_per_atom"] = float(energy)
        except Exception as exc:  # noqa: BLE001 - the reference's failures are the measurement
            record["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        with open(args.out, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        print(task["id"], "ok" if record["cif"] else record["error"], flush=True, file=sys.stderr)


if __name__ == "__main__":
    main()
