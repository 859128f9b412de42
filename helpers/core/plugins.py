"""Plugins: modules outside the package that register extra models, datasets, attacks or
compression methods.

Each notebook runs in its own kernel, so an entry registered in one Python process is unknown to
the others. The parameter `plugins` therefore names importable modules (`my_lab.models`), which
every stage and the runner import before they validate or run anything; importing one registers
its entries (see README, "Extending the study").
"""
from __future__ import annotations

import importlib
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
