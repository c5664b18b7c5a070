import os, sys, time, warnings, json
sys.path.insert(0, "/work/recon"); warnings.filterwarnings("ignore")
import numpy as np, torch; torch.set_num_threads(1)
from pymatgen.core import Structure
import slices
from benchmarks.bench_reconstruction_vs_reference import select
from relax.placement import place
from relax.refine import refine, calculator
from periodicnet.elements import ATOMIC_NUMBER
calculator()
tot = []
for task in select("mp20", 12, 5):
    orig = Structure.from_str(task["cif"], fmt="cif")
    t0 = time.process_time(); g = slices.parse(slices.encode(orig)); te = time.process_time() - t0
    numbers = np.array([ATOMIC_NUMBER[s] for s in g.species])
    t0 = time.process_time(); cell, frac = place(g.species, g.edges, g.images); tp = time.process_time() - t0
    from ase import Atoms
    a = Atoms(numbers=numbers, cell=cell, scaled_positions=frac, pbc=True); a.calc = calculator()
    t0 = time.process_time()
    for _ in range(10):
        a.rattle(0.001); a.get_forces(); a.get_stress()
    tcall = (time.process_time() - t0) / 10
    t0 = time.process_time()
    import relax.refine as R
    from relax.potential import cell_filter, make_optimizer
    a2 = Atoms(numbers=numbers, cell=cell, scaled_positions=frac, pbc=True); a2.calc = calculator()
    f = cell_filter(a2); opt = make_optimizer("FIRE", f); opt.run(fmax=float(sys.argv[1]), steps=150)
    tr = time.process_time() - t0
    print(task["id"], len(g.species), f"enc {te:.3f} place {tp:.3f} call {tcall:.4f} relax {tr:.2f} steps {opt.nsteps}", flush=True)
