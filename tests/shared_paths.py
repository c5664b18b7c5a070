"""Where the tests find the shared data sets and the matgl model folders: one place for every test module.

The data folder is the project's own answer (:func:`periodicnet.resources.shared_data_dir`: ``$SLICES_SHARED_DATA``,
else ``../shared/data`` beside the checkout); the model folder is ``$SLICES_MODEL_DIR``, else ``../shared/models``.
Where neither exists the paths still point somewhere (a missing folder), so the modules' skip markers decide.
"""

from __future__ import annotations

import os
from pathlib import Path

from periodicnet.resources import DataNotFoundError, shared_data_dir
from relax.models import MODEL_DIR_ENV

ROOT = Path(__file__).resolve().parents[1]

try:
    SHARED_DATA = shared_data_dir()
except DataNotFoundError:
    SHARED_DATA = ROOT.parent / "shared" / "data"

MODEL_DIR = Path(os.environ.get(MODEL_DIR_ENV) or ROOT.parent / "shared" / "models")


def use_shared_models() -> None:
    """Point ``$SLICES_MODEL_DIR`` at the shared model folder unless the caller has set it."""
    os.environ.setdefault(MODEL_DIR_ENV, str(MODEL_DIR))
