"""Where data is found (periodicnet.resources), the variables the README names, and (slow) the built wheel: installed
in a fresh virtual environment outside the source tree, it runs ``slices generate`` with the shipped model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from periodicnet import resources
from periodicnet.errors import SlicesError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("periodicnet", "relax", "slices", "generative", "pipeline")
_VARIABLE = re.compile(r"\bSLICES_[A-Z_]*[A-Z]\b")


def test_shipped_data_is_found_by_every_package():
    from generative.checkpoint import DEFAULT_MODEL
    from screening.formation import SHIPPED_REFERENCES

    assert DEFAULT_MODEL == resources.shipped_data_path("model/slices_gpt.pt")
    assert DEFAULT_MODEL.is_file() and DEFAULT_MODEL.stat().st_size > 1_000_000
    assert SHIPPED_REFERENCES == resources.shipped_data_path("elemental_references.json")
    assert SHIPPED_REFERENCES.is_file()


def test_shared_data_follows_the_variable(monkeypatch, tmp_path):
    from screening.known import default_train_data

    monkeypatch.delenv("SLICES_TRAIN_DATA", raising=False)
    monkeypatch.setenv(resources.SHARED_DATA_ENV, str(tmp_path))
    assert resources.shared_data_dir() == tmp_path
    assert default_train_data() == tmp_path / "mp20" / "train_pool.csv.gz"
    assert resources.shared_data_path("mp20/dev_1000.csv.gz") == tmp_path / "mp20" / "dev_1000.csv.gz"


def test_without_the_variable_a_checkout_uses_the_folder_beside_it(monkeypatch, tmp_path):
    monkeypatch.delenv(resources.SHARED_DATA_ENV, raising=False)
    checkout = tmp_path / "repo"
    checkout.mkdir()
    monkeypatch.setattr(resources, "_CHECKOUT", checkout)
    with pytest.raises(resources.DataNotFoundError, match=resources.SHARED_DATA_ENV) as info:
        resources.shared_data_dir()  # not a checkout (no pyproject.toml), nothing beside it
    assert isinstance(info.value, SlicesError)
    (checkout / "pyproject.toml").write_text("")
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert resources.shared_data_dir() == tmp_path / "shared" / "data"


def _variables_in(paths) -> set[str]:
    return {name for path in paths for name in _VARIABLE.findall(path.read_text())}


def test_readme_and_code_name_the_same_variables():
    code = _variables_in(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))
    readme = _variables_in([ROOT / "README.md"])
    users = _variables_in([*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "tests").glob("*.py")])
    assert code - readme == set(), "variables the code reads that the README does not name"
    assert readme - code - users == set(), "variables the README names that nothing reads"


def _python_with_warnings_as_errors(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, cwd=ROOT)


def test_only_pymatgens_noble_gas_warning_is_silenced():
    formula = "from pymatgen.core import Composition; Composition('NeNa2').reduced_formula"
    bare = _python_with_warnings_as_errors(formula)
    assert bare.returncode != 0 and "No Pauling electronegativity for Ne" in bare.stderr  # pymatgen does warn
    assert _python_with_warnings_as_errors("import slices; " + formula).returncode == 0
    other = _python_with_warnings_as_errors("import slices, warnings; warnings.warn('No Pauling data', UserWarning)")
    assert other.returncode != 0 and "No Pauling data" in other.stderr  # nothing broader is filtered


# --- the wheel (slow: builds it and installs its dependencies into a fresh virtual environment) -------------------


def _run(command: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def _git_files(folder: str) -> list[str]:
    listed = subprocess.run(["git", "ls-files", folder], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: cannot list the tracked data files")
    return listed.stdout.split()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "--quiet", "-w", out])
    (path,) = out.glob("crystal_slices-*.whl")
    return path


@pytest.mark.slow
def test_wheel_holds_every_module_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = [f for f in _git_files(".") if f.split("/")[0] in PACKAGES and f.endswith(".py")]
    data = [f for f in _git_files("data") if not f.endswith(".py")]
    assert modules and data
    missing = [f for f in modules if f not in names]
    missing += [f for f in data if "crystal_slices_data/" + f.removeprefix("data/") not in names]
    assert not missing, f"files of the repository absent from the wheel: {missing}"


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_runs_generate_from_another_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    _run([python, "-m", "pip", "install", "--quiet", wheel], cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.setdefault("SLICES_MODEL_DIR", str(ROOT.parent / "shared" / "models"))
    env.setdefault(resources.SHARED_DATA_ENV, str(ROOT.parent / "shared" / "data"))
    if not Path(env["SLICES_MODEL_DIR"]).is_dir() or not Path(env[resources.SHARED_DATA_ENV]).is_dir():
        pytest.skip("the matgl models or the shared data are not present (set SLICES_MODEL_DIR, SLICES_SHARED_DATA)")

    where = _run([python, "-c", "import generative.checkpoint as c, pipeline; print(pipeline.__file__); "
                  "print(c.DEFAULT_MODEL)"], cwd=elsewhere, env=env).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), f"not loaded from the fresh venv: {where}"

    out = elsewhere / "run"
    result = _run([venv / "bin" / "slices", "generate", "--n", "2", "--workers", "1", "--no-progress",
                   "--out", out], cwd=elsewhere, env=env)
    table = pd.read_csv(out / "candidates.csv", keep_default_na=False)
    assert len(table) == 2
    assert (out / "report.md").is_file()
    assert "report-data" in (out / "report.html").read_text()  # its script and style come from the wheel
    assert "Warning" not in result.stderr, result.stderr
