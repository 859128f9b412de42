"""Parameters: `defaults.py` is the schema, YAML files and `--set` override it.

Every parameter is one line of `helpers/config/defaults.py`, a flat annotated literal
(nanoGPT-style)::

    epochs: int = 40                 # maximum epochs per model
    amp: str = "auto"                # auto | bf16 | fp16 | fp32 | off: training precision

The annotation gives the type, the value the default, the comment the help text. A comment that
starts with `a | b | c:` lists the only values allowed. (Choices live in the comment, not in a
`Literal[...]` annotation, because papermill's own parameter parser reads only simple types.)
Registries add checks of the values inside their dict parameters (`register_check`), for example
that every name in `compression_methods` is a registered method.
"""
from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

DEFAULTS_FILE = Path(__file__).with_name("defaults.py")

_CHOICES = re.compile(r"^([\w.-]+(?:\s*\|\s*[\w.-]+)+):")


class ParameterError(ValueError):
    """A parameter file, an override or an injected parameter is unknown, mistyped or out of its choices."""


@dataclass
class Param:
    name: str
    default: Any
    annotation: str
    help: str = ""
    choices: list[str] | None = None
    line: str = ""  # the declaration as written, `name: type = value  # help`

    def check(self, value: Any, source: str) -> None:
        if not _matches(value, ast.parse(self.annotation, mode="eval").body):
            raise ParameterError(
                f"parameter '{self.name}' in {source} is {value!r} ({type(value).__name__}); "
                f"expected {self.annotation}  # {self.help}")
        if self.choices is not None and value not in self.choices:
            raise ParameterError(f"parameter '{self.name}' in {source} is {value!r}; "
                                 f"expected one of {self.choices}  # {self.help}")


def _matches(value: Any, ann: ast.AST) -> bool:
    """Does `value` satisfy the (small) annotation language of parameter declarations?"""
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        return _matches(value, ann.left) or _matches(value, ann.right)
    if isinstance(ann, ast.Constant) and ann.value is None:
        return value is None
    if isinstance(ann, ast.Name):
        simple = {"bool": lambda v: isinstance(v, bool),
                  "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
                  "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
                  "str": lambda v: isinstance(v, str), "list": lambda v: isinstance(v, list),
                  "dict": lambda v: isinstance(v, dict)}
        if ann.id not in simple:
            raise ParameterError(f"unsupported annotation {ann.id!r} in a parameter declaration")
        return simple[ann.id](value)
    if isinstance(ann, ast.Subscript) and isinstance(ann.value, ast.Name) and ann.value.id == "list":
        return isinstance(value, list) and all(_matches(v, ann.slice) for v in value)
    raise ParameterError(f"unsupported annotation {ast.unparse(ann)!r} in a parameter declaration")


def parse_declarations(source: str, where: str) -> dict[str, Param]:
    """Parse `name: type = literal  # help` lines (a parameters cell, or defaults.py) into Params."""
    lines = source.splitlines()
    params: dict[str, Param] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None):
            raise ParameterError(f"{where}: line {node.lineno} is not 'name: type = literal'")
        line = lines[node.lineno - 1]
        help_text = line.split("#", 1)[1].strip() if "#" in line else ""
        listed = _CHOICES.match(help_text)
        p = Param(node.target.id, ast.literal_eval(node.value), ast.unparse(node.annotation), help_text,
                  [c.strip() for c in listed.group(1).split("|")] if listed else None, line.strip())
        p.check(p.default, f"{where} (its own default)")
        params[p.name] = p
    return params


_SCHEMA: dict[str, Param] | None = None


def declarations() -> dict[str, Param]:
    """Every parameter of the study, from defaults.py."""
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = parse_declarations(DEFAULTS_FILE.read_text(), DEFAULTS_FILE.name)
    return dict(_SCHEMA)


def defaults() -> dict[str, Any]:
    return {name: p.default for name, p in declarations().items()}


# Checks of what lies inside a parameter's value, registered by the registries:
# fn(value, source) raises ParameterError naming the problem.
_CHECKS: dict[str, list[Callable[[Any, str], None]]] = {}


def register_check(name: str, check: Callable[[Any, str], None]) -> None:
    _CHECKS.setdefault(name, []).append(check)


def validate(values: dict[str, Any], source: str, *, deep: bool = True) -> None:
    """Raise ParameterError naming the first unknown, mistyped or (with `deep`, by the registries'
    checks) inadmissible key of `values`."""
    known = declarations()
    for key, value in values.items():
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ParameterError(f"unknown parameter '{key}' in {source}{hint}")
        known[key].check(value, source)
        for check in _CHECKS.get(key, []) if deep else []:
            check(value, source)


def yaml_words(values: dict[str, Any]) -> dict[str, Any]:
    """YAML 1.1 reads `off`, `no` (and `on`, `yes`) as booleans; a text parameter whose choices
    include 'off' (or 'on') gets the word back, so `--set amp=off` means what it says."""
    known = declarations()
    out = dict(values)
    for key, value in values.items():
        p = known.get(key)
        if isinstance(value, bool) and p is not None and p.annotation == "str" and p.choices:
            word = "on" if value else "off"
            if word in p.choices:
                out[key] = word
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """The overrides of a parameter file (validated by type; see `resolve` for the rest)."""
    path = Path(path)
    if not path.exists():
        raise ParameterError(f"parameter file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParameterError(f"parameter file {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ParameterError(f"parameter file {path} must be a mapping of name: value")
    data = yaml_words(data)
    validate(data, str(path), deep=False)
    return data


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`--set name=value` items; the value is read as YAML (`epochs=5`, `models=[SimpleCNN]`)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"--set {item!r}: expected name=value, such as --set epochs=5")
        try:
            out[name.strip()] = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ParameterError(f"--set {item!r}: the value is not valid YAML: {e}") from None
    out = yaml_words(out)
    validate(out, "--set", deep=False)
    return out
