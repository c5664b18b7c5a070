"""Run the notebooks top to bottom with nbclient (small settings via SLICES_NOTEBOOK_N, SLICES_NOTEBOOK_ROUNDS), as CI does."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from shared_paths import MODEL_DIR

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks_are_stored_without_outputs():
    assert [p.name for p in NOTEBOOKS] == ["01_encode_decode.ipynb", "02_inverse_design_narrow_gap.ipynb"]
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        for cell in book.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has stored outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    monkeypatch.setenv("SLICES_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("SLICES_NOTEBOOK_ROUNDS", "2")  # notebook 02: two small design rounds
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("SLICES_MODEL_DIR", str(MODEL_DIR))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(book, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError with the failing cell's traceback
    elapsed = time.perf_counter() - start
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the notebook drew no figure"
    print(f"{path.name}: {elapsed:.0f} s with python {sys.version.split()[0]}")
