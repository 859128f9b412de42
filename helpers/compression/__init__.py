"""Compression methods: a registry of `CompressionMethod` classes, one module each.

Built-in methods are the modules of this folder that define `METHOD` (global, layerwise,
channel); a plugin adds one with `register_method(cls)`. The parameters `compression_methods`,
`compression_targets`, `compression_budgets` and `compression_settings` choose and configure them;
`whitebox_methods` names those C2 attacks again.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any

from ..config.schema import ParameterError, register_check
from ..core.registry import Registry
from .base import (BaseModel, Compressed, CompressionContext, CompressionMethod, CompressionRecord, FineTuneBudget,
                   PruneAndFineTune)

_METHODS: Registry[type[CompressionMethod]] = Registry("compression method", __name__, "METHOD")


def register_method(cls: type[CompressionMethod]) -> type[CompressionMethod]:
    """Make a compression method available by its `name` (`compression_methods: [..., <name>]`)."""
    return _METHODS.register(cls)


def method_names() -> list[str]:
    return _METHODS.names()


def method_class(name: str) -> type[CompressionMethod]:
    return _METHODS.get(name)


def build_method(name: str, params: dict[str, Any]) -> CompressionMethod:
    """The method `name` with the budget and settings overrides the parameters give it."""
    cls = method_class(name)
    return cls.configure(params.get("compression_budgets", {}).get(name, {}),
                         params.get("compression_settings", {}).get(name, {}))


def targets(name: str, params: dict[str, Any]) -> list[float]:
    """The targets of method `name`: the parameters' `compression_targets`, else its defaults."""
    return list(params.get("compression_targets", {}).get(name, method_class(name).default_targets))


def _check_names(names: Any, source: str, parameter: str) -> None:
    unknown = [n for n in names if n not in method_names()]
    if unknown:
        raise ParameterError(f"parameter '{parameter}' in {source} names unknown compression methods {unknown}; "
                             f"registered: {sorted(method_names())}")


def _check_per_method(value: dict, source: str, parameter: str, allowed) -> None:
    _check_names(list(value), source, parameter)
    for name, entry in value.items():
        allowed(name, entry, f"parameter '{parameter}.{name}' in {source}")


def _check_targets(name: str, entry: Any, where: str) -> None:
    if not isinstance(entry, list) or not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in entry):
        raise ParameterError(f"{where} must be a list of numbers, not {entry!r}")
    method = method_class(name)()
    for t in entry:
        problem = method.check_target(t)
        if problem:
            raise ParameterError(f"{where}: target {t!r} is not admissible: {problem}")


def _matches_type(value: Any, type_name: str) -> bool:
    if isinstance(value, bool):
        return type_name == "bool"
    return {"int": isinstance(value, int), "float": isinstance(value, (int, float)),
            "str": isinstance(value, str)}.get(type_name, True)


def _check_fields(kind: str):
    def check(name: str, entry: Any, where: str) -> None:
        cls = method_class(name)
        types = {f.name: str(f.type) for f in fields(FineTuneBudget if kind == "budget" else cls.Settings)}
        if not isinstance(entry, dict):
            raise ParameterError(f"{where} must be a mapping of {kind} names to values, not {entry!r}")
        unknown = [k for k in entry if k not in types]
        if unknown:
            raise ParameterError(f"{where} has unknown {kind} keys {unknown}; known: {list(types)}")
        for key, value in entry.items():
            if not _matches_type(value, types[key]):
                raise ParameterError(f"{where}: {key} is {value!r}, expected {types[key]}")
    return check


register_check("compression_methods", lambda v, s: _check_names(v, s, "compression_methods"))
register_check("whitebox_methods", lambda v, s: _check_names(v, s, "whitebox_methods"))
register_check("compression_targets", lambda v, s: _check_per_method(v, s, "compression_targets", _check_targets))
register_check("compression_budgets", lambda v, s: _check_per_method(v, s, "compression_budgets", _check_fields("budget")))
register_check("robust_prune_targets", lambda v, s: _check_per_method(v, s, "robust_prune_targets", _check_targets))
register_check("dense_control_budget", lambda v, s: _check_names([v] if v else [], s, "dense_control_budget"))
register_check("compression_settings",
               lambda v, s: _check_per_method(v, s, "compression_settings", _check_fields("setting")))

__all__ = ["BaseModel", "Compressed", "CompressionContext", "CompressionMethod", "CompressionRecord",
           "FineTuneBudget", "PruneAndFineTune", "build_method", "method_class", "method_names", "register_method",
           "targets"]
