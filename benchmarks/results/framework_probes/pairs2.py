import sys, warnings, numpy as np; warnings.filterwarnings("ignore"); sys.path.insert(0, "/work/recon")
from collections import defaultdict
from pymatgen.core import Structure
from benchmarks.bench_reconstruction_vs_reference import select
from slices.encode import structure_graph
from relax.targets import edge_targets
from relax.bondtable import bond_length
ratio_new = defaultdict(list); ratio_old = defaultdict(list); changed = 0; crystals = 0
for t in select(sys.argv[1], int(sys.argv[2]), 0):
    s = Structure.from_str(t["cif"], fmt="cif")
    g = structure_graph(s, reduce=False)
    f = s.frac_coords
    L = np.linalg.norm((f[g.edges[:, 1]] + g.images - f[g.edges[:, 0]]) @ s.lattice.matrix, axis=1)
    new = edge_targets(g.species, g.edges)
    old = np.array([bond_length(g.species[i], g.species[j]) for i, j in g.edges.tolist()])
    ch = ~np.isclose(new, old); changed += ch.sum(); crystals += ch.any()
    for (i, j), l, a, b, c in zip(g.edges.tolist(), L, new, old, ch):
        if c:
            k = "-".join(sorted((g.species[i], g.species[j]))); ratio_new[k].append(l / a); ratio_old[k].append(l / b)
print("edges changed", changed, "crystals", crystals)
for k in ratio_new:
    print(k, len(ratio_new[k]), "old median ratio %.3f new %.3f  new p10 %.3f p90 %.3f" % (np.median(ratio_old[k]), np.median(ratio_new[k]), np.percentile(ratio_new[k], 10), np.percentile(ratio_new[k], 90)))
