"""Scratch: tight GFN-FF (cell converged), versions; then potential with fixed cell / free cell."""
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
from relax.refine import refine, calculator
from periodicnet.elements import ATOMIC_NUMBER
from gfnff import ase_calculator
_orig = ase_calculator.GFNFF.__init__
VERSION = {"v": None}
def _init(self, *a, **k):
    if VERSION["v"]:
        k.setdefault("version", VERSION["v"])
    _orig(self, *a, **k)
ase_calculator.GFNFF.__init__ = _init
n = int(sys.argv[1]); seed = int(sys.argv[2]); skip = int(sys.argv[3]) if len(sys.argv) > 3 else 0
L = StructureMatcher(primitive_cell=True, scale=True, attempt_supercell=False, ltol=0.3, stol=0.5, angle_tol=10)
S = StructureMatcher(primitive_cell=True, scale=True, attempt_supercell=False)
def cpu():
    c = resource.getrusage(resource.RUSAGE_CHILDREN); return time.process_time() + c.ru_utime + c.ru_stime
def m(orig, s): return [bool(L.fit(orig, s)), bool(S.fit(orig, s)), round(s.volume / len(s), 2)]
def fixed_cell(numbers, cell, frac):
    from ase import Atoms
    from ase.optimize import FIRE
    a = Atoms(numbers=numbers, cell=cell, scaled_positions=frac, pbc=True); a.calc = calculator()
    FIRE(a, logfile=None).run(fmax=0.1, steps=150)
    return np.asarray(a.cell), a.get_scaled_positions(), a.get_potential_energy() / len(a)
out = open("/work/recon_scratch/gfnff_probe2.jsonl", "a")
for task in select("qmof", n, seed)[skip:]:
    orig = Structure.from_str(task["cif"], fmt="cif")
    try:
        g = slices.parse(slices.encode(orig))
    except slices.SlicesError as e:
        print(task["id"], "encode", e, flush=True); continue
    numbers = np.array([ATOMIC_NUMBER[s] for s in g.species])
    targets = np.array([bond_length(g.species[i], g.species[j]) for i, j in g.edges.tolist()])
    cell, frac = place(g.species, g.edges, g.images)
    rec = {"id": task["id"], "formula": orig.composition.reduced_formula, "v0": round(orig.volume / len(orig), 2)}
    rec["place"] = m(orig, Structure(cell, g.species, frac))
    for ver in ("default", "mcgfnff2023"):
        VERSION["v"] = None if ver == "default" else ver
        c0 = cpu()
        try:
            c2, f2, e = gfnff_stage.gfnff_relax(numbers, cell, frac, g.edges, g.images, targets, time_limit=900, fmax=0.02, steps=600)
        except Exception as exc:
            rec[ver] = str(exc)[:100]; rec[ver + "_cpu"] = round(cpu() - c0, 2); continue
        rec[ver + "_cpu"] = round(cpu() - c0, 2)
        rec[ver] = m(orig, Structure(c2, g.species, np.mod(f2, 1)))
        c3, f3, e3 = fixed_cell(numbers, c2, f2)
        rec[ver + "_pot_fixedcell"] = m(orig, Structure(c3, g.species, f3)) + [round(float(e3), 4)]
        c3, f3, e3, st = refine(numbers, c2, f2)
        rec[ver + "_pot_free"] = m(orig, Structure(c3, g.species, f3)) + [round(float(e3), 4), st]
    print(json.dumps(rec), flush=True); out.write(json.dumps(rec) + "\n"); out.flush()
