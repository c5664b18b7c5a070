"""The package layering, module cycles and the declared dependencies, read from the source with ``ast`` (nothing
is imported).

Floors, bottom to top: periodicnet <- relax <- slices <- {generative, screening} <- pipeline
(``docs/architecture.md``); generative and screening share a floor and never import each other. A package may import
only packages on lower floors; every import counts, those inside functions included, and so does a module named by a
literal string that ``importlib.import_module`` would load. No two modules may import each other, directly or
through others.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import packages_distributions
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {  # package -> the packages it may import (the floors below it)
    "periodicnet": set(),
    "relax": {"periodicnet"},
    "slices": {"relax", "periodicnet"},
    "generative": {"slices", "relax", "periodicnet"},
    "screening": {"slices", "relax", "periodicnet"},
    "pipeline": {"generative", "screening", "slices", "relax", "periodicnet"},
}
FLOORS = tuple(ALLOWED)  # bottom to top
PROJECT_MODULES = set(FLOORS) | {"crystal_slices_data"}
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


@dataclass(frozen=True)
class Import:
    """One import statement: the importing file and line, and the absolute module name imported."""

    path: Path
    line: int
    module: str

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        where = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{where}:{self.line} imports {self.module}"


def _is_project_module(dotted: str) -> bool:
    """True when ``dotted`` names a module file or package of the project (``pipeline.cli.codec``)."""
    parts = dotted.split(".")
    if parts[0] not in FLOORS:
        return False
    base = ROOT.joinpath(*parts)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path, package: str) -> list[Import]:
    """Every module ``path`` imports, anywhere in the file (relative imports resolved within ``package``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside this (flat) package
                found.append(Import(path, node.lineno, package + ("." + node.module if node.module else "")))
            elif node.module != "__future__":
                found.append(Import(path, node.lineno, node.module))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _DOTTED.match(node.value):
            if _is_project_module(node.value):  # a module loaded by name (importlib.import_module)
                found.append(Import(path, node.lineno, node.value))
    return found


def project_imports() -> dict[str, list[Import]]:
    """Package name -> every import in its modules."""
    result = {}
    for package in FLOORS:
        files = sorted((ROOT / package).rglob("*.py"))
        assert files, f"package {package} has no modules under {ROOT}"
        result[package] = [imp for path in files for imp in imports_of(path, package)]
    return result


def upward_imports(imports: dict[str, list[Import]]) -> list[Import]:
    """Imports of a project package that the importer's floor does not allow (its own package aside)."""
    return [
        imp
        for package, found in imports.items()
        for imp in found
        if imp.top in FLOORS and imp.top != package and imp.top not in ALLOWED[package]
    ]


def module_name(path: Path) -> str:
    """The dotted module name of a project file (a package's ``__init__.py`` is the package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_targets(imp: Import, names: list[str]) -> list[str]:
    """The project modules an import statement reaches: the module itself, or the submodules named in a
    ``from package import a, b`` (when they are modules)."""
    targets = [f"{imp.module}.{n}" for n in names if _is_project_module(f"{imp.module}.{n}")]
    return targets or ([imp.module] if _is_project_module(imp.module) or imp.module in FLOORS else [])


def module_graph() -> nx.DiGraph:
    """Project module -> the project modules it imports (inside functions too)."""
    graph = nx.DiGraph()
    for package in FLOORS:
        for path in sorted((ROOT / package).rglob("*.py")):
            here = module_name(path)
            graph.add_node(here)
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for alias in node.names:
                        imp = Import(path, node.lineno, alias.name)
                        graph.add_edges_from((here, t) for t in module_targets(imp, []) if t != here)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imp = Import(path, node.lineno, node.module)
                    names = [alias.name for alias in node.names]
                    graph.add_edges_from((here, t) for t in module_targets(imp, names) if t != here)
    return graph


def test_reader_sees_imports_inside_functions_and_by_name(tmp_path):
    source = (
        "import os\nfrom . import sibling\n"
        "def f():\n    from slices.graph import parse\n    import torch.nn as nn\n"
        "NAMES = ('pipeline.cli.codec', 'not.a.module')\n"
    )
    path = tmp_path / "probe.py"
    path.write_text(source)
    modules = [imp.module for imp in imports_of(path, "relax")]
    assert modules == ["os", "relax", "slices.graph", "torch.nn", "pipeline.cli.codec"]


def test_upward_imports_are_found():
    here = ROOT / "relax" / "__init__.py"
    up = Import(here, 1, "slices.graph")
    down = Import(here, 2, "periodicnet.graph")
    own = Import(here, 3, "relax.errors")
    sideways = Import(ROOT / "screening" / "known.py", 5, "generative.sampling")
    assert upward_imports({"relax": [up, down, own], "pipeline": [Import(here, 4, "relax")],
                           "screening": [sideways]}) == [up, sideways]


def test_each_package_imports_only_lower_floors():
    bad = upward_imports(project_imports())
    assert not bad, "imports against the floors " + " <- ".join(FLOORS) + ":\n" + "\n".join(map(str, bad))


def test_module_graph_is_acyclic():
    cycles = sorted(nx.simple_cycles(module_graph()), key=len)
    assert not cycles, f"module import cycles: {cycles[:10]}"


def test_module_cycles_are_found(tmp_path, monkeypatch):
    graph = nx.DiGraph([("relax.models", "relax.matgl_fix"), ("relax.matgl_fix", "relax.models")])
    assert list(nx.simple_cycles(graph))
    imp = Import(ROOT / "pipeline" / "generate.py", 1, "screening")
    assert module_targets(imp, ["assessment", "assess"]) == ["screening.assessment"]
    assert module_targets(imp, ["assess"]) == ["screening"]


def test_package_graph_is_acyclic():
    graph = nx.DiGraph()
    graph.add_nodes_from(FLOORS)
    for package, found in project_imports().items():
        graph.add_edges_from((package, imp.top) for imp in found if imp.top in FLOORS and imp.top != package)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"package import cycles: {cycles}"


# --- declared dependencies ----------------------------------------------------------------------------------------


def _canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(extra: str | None = None) -> set[str]:
    """Canonical distribution names in pyproject.toml: the runtime dependencies, or those of an extra."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return {_canonical_name(re.match(r"[A-Za-z0-9_.\-]+", r).group(0)) for r in requirements}


def third_party_modules(imports: list[Import]) -> dict[str, list[Import]]:
    """Top-level module -> the imports of it, for modules neither standard library nor the project's."""
    result: dict[str, list[Import]] = {}
    for imp in imports:
        if imp.top not in sys.stdlib_module_names and imp.top not in PROJECT_MODULES:
            result.setdefault(imp.top, []).append(imp)
    return result


@lru_cache(maxsize=1)
def _installed() -> dict[str, list[str]]:
    return packages_distributions()


def distributions_of(module: str) -> set[str]:
    """Canonical names of the installed distributions that provide top-level ``module``."""
    return {_canonical_name(d) for d in _installed().get(module, [])}


def test_every_third_party_import_is_declared():
    runtime = declared()
    problems = []
    for module, found in sorted(third_party_modules([i for v in project_imports().values() for i in v]).items()):
        providers = distributions_of(module)
        if not providers:
            problems.append(f"{module}: no installed distribution provides it ({found[0]})")
        elif not providers & runtime:
            problems.append(f"{module} (from {sorted(providers)}) is not in [project] dependencies ({found[0]})")
    assert not problems, "\n".join(problems)


def test_every_declared_dependency_is_imported():
    imported = set()
    for module in third_party_modules([i for v in project_imports().values() for i in v]):
        imported |= distributions_of(module)
    unused = sorted(declared() - imported)
    assert not unused, f"declared in pyproject.toml but imported by no package: {unused}"


def test_test_imports_are_declared():
    allowed = declared() | declared("test")
    own = {"tests"} | {p.stem for p in (ROOT / "tests").glob("*.py")}  # helper modules (codec_support, ...)
    found = [imp for path in sorted((ROOT / "tests").glob("*.py")) for imp in imports_of(path, "tests")]
    problems = sorted(
        {
            f"{module} (from {sorted(distributions_of(module)) or 'nothing installed'})"
            for module in third_party_modules(found)
            if module not in own and not distributions_of(module) & allowed
        }
    )
    assert not problems, f"imported by the tests, declared neither as dependency nor in the test extra: {problems}"
