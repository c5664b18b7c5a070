"""Fixtures shared by several test modules, and the two test tiers.

Tiers: the fast tier (``pytest -m "not integration"``) needs no model, notebook, subprocess pipeline or worker pool; the integration tier (``pytest -m integration``) runs the real engines (matgl models,
GFN-FF, the generative model, notebooks, the command line in subprocesses, process pools, Dask). A test module is
integration when it is listed in :data:`INTEGRATION_MODULES` (every test in it uses a real engine); a test of a mixed
module carries ``@pytest.mark.integration`` itself. ``pytest -q`` runs both tiers (``slow`` tests stay opt-in).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

INTEGRATION_MODULES = {
    "test_decode", "test_decode_contacts", "test_gap_model", "test_generative", "test_generative_sampling",
    "test_generative_training", "test_notebooks", "test_pipeline_executors", "test_pipeline_generate",
    "test_potential", "test_potentials_sevennet", "test_properties", "test_relax_contacts", "test_relax_gfnff",
    "test_relax_reconstruct", "test_reliability_cli", "test_reliability_notebook", "test_reliability_rundir",
    "test_report_html", "test_screening_known", "test_assess_run", "test_dask_cluster",
}


def pytest_collection_modifyitems(config, items):
    """Mark every test of an :data:`INTEGRATION_MODULES` module as ``integration``."""
    for item in items:
        if Path(str(item.fspath)).stem in INTEGRATION_MODULES:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def shared_model_folder():
    """``$SLICES_MODEL_DIR`` for the session: the caller's value, else the shared model folder when it exists
    (set by this fixture, never at import time, and restored afterwards)."""
    from relax.models import MODEL_DIR_ENV
    from shared_paths import MODEL_DIR

    if os.environ.get(MODEL_DIR_ENV) or not MODEL_DIR.is_dir():
        yield os.environ.get(MODEL_DIR_ENV)
        return
    os.environ[MODEL_DIR_ENV] = str(MODEL_DIR)
    yield str(MODEL_DIR)
    os.environ.pop(MODEL_DIR_ENV, None)


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
