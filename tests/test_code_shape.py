"""The package keeps the shape a reader can follow: small modules of one concern, short functions."""
import ast

import pytest

from helpers.core.files import ROOT

MODULES = sorted((ROOT / "helpers").rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_are_small(path):
    source = path.read_text()
    assert len(source.splitlines()) <= 320, f"{path.name}: {len(source.splitlines())} lines"
    long = [f"{n.name} ({n.end_lineno - n.lineno + 1} lines)" for n in ast.walk(ast.parse(source))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > 60]
    assert not long, f"{path.name}: {long}"


def test_the_package_is_grouped_by_concern():
    top = {p.name for p in (ROOT / "helpers").iterdir() if not p.name.startswith("__")}
    assert {"core", "config", "data", "models", "training", "evaluation", "explain", "attacks", "robustness",
            "defense", "compression", "study", "report", "pipeline"} <= top
    assert {p for p in top if p.endswith(".py")} == {"run.py", "bench.py", "sweep.py", "compare.py"}  # the entry points only
