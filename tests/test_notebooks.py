"""The notebooks read like a report: narrative and short cells that call tested helpers.

No function or class definitions, no loops or comprehensions (computation belongs in `helpers`),
no code cell over 20 lines (the parameters cell aside), no one-letter names, and no artifact path
typed into a notebook (the run layout names them)."""
import ast
import re

import nbformat
import pytest

from helpers.config import notebook_cells

NOTEBOOKS = notebook_cells.notebook_paths()
COMPUTATION = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.For, ast.While, ast.ListComp,
               ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _code_cells(path):
    nb = nbformat.read(path, as_version=4)
    return [(i, c.source) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_cells_call_helpers_and_stay_short(path):
    for i, source in _code_cells(path):
        tree = ast.parse(source)
        found = [type(n).__name__ for n in ast.walk(tree) if isinstance(n, COMPUTATION)]
        assert not found, f"{path.stem} cell {i} computes ({', '.join(found)}); move it into helpers/study"
        assert len(source.splitlines()) <= 20, f"{path.stem} cell {i} has {len(source.splitlines())} lines"
        names = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        assert not [n for n in names if len(n) == 1], f"{path.stem} cell {i} uses one-letter names {names}"
        assert not re.search(r"""["'](checkpoints|adversarial|metrics)/""", source), \
            f"{path.stem} cell {i} types an artifact path; use stage.layout"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_name_no_model_attack_or_method(path):
    """Models, attacks and compression methods come from the parameters, never from the code."""
    for i, source in _code_cells(path):
        for name in ("SimpleCNN", "ResNetSmall", '"fgsm"', '"pgd"', '"global"', '"layerwise"', '"channel"'):
            assert name not in source, f"{path.stem} cell {i} names {name}"


def test_outputs_are_stripped_in_git():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), path.stem
