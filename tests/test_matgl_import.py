"""matgl imported without its training stack: a fresh interpreter, the real matgl and lightning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys
from relax.matgl_import import import_matgl
matgl = import_matgl()
assert "lightning" not in sys.modules and "torchmetrics" not in sys.modules, "training stack imported"
from matgl.layers import MLP  # inference modules import as usual
assert "lightning" not in sys.modules
from matgl.utils.training import PotentialLightningModule  # first use: the real module
import matgl.utils.training as real
assert "lightning" in sys.modules
assert real.PotentialLightningModule is PotentialLightningModule
assert matgl.MGLPotentialTrainer is real.MGLPotentialTrainer and isinstance(real.MGLPotentialTrainer, type)
assert matgl.utils.training is real
print("ok")
"""


@pytest.mark.integration
def test_matgl_imports_without_lightning_until_training_is_used():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"
