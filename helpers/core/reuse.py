"""The one rule for reusing a saved result: its reuse key.

Every cached artifact (decoded images, trained and fine-tuned checkpoints, compressed models,
executed notebooks) is stored with the key of everything that made it, and is reused only when the
key computed now is the same. `reuse_key` is that key: a digest of

- the **code**: the source of each named helpers module and of every helpers module it imports,
  transitively, found by reading the import statements (including imports inside functions). A new
  module that training starts to import changes the key of every checkpoint training writes,
  without anyone keeping a list. Registries discover their built-in entries by listing a folder
  (no import statement names them), so adding a model or a compression method does not invalidate
  what other entries made;
- the **inputs**: plain data (configs, parameters, digests of data and of upstream artifacts),
  serialised canonically so that dict order does not matter.
"""
from __future__ import annotations

import ast
import functools
import inspect
import json
import types
from pathlib import Path
from typing import Any, Iterable

from .files import ROOT, sha256_file, sha256_text

PACKAGE = "helpers"


def _module_file(name: str) -> Path | None:
    """The source file of helpers module `name` ('helpers.training.loop'), or None if not a module."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imported_modules(name: str, path: Path) -> set[str]:
    """Helpers modules that the source of module `name` imports, anywhere in the file."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return {m for m in found if _module_file(m) is not None}


@functools.lru_cache(maxsize=None)
def _closure_cached(name: str, stamp: float) -> frozenset[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        path = _module_file(current)
        if path is not None:
            todo.extend(_imported_modules(current, path) - seen)
    return frozenset(seen)


def module_closure(name: str) -> frozenset[str]:
    """`name` and every helpers module it imports, transitively."""
    path = _module_file(name)
    if path is None:
        raise ValueError(f"{name!r} is not a module of the {PACKAGE} package")
    # the newest modification time of the package keys the cache, so an edited file is read again
    stamp = max(p.stat().st_mtime for p in (ROOT / PACKAGE).rglob("*.py"))
    return _closure_cached(name, stamp)


def _module_name(code: Any) -> str:
    if isinstance(code, str):
        return code
    if isinstance(code, types.ModuleType):
        return code.__name__
    module = inspect.getmodule(code)
    if module is None:
        raise ValueError(f"cannot tell which module defines {code!r}")
    return module.__name__


def _package_modules() -> list[str]:
    return [".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            for p in sorted((ROOT / PACKAGE).rglob("*.py"))]


def code_fingerprint(code: Iterable[Any]) -> str:
    """Digest of the source of the modules defining `code` (modules, module names, functions or
    classes; `"helpers"` means the whole package) and of every helpers module they import. Code
    from outside the package (a plugin a user registered) counts by its own file."""
    files: dict[str, Path] = {}
    for item in code:
        name = _module_name(item)
        if name == PACKAGE:
            files.update({n: _module_file(n) for n in _package_modules()})
        elif _module_file(name) is not None:
            files.update({n: _module_file(n) for n in module_closure(name)})
        else:
            import importlib
            files[name] = Path(inspect.getsourcefile(importlib.import_module(name)))
    return sha256_text("\n".join(f"{n}:{sha256_file(files[n])}" for n in sorted(files)))


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict
        return _canonical(asdict(value))
    return value


def reuse_key(*, code: Iterable[Any], **inputs: Any) -> str:
    """The reuse key of an artifact made by `code` from `inputs` (see the module docstring)."""
    payload = json.dumps(_canonical(inputs), sort_keys=True, default=repr)
    return sha256_text(code_fingerprint(code) + "|" + payload)
