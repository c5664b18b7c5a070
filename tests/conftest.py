"""Fixtures shared by several test modules."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def one_torch_thread():
    """Run the test with torch on one thread (as the project's workers do), restoring the caller's count after."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def shared_models():
    """``$SLICES_MODEL_DIR`` for a module of tests that load matgl models: the caller's value, else the shared model
    folder for the module's duration; the module is skipped when neither exists. Yields the folder."""
    from relax.models import MODEL_DIR_ENV
    from shared_paths import MODEL_DIR

    if os.environ.get(MODEL_DIR_ENV):
        yield os.environ[MODEL_DIR_ENV]
        return
    if not MODEL_DIR.is_dir():
        pytest.skip(f"no matgl models: set {MODEL_DIR_ENV} (looked for {MODEL_DIR})")
    os.environ[MODEL_DIR_ENV] = str(MODEL_DIR)
    yield str(MODEL_DIR)
    del os.environ[MODEL_DIR_ENV]
