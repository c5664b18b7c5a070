import sys, warnings, json, numpy as np; warnings.filterwarnings("ignore"); sys.path.insert(0, "/work/recon"); sys.path.insert(0, "/work/recon_scratch")
from pymatgen.core import Structure
from pymatgen.analysis.structure_matcher import StructureMatcher
from benchmarks.bench_reconstruction_vs_reference import select
import slices
from relax.targets import edge_targets
from placement_proto import place
L = StructureMatcher(primitive_cell=True, scale=True, attempt_supercell=False, ltol=0.3, stol=0.5, angle_tol=10)
S = StructureMatcher(primitive_cell=True, scale=True, attempt_supercell=False)
res = {"old": [0, 0], "new": [0, 0]}; n = 0
for t in select(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])):
    s = Structure.from_str(t["cif"], fmt="cif")
    try: g = slices.parse(slices.encode(s))
    except slices.SlicesError: continue
    n += 1
    for name, tg in (("old", None), ("new", edge_targets(g.species, g.edges))):
        c, f = place(g.species, g.edges, g.images, targets=tg)
        st = Structure(c, g.species, np.mod(f, 1))
        res[name][0] += L.fit(s, st); res[name][1] += S.fit(s, st)
    print(t["id"], n, res, flush=True)
