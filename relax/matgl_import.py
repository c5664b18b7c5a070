"""Import matgl without its training stack (lightning, torchmetrics), which inference never uses.

matgl 4.x's ``__init__`` imports ``matgl.utils.training`` to re-export two training entry points at the top level,
and that module imports lightning and torchmetrics: about 2.6 s of the 7 s a fresh process spends importing matgl,
paid again by every decode worker of ``slices generate`` (measured in ``benchmarks/RESULTS.md``, "slices generate:
where the time goes"). :func:`import_matgl` puts a stand-in for ``matgl.utils.training`` in place while matgl is
imported; the real module is imported the first time anything uses it (an attribute of the stand-in,
``matgl.MGLPotentialTrainer(...)``, ``matgl.MGLDatasetLoader(...)``), so training code keeps working unchanged.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types

TRAINING = "matgl.utils.training"
_DEFERRED_NAMES = ("MGLDatasetLoader", "MGLPotentialTrainer")  # what matgl/__init__.py imports from it
_lock = threading.RLock()  # re-entrant: importing matgl may reach the stand-in


def _real_training() -> types.ModuleType:
    """The real ``matgl.utils.training``, imported now if only the stand-in is there."""
    with _lock:
        module = sys.modules.get(TRAINING)
        if isinstance(module, _Deferred):
            del sys.modules[TRAINING]
            module = importlib.import_module(TRAINING)
            matgl = sys.modules.get("matgl")
            for name in _DEFERRED_NAMES:  # the top-level re-exports become the real ones
                if matgl is not None and getattr(matgl, name, None) is getattr(_STAND_IN, name, None):
                    setattr(matgl, name, getattr(module, name))
            utils = sys.modules.get("matgl.utils")
            if utils is not None:
                utils.training = module
        return module


class _Deferred(types.ModuleType):
    """The stand-in: any attribute it does not hold imports the real module and is read from it."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_training(), name)


def _forwarder(name: str):
    def deferred(*args, **kwargs):
        return getattr(_real_training(), name)(*args, **kwargs)

    deferred.__name__ = deferred.__qualname__ = name
    deferred.__doc__ = f"matgl's {name}, imported on first use (relax.matgl_import)."
    return deferred


_STAND_IN = _Deferred(TRAINING, "matgl's training entry points, imported on first use (relax.matgl_import)")
for _name in _DEFERRED_NAMES:
    setattr(_STAND_IN, _name, _forwarder(_name))


def import_matgl() -> types.ModuleType:
    """``matgl``, imported (once per process) without importing its training stack until something uses it."""
    with _lock:
        if "matgl" not in sys.modules and TRAINING not in sys.modules:
            sys.modules[TRAINING] = _STAND_IN
            try:
                importlib.import_module("matgl")
            except BaseException:
                if sys.modules.get(TRAINING) is _STAND_IN:
                    del sys.modules[TRAINING]
                raise
    return importlib.import_module("matgl")
