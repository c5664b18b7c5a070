"""Scratch: GFN-FF variants on frameworks with a long time limit; potential from GFN-FF's result; matches."""
import json, os, sys, time, resource, warnings
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, "/work/recon")
warnings.filterwarnings("ignore")
import numpy as np
import torch; torch.set_num_threads(1)
from pymatgen.core import Structure
from pymatgen.analysis.structure_matcher import StructureMatcher
import slices
from benchmarks.bench_reconstruction_vs_reference import select
from relax import gfnff_stage
from relax.placement import place
from relax.bondtable import bond_length
from relax.refine import refine
from periodicnet.elements import ATOMIC_NUMBER

version = sys.argv[1] if len(sys.argv) > 1 else "default"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 6
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
if version != "default":
    from gfnff import ase_calculator
    _orig = ase_calculator.GFNFF.__init__
    def _init(self, *a, **k):
        k.setdefault("version", version)
        _orig(self, *a, **k)
    ase_calculator.GFNFF.__init__ = _init
L = StructureMatcher(primitive_cell=True, scale=True, attempt_supercell=False, ltol=0.3, stol=0.5, angle_tol=10)
S = StructureMatcher(primitive_cell=True, scale=True, attempt_supercell=False)
def cpu():
    c = resource.getrusage(resource.RUSAGE_CHILDREN); return time.process_time() + c.ru_utime + c.ru_stime
out = open(f"/work/recon_scratch/gfnff_probe_{version}.jsonl", "a")
for task in select("qmof", n, seed):
    orig = Structure.from_str(task["cif"], fmt="cif")
    try:
        g = slices.parse(slices.encode(orig))
    except slices.SlicesError as e:
        print(task["id"], "encode", e); continue
    numbers = np.array([ATOMIC_NUMBER[s] for s in g.species])
    targets = np.array([bond_length(g.species[i], g.species[j]) for i, j in g.edges.tolist()])
    cell, frac = place(g.species, g.edges, g.images)
    rec = {"id": task["id"], "formula": orig.composition.reduced_formula, "v0": orig.volume / len(orig)}
    s1 = Structure(cell, g.species, frac)
    rec["place"] = [L.fit(orig, s1), S.fit(orig, s1), s1.volume / len(s1)]
    c0, t0 = cpu(), time.time()
    try:
        c2, f2, e = gfnff_stage.gfnff_relax(numbers, cell, frac, g.edges, g.images, targets, time_limit=900)
        s2 = Structure(c2, g.species, np.mod(f2, 1))
        rec["gfnff"] = [L.fit(orig, s2), S.fit(orig, s2), s2.volume / len(s2)]
    except Exception as exc:
        rec["gfnff"] = str(exc)[:120]; c2 = None
    rec["gfnff_cpu"] = cpu() - c0; rec["gfnff_wall"] = time.time() - t0
    for name, (cc, ff) in {"place": (cell, frac), "gfnff": (c2, f2 if c2 is not None else None)}.items():
        if cc is None: continue
        t0 = time.process_time()
        c3, f3, e3, st = refine(numbers, cc, ff)
        s3 = Structure(c3, g.species, f3)
        rec[f"pot_from_{name}"] = [L.fit(orig, s3), S.fit(orig, s3), s3.volume / len(s3), e3, st, time.process_time() - t0]
    print(json.dumps(rec, default=lambda o: o.item() if hasattr(o, "item") else str(o)), flush=True); out.write(json.dumps(rec, default=lambda o: o.item() if hasattr(o, "item") else str(o)) + "\n"); out.flush()
