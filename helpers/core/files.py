"""Project paths, atomic file writes, JSON and digests.

Every artifact of a run (checkpoint, metrics, figure, executed notebook) is written to a temporary
file next to its destination and renamed into place, so an interrupted run never leaves a
half-written file where a later stage would read it.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

# The package is installed editable, so the project root is the parent of the package directory.
ROOT = Path(__file__).resolve().parents[2]
_NEARLY_FULL = 1 << 20  # bytes


def project_path(path: str | os.PathLike) -> Path:
    """Resolve a user-given path: absolute stays, relative is taken from the project root.

    The same parameter file must mean the same directories whether a notebook runs under
    papermill from the project root or in JupyterLab with `notebooks/` as working directory.
    """
    p = Path(path).expanduser()
    return p if p.is_absolute() else ROOT / p


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `dest`; on success rename it onto `dest`, else delete it."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=f".partial{dest.suffix}", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; artifacts are ordinary files
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except OSError as e:
        # a full disk or a lost mount: the previous `dest` is untouched; say which artifact failed
        raise OSError(e.errno, f"could not write {dest} ({e.strerror or e}); the previous file, if any, is "
                               "left as it was") from e
    except Exception as e:
        # torch.save's C++ writer reports a full disk as RuntimeError('... iostream error'): the
        # partial file is still there, so a device with (almost) no space left says what happened
        if shutil.disk_usage(dest.parent).free < _NEARLY_FULL:
            raise OSError(errno.ENOSPC, f"could not write {dest} (no space left on the device: {e}); the "
                                        "previous file, if any, is left as it was") from e
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _json_ready(obj: Any) -> Any:
    """Turn numpy/torch scalars and non-finite floats into plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 0) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def save_json(path: str | os.PathLike, data: Any) -> Path:
    """Write `data` as indented JSON atomically and return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_json_ready(data), indent=2, sort_keys=False) + "\n")
    return path


class CorruptFileError(ValueError):
    """An artifact exists but cannot be read as what it should be (truncated, zeroed, overwritten)."""


def load_json(path: str | os.PathLike) -> Any:
    """The JSON a file holds; FileNotFoundError or CorruptFileError naming the file otherwise."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run the stage that writes it first")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CorruptFileError(f"{path} is damaged: not valid JSON ({e}); rerun the stage that writes it "
                               "(python -m helpers.run <params> --force <stage>)") from None


def load_json_if_intact(path: str | os.PathLike, on_damaged: Callable[[str], Any]) -> Any | None:
    """The JSON a file the kit can rebuild holds (a cache, a stage record); None when it is missing,
    or damaged, after passing `on_damaged` the message naming it."""
    try:
        return load_json(path)
    except FileNotFoundError:
        return None
    except CorruptFileError as e:
        on_damaged(str(e))
        return None


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
