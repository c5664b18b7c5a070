import sys, warnings, numpy as np; warnings.filterwarnings("ignore"); sys.path.insert(0, "/work/recon")
from collections import defaultdict
from pymatgen.core import Structure
from benchmarks.bench_reconstruction_vs_reference import select
from slices.encode import structure_graph
from relax.bondtable import bond_length, in_table
import slices
ratio = defaultdict(list); refused = 0
for t in select(sys.argv[1], 0, 0):
    s = Structure.from_str(t["cif"], fmt="cif")
    try: slices.encode(s)
    except slices.SlicesError: refused += 1
    g = structure_graph(s, reduce=False)
    f = s.frac_coords
    d = f[g.edges[:, 1]] + g.images - f[g.edges[:, 0]]
    L = np.linalg.norm(d @ s.lattice.matrix, axis=1)
    for (i, j), l in zip(g.edges.tolist(), L):
        a, b = sorted((g.species[i], g.species[j])); ratio[f"{a}-{b}"].append(l / bond_length(a, b))
print("refused", refused)
rows = sorted(ratio.items(), key=lambda kv: -len(kv[1]))
for k, v in rows[:25]:
    a, b = k.split("-")
    print(f"{k:8} n={len(v):5} target {bond_length(a, b):.3f} in_table {in_table(a, b)} median ratio {np.median(v):.3f}  p10 {np.percentile(v, 10):.3f} p90 {np.percentile(v, 90):.3f}")
