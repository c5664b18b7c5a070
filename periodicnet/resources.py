"""Where the project finds its files: data shipped inside the installed package, and the shared data sets.

- **Shipped data** (the generative model, the hull reference table): the repository's ``data/`` folder, installed as
  the package ``crystal_slices_data`` (``pyproject.toml`` maps the package onto that folder), so a wheel carries
  it and an editable install reads the folder in place; a source checkout whose install predates that mapping
  reads the folder directly. :func:`shipped_data_path` finds a file in it.
- **Shared data** (MP-20 and the other development sets, never copied into the repository): ``$SLICES_SHARED_DATA``,
  else the ``shared/data`` folder beside a source checkout (``../shared/data``). :func:`shared_data_path` finds a
  file in it.

Model weights for the matgl potentials are not data of this kind: :mod:`relax.models` finds them
(``$SLICES_MODEL_DIR``, then matgl's hub).
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from periodicnet.errors import SlicesError

DATA_PACKAGE = "crystal_slices_data"
"""The import name of the repository's ``data/`` folder once installed."""

SHARED_DATA_ENV = "SLICES_SHARED_DATA"
"""The environment variable naming the shared data folder."""

_CHECKOUT = Path(__file__).resolve().parents[1]


class DataNotFoundError(SlicesError):
    """A data file the project needs is not where it is looked for (the message says where, and what to set)."""


def shipped_data_path(relative: str) -> Path:
    """The file ``relative`` (e.g. ``"model/slices_gpt.pt"``) of the shipped data package, as a filesystem path.

    The path is returned whether or not the file exists (callers say what is missing); a data package that is not
    a folder on disk (an import from a zip archive) raises :class:`DataNotFoundError`.
    """
    try:
        root = files(DATA_PACKAGE)
    except ModuleNotFoundError:
        if not (_CHECKOUT / "pyproject.toml").is_file():
            raise DataNotFoundError(f"the data package {DATA_PACKAGE} is missing; reinstall crystal-slices") from None
        root = _CHECKOUT / "data"  # a source checkout installed before data/ became a package
    if not isinstance(root, Path):
        raise DataNotFoundError(f"the data package {DATA_PACKAGE} is not installed as a folder on disk ({root})")
    return root.joinpath(relative)


def shared_data_dir() -> Path:
    """The shared data folder: ``$SLICES_SHARED_DATA``, else ``../shared/data`` beside a source checkout.

    Raises :class:`DataNotFoundError` when the variable is unset and the project does not run from a checkout
    that has that folder beside it (an installed wheel), naming the variable to set.
    """
    value = os.environ.get(SHARED_DATA_ENV)
    if value:
        return Path(value)
    beside_checkout = _CHECKOUT.parent / "shared" / "data"
    if (_CHECKOUT / "pyproject.toml").is_file() and beside_checkout.is_dir():
        return beside_checkout
    raise DataNotFoundError(f"the shared data folder is unknown: set {SHARED_DATA_ENV} to it")


def shared_data_path(relative: str) -> Path:
    """The file ``relative`` (e.g. ``"mp20/train_pool.csv.gz"``) of the shared data folder (see
    :func:`shared_data_dir`); returned whether or not the file exists."""
    return shared_data_dir() / relative
