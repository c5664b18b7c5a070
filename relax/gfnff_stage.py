"""Stage 2: periodic GFN-FF geometry optimisation (the ``gfnff`` package), isolated in a child process.

The ``gfnff`` 0.3.1 library corrupts its heap or segfaults on many ionic crystals (see
``/work/shared/models/README.md`` and ``docs/reconstruction.md``), taking the whole Python process with it. So each
optimisation runs in a forked child with its own temporary working directory (the library writes ``gfnff_topo``
files into the current directory) and its stdout/stderr silenced; a child that dies is reported as
``gfnff_crashed``, one that overruns its time limit is killed and reported as ``gfnff_failed``.

The child is forked while torch (if the caller has loaded it: the potential, the property models) runs on one
thread: a child forked from a process whose torch has started its OpenMP thread pool hangs in GFN-FF (measured:
every such child ran into its wall limit). The caller's thread count is restored right after the fork.

GFN-FF sets up its bonded topology from the starting (stage-1) geometry, which the graph already defines; the
:class:`~relax.restraint.GraphRestraint` springs are added so the optimisation cannot stretch the graph's bonds
apart, and the result is checked against the graph before it is accepted.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import signal
import sys
import tempfile
import traceback
from contextlib import contextmanager

import numpy as np

from periodicnet.graph import bond_vectors
from periodicnet.limits import GFNFF_TIME_LIMIT, MAX_BOND_STRETCH
from relax.driver import RelaxSettings
from relax.errors import RelaxError

SETTINGS = RelaxSettings(optimizer="FIRE", fmax=0.1, steps=200)
"""GFN-FF's relaxation: a rough pre-relaxation for the potential (convergence is not required; the graph check
below decides whether the result is used)."""
RESTRAINT = {"k": 5.0, "stretch": 1.2}
WALL_FACTOR = 3.0
"""Default wall-time safety net, in multiples of the CPU budget: a child that hangs (uses no CPU) is killed after it."""


def _child(conn, workdir, numbers, cell, frac, edges, images, targets, settings, cpu_limit):
    """Runs in the forked child: relax, send ``("ok", cell, frac, energy, nsteps)``, ``("guard", text)`` when a
    guard of the driver stopped it, or ``("error", text)``. The kernel ends it (SIGXCPU) after ``cpu_limit`` CPU
    seconds, so the budget does not depend on how loaded the machine is."""
    try:
        limit = max(1, math.ceil(cpu_limit))
        resource.setrlimit(resource.RLIMIT_CPU, (limit, limit + 1))
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.chdir(workdir)
        from ase import Atoms
        from ase.calculators.mixing import SumCalculator
        from gfnff.ase_calculator import GFNFF

        from relax.driver import RelaxationError, relax_atoms
        from relax.restraint import GraphRestraint

        atoms = Atoms(numbers=numbers, cell=cell, scaled_positions=frac, pbc=True)
        atoms.calc = SumCalculator([GFNFF(), GraphRestraint(edges, images, targets, **RESTRAINT)])
        try:
            run = relax_atoms(atoms, settings)
        except RelaxationError as exc:  # collapsed or exploded cell, non-finite numbers: stopped before evaluating
            conn.send(("guard", str(exc)))
            return
        conn.send(("ok", np.asarray(atoms.cell), atoms.get_scaled_positions(wrap=False), run.energy, run.steps))
    except BaseException:  # report anything the library raises instead of dying silently
        conn.send(("error", traceback.format_exc(limit=3)))
    finally:
        conn.close()
        os._exit(0)


def gfnff_relax(
    numbers,
    cell: np.ndarray,
    frac: np.ndarray,
    edges: np.ndarray,
    images: np.ndarray,
    targets: np.ndarray,
    *,
    settings: RelaxSettings = SETTINGS,
    time_limit: float = GFNFF_TIME_LIMIT,
    wall_limit: float | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Relax positions and cell with periodic GFN-FF plus graph restraints (:func:`relax.driver.relax_atoms`
    under ``settings``); return ``(cell, frac, energy_eV)``.

    ``time_limit`` is the child's CPU seconds; ``wall_limit`` (default :data:`WALL_FACTOR` x ``time_limit``) the wall
    seconds after which it is killed anyway. Raises :class:`RelaxError` with reason ``gfnff_crashed`` (the child process died), or
    ``gfnff_failed`` (an error inside GFN-FF, a time limit, a guard of the driver, or a result whose bonds no longer
    match the graph).
    """
    wall_limit = WALL_FACTOR * time_limit if wall_limit is None else wall_limit
    with tempfile.TemporaryDirectory(prefix="gfnff_") as workdir:  # removed even when the child crashes
        return _run_child(workdir, numbers, cell, frac, edges, images, targets, settings, time_limit, wall_limit)


@contextmanager
def _torch_on_one_thread():
    """Run torch (if this process has loaded it) on one thread inside the block, so a fork inherits no OpenMP pool."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _run_child(workdir, numbers, cell, frac, edges, images, targets, settings, time_limit, wall_limit):
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    args = (workdir, np.asarray(numbers), cell, frac, edges, images, targets, settings, time_limit)
    child = ctx.Process(target=_child, args=(send, *args))
    with _torch_on_one_thread():
        child.start()
    send.close()
    try:
        if not receive.poll(wall_limit):
            child.kill()
            child.join()
            raise RelaxError("gfnff_failed", f"GFN-FF did not finish within {wall_limit:.0f} s (wall)")
        try:
            message = receive.recv()
        except EOFError:
            child.join()
            if child.exitcode == -signal.SIGXCPU:
                raise RelaxError("gfnff_failed", f"GFN-FF used up its {time_limit:.0f} CPU seconds") from None
            raise RelaxError(
                "gfnff_crashed", f"the GFN-FF library crashed the worker process (exit code {child.exitcode})"
            ) from None
    finally:
        receive.close()
    child.join(5)
    if child.is_alive():  # pragma: no cover - the child exits right after sending
        child.kill()
        child.join()
    if message[0] == "guard":
        raise RelaxError("gfnff_failed", f"GFN-FF: {message[1]}")
    if message[0] != "ok":
        raise RelaxError("gfnff_failed", f"GFN-FF raised an error: {message[1].strip().splitlines()[-1]}")
    _, new_cell, new_frac, energy, _ = message
    d = bond_vectors(new_frac, edges, images) @ new_cell
    stretch = np.linalg.norm(d, axis=1) / targets
    if stretch.min() < 1 / MAX_BOND_STRETCH:
        k = int(np.argmin(stretch))
        raise RelaxError(
            "gfnff_failed",
            f"GFN-FF crushed the bond graph: bond {k} ({edges[k, 0]}-{edges[k, 1]}) is {stretch[k]:.2f} x its length",
        )
    if stretch.max() > MAX_BOND_STRETCH:
        k = int(np.argmax(stretch))
        raise RelaxError(
            "gfnff_failed",
            f"GFN-FF broke the bond graph: bond {k} ({edges[k, 0]}-{edges[k, 1]}) is {stretch[k]:.2f} x its length",
        )
    return new_cell, new_frac, energy
