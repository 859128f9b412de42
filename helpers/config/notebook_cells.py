"""The notebooks' `parameters` cells: which parameters each notebook takes, and the checks run in
the kernel right after papermill injected its values.

A parameters cell repeats, line for line, the declarations of `defaults.py` for the parameters
that notebook uses (papermill needs them in the notebook; JupyterLab users see them there).
`mismatches` finds a copy that drifted from its source, and tests keep the list empty.
"""
from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import nbformat

from ..core.files import ROOT
from .schema import Param, ParameterError, declarations, parse_declarations, validate

NOTEBOOK_DIR = ROOT / "notebooks"

# Names IPython puts in a kernel's namespace; never parameters.
_KERNEL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def notebook_paths(notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """The study's notebooks in order: A1_*, A2_*, ..., C2_*."""
    return sorted(notebook_dir.glob("[A-Z][0-9]_*.ipynb"))


def study_notebooks(values: dict[str, Any]) -> list[Path]:
    """The notebooks of the study the parameters describe: those named by `stages` (prefixes such as
    'A1', in study order), every notebook when it is empty."""
    available = notebook_paths()
    wanted = list(values.get("stages") or [])
    if not wanted:
        return available
    prefixes = {p.stem.split("_", 1)[0]: p for p in available}
    unknown = [s for s in wanted if s not in prefixes]
    if unknown:
        raise ParameterError(f"parameter 'stages' names {unknown}, which are not stages; the stages are {sorted(prefixes)}")
    return [p for p in available if p.stem.split("_", 1)[0] in wanted]


def notebook_path(stem: str) -> Path:
    return NOTEBOOK_DIR / f"{stem}.ipynb"


def parameters_cell(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return cell.source
    raise ParameterError(f"{nb_path} has no cell tagged 'parameters'")


def notebook_parameters(nb_path: Path) -> dict[str, Param]:
    """The declarations of a notebook's parameters cell; each must be a parameter of defaults.py."""
    declared = parse_declarations(parameters_cell(nb_path), nb_path.name)
    known = declarations()
    unknown = sorted(set(declared) - set(known))
    if unknown:
        raise ParameterError(f"{nb_path.name} declares {unknown}, which helpers/config/defaults.py does not")
    return declared


def mismatches(nb_path: Path) -> list[str]:
    """Declarations of a notebook whose type, default or help differs from defaults.py."""
    known = declarations()
    return [f"{nb_path.stem}: {p.line!r} != {known[name].line!r}"
            for name, p in notebook_parameters(nb_path).items()
            if (p.annotation, p.default, p.help) != (known[name].annotation, known[name].default, known[name].help)]


def for_notebook(stem: str, values: dict[str, Any]) -> dict[str, Any]:
    """The subset of `values` that notebook `stem` declares."""
    declared = notebook_parameters(notebook_path(stem))
    return {k: v for k, v in values.items() if k in declared}


def check(namespace: dict[str, Any], stem: str) -> dict[str, Any]:
    """Validate a notebook's namespace right after papermill injected its parameters.

    Returns this notebook's parameters as a dict. Any other non-private, non-module variable in the
    namespace came from the injected cell, so it must be a known parameter.
    """
    own = notebook_parameters(notebook_path(stem))
    injected = {k: v for k, v in namespace.items()
                if not k.startswith("_") and k not in _KERNEL_NAMES
                and not isinstance(v, (types.ModuleType, types.FunctionType, type))}
    validate(injected, f"the parameters of {stem}", deep=False)
    values = {k: namespace[k] for k in own}
    from .resolution import load_registries
    load_registries(values.get("plugins", []))
    validate(values, f"the parameters of {stem}")
    return values
