"""One registry shape for models, attacks and compression methods: entries by name.

Built-in entries are found by listing a package's modules and taking the attribute each defines
(`SPEC`, `ATTACK`, `METHOD`; a tuple of them for variants defined together, e.g. one network's
training regimes); plugins add theirs with `register`. Modules are imported by name
from the listing, so no import statement names them: adding one changes no other entry's reuse
key (see `core.reuse`).
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable, Generic, TypeVar

Entry = TypeVar("Entry")


class Registry(Generic[Entry]):
    """Entries of one kind (`kind`, e.g. 'model'), keyed by `key(entry)`."""

    def __init__(self, kind: str, package: str, attribute: str, key: Callable[[Any], str] = lambda e: e.name):
        self.kind, self.package, self.attribute, self.key = kind, package, attribute, key
        self._entries: dict[str, Entry] = {}
        self._discovered = False

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        package = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(package.__path__):
            entry = getattr(importlib.import_module(f"{self.package}.{info.name}"), self.attribute, None)
            for one in (entry if isinstance(entry, tuple) else () if entry is None else (entry,)):
                self._entries.setdefault(self.key(one), one)  # a tuple: variants of one module

    def register(self, entry: Entry) -> Entry:
        self._discover()
        self._entries[self.key(entry)] = entry
        return entry

    def names(self) -> list[str]:
        self._discover()
        return list(self._entries)

    def values(self) -> list[Entry]:
        self._discover()
        return list(self._entries.values())

    def get(self, name: str) -> Entry:
        self._discover()
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} '{name}'; registered {self.kind}s: {sorted(self._entries)}")
        return self._entries[name]
