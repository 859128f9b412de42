"""Plugins: modules outside the package that register extra models, datasets, attacks or
compression methods.

Each notebook runs in its own kernel, so an entry registered in one Python process is unknown to
the others. The parameter `plugins` therefore names importable modules (`my_lab.models`), which
every stage and the runner import before they validate or run anything; importing one registers
its entries (see README, "Extending the study").
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Iterable


class PluginError(ImportError):
    """A module named in the parameter `plugins` cannot be imported."""


def load_plugins(names: Iterable[str]) -> list[str]:
    """Import every module of `names` (once); returns their names."""
    loaded = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise PluginError(f"parameter 'plugins' names {name!r}, which cannot be imported: {e}") from e
        loaded.append(name)
    return loaded


def plugin_sources(names: Iterable[str]) -> dict[str, str]:
    """{module: SHA-256 of its source} for the plugin modules (every .py file under a package), so
    that editing a plugin changes the reuse key of the stages that run with it. The `helpers`
    package's own modules are covered by `core.reuse`; a plugin lies outside it."""
    from .files import sha256_file, sha256_text

    out = {}
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError) as e:
            raise PluginError(f"parameter 'plugins' names {name!r}, which cannot be found: {e}") from e
        if spec is None or spec.origin is None:
            raise PluginError(f"parameter 'plugins' names {name!r}, which cannot be found on sys.path")
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        out[name] = sha256_text("\n".join(f"{f.name}:{sha256_file(f)}" for f in files))
    return out
