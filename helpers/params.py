"""Parameters: the notebooks' `parameters` cells are the schema, YAML files override them.

Each notebook has one cell tagged `parameters` of flat, annotated literal assignments
(nanoGPT-style), for example::

    epochs: int = 40                 # maximum epochs per model
    amp: str = "bf16"                # bf16 | off: mixed precision for training

The annotation gives the type, the value the default, the comment the help text. A comment that
starts with `a | b | c:` lists the only values allowed. (Choices live in the comment, not in a
`Literal[...]` annotation, because papermill's own parameter parser reads only simple types.)
The runner validates a YAML file against the union of all notebooks' parameters before anything
runs; each notebook validates again right after papermill's injected cell, so a plain
`papermill ... -f file.yaml` run gets the same errors.
"""
from __future__ import annotations

import ast
import difflib
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

from .io import ROOT

NOTEBOOK_DIR = ROOT / "notebooks"

# Keys read by the runner and the report builder, not by any notebook.
RUNNER_PARAMETERS = {
    "report_dir": ("str", "where the report and summary.json go ('' = <run_dir>/report)"),
    "report_title": ("str", "title page of the PDF report"),
}

_CHOICES = re.compile(r"^([\w.-]+(?:\s*\|\s*[\w.-]+)+):")

# Names IPython puts in a kernel's namespace; never parameters.
_KERNEL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


class ParameterError(ValueError):
    """A parameter file or an injected parameter is unknown, mistyped or out of its choices."""


@dataclass
class Param:
    name: str
    default: Any
    annotation: str
    help: str = ""
    notebooks: list[str] = field(default_factory=list)
    choices: list[str] | None = None

    def check(self, value: Any, source: str) -> None:
        if not _matches(value, ast.parse(self.annotation, mode="eval").body):
            raise ParameterError(
                f"parameter '{self.name}' in {source} is {value!r} ({type(value).__name__}); "
                f"expected {self.annotation}  # {self.help}"
            )
        if self.choices is not None and value not in self.choices:
            raise ParameterError(f"parameter '{self.name}' in {source} is {value!r}; "
                                 f"expected one of {self.choices}  # {self.help}")


def _matches(value: Any, ann: ast.AST) -> bool:
    """Does `value` satisfy the (small) annotation language used in parameters cells?"""
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        return _matches(value, ann.left) or _matches(value, ann.right)
    if isinstance(ann, ast.Constant) and ann.value is None:
        return value is None
    if isinstance(ann, ast.Name):
        if ann.id == "bool":
            return isinstance(value, bool)
        if ann.id == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        if ann.id == "float":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if ann.id == "str":
            return isinstance(value, str)
        if ann.id in ("list", "dict"):
            return isinstance(value, {"list": list, "dict": dict}[ann.id])
        raise ParameterError(f"unsupported annotation {ann.id!r} in a parameters cell")
    if isinstance(ann, ast.Subscript) and isinstance(ann.value, ast.Name):
        args = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        if ann.value.id == "list":
            return isinstance(value, list) and all(_matches(v, args[0]) for v in value)
    raise ParameterError(f"unsupported annotation {ast.unparse(ann)!r} in a parameters cell")


def parameters_cell(nb_path: Path) -> str:
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return cell.source
    raise ParameterError(f"{nb_path} has no cell tagged 'parameters'")


def notebook_parameters(nb_path: Path) -> dict[str, Param]:
    """Parse the `parameters` cell of a notebook into {name: Param}."""
    source = parameters_cell(nb_path)
    lines = source.splitlines()
    params: dict[str, Param] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            raise ParameterError(
                f"{nb_path.name}: parameters cell line {node.lineno} is not 'name: type = literal'"
            )
        line = lines[node.lineno - 1]
        help_text = line.split("#", 1)[1].strip() if "#" in line else ""
        listed = _CHOICES.match(help_text)
        choices = [c.strip() for c in listed.group(1).split("|")] if listed else None
        p = Param(node.target.id, ast.literal_eval(node.value), ast.unparse(node.annotation),
                  help_text, [nb_path.stem], choices)
        p.check(p.default, f"{nb_path.name} (its own default)")
        params[p.name] = p
    return params


def notebook_paths(notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    return sorted(notebook_dir.glob("[A-Z][0-9]_*.ipynb"))


def schema(notebook_dir: Path = NOTEBOOK_DIR) -> dict[str, Param]:
    """Union of all notebooks' parameters; a name shared by notebooks must agree on type and default."""
    merged: dict[str, Param] = {
        name: Param(name, "", ann, help_text) for name, (ann, help_text) in RUNNER_PARAMETERS.items()
    }
    for path in notebook_paths(notebook_dir):
        for name, p in notebook_parameters(path).items():
            if name in merged and merged[name].notebooks:
                q = merged[name]
                if (q.annotation, q.default) != (p.annotation, p.default):
                    raise ParameterError(
                        f"parameter '{name}' differs between {q.notebooks[0]} "
                        f"({q.annotation} = {q.default!r}) and {path.stem} ({p.annotation} = {p.default!r})"
                    )
                q.notebooks.append(path.stem)
            else:
                merged[name] = p
    return merged


def validate(values: dict[str, Any], source: str, known: dict[str, Param] | None = None) -> None:
    """Raise ParameterError naming the first unknown or mistyped key of `values`."""
    known = schema() if known is None else known
    for key, value in values.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ParameterError(f"unknown parameter '{key}' in {source}{hint}")
        known[key].check(value, source)


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise ParameterError(f"parameter file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParameterError(f"parameter file {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ParameterError(f"parameter file {path} must be a mapping of name: value")
    validate(data, str(path))
    return data


def for_notebook(nb_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The subset of `values` that notebook `nb_name` declares."""
    declared = notebook_parameters(NOTEBOOK_DIR / f"{nb_name}.ipynb")
    return {k: v for k, v in values.items() if k in declared}


def check(namespace: dict[str, Any], nb_name: str) -> dict[str, Any]:
    """Validate a notebook's namespace right after papermill injected its parameters.

    Returns this notebook's parameters as a dict. Any other non-private, non-module variable
    in the namespace came from the injected cell, so it must be a known parameter.
    """
    known = schema()
    own = notebook_parameters(NOTEBOOK_DIR / f"{nb_name}.ipynb")
    injected = {
        k: v for k, v in namespace.items()
        if not k.startswith("_") and k not in _KERNEL_NAMES
        and not isinstance(v, (types.ModuleType, types.FunctionType, type))
    }
    validate(injected, f"the parameters of {nb_name}", known)
    return {k: namespace[k] for k in own}
