"""The parameters of a run: defaults, a parameter file and `--set` overrides, checked by type and
by the registries (every name a parameter gives must be registered).

Kept apart from `schema`, which the registries import: importing the registries here makes their
checks known without making the registries depend on each other.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .schema import defaults, load_yaml, parse_overrides, validate


def load_registries(plugins: list[str]) -> None:
    """Import the registries (they register their checks) and the plugins (they add entries)."""
    from .. import attacks, compression, data, models  # noqa: F401
    from ..core.plugins import load_plugins
    load_plugins(plugins)


def resolve(param_file: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Every parameter's value for a run: defaults, then the file, then `--set` overrides. Plugins
    the values name are imported first, so the registries can check the names they hold."""
    values = load_yaml(param_file)
    values.update(parse_overrides(overrides or []))
    merged = {**defaults(), **values}
    load_registries(merged["plugins"])
    validate(values, f"{param_file}{' and --set' if overrides else ''}")
    return merged
