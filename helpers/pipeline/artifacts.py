"""What a stage wrote, with digests, so a rerun can tell a complete artifact from a damaged one.

A stage's record (`stages/<stem>.json`) lists every file the stage wrote or replaced under the run
directory and the study's figure folder, each with its SHA-256 (`artifacts`). Before a stage is
skipped as up to date, its files are checked against that list: a missing, truncated or otherwise
changed file makes the stage run again (and the runner says which file), instead of a later stage
or the report reading it.

A run killed with SIGKILL cannot clean up: `core.files.atomic_path` leaves its temporary
`.<name>.<random>.partial<suffix>` beside the destination (the destination itself is never
half-written). `remove_partial` deletes them when the next run starts.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..core.files import ROOT, sha256_file

# written continually or kept by the runner itself (its records, the run's times), not results of a stage
_NOT_ARTIFACTS = {"stages", "logs", "tensorboard"}
_RUNNER_FILES = {("metrics", "run.json")}


def _files(folders: Iterable[Path]) -> Iterable[Path]:
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            parts = path.relative_to(folder).parts
            if path.is_file() and not set(parts[:1]) & _NOT_ARTIFACTS and parts not in _RUNNER_FILES:
                yield path


def snapshot(folders: Iterable[Path]) -> dict[Path, tuple[int, int]]:
    """{file: (size, modification time in ns)} of every artifact-like file under `folders`."""
    out = {}
    for path in _files(folders):
        st = path.stat()
        out[path] = (st.st_size, st.st_mtime_ns)
    return out


def _name(path: Path) -> str:
    """The path as recorded: relative to the project when it lies inside, so a moved clone still matches."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path.resolve())


def _path(name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else ROOT / p


def written(before: dict[Path, tuple[int, int]], folders: Iterable[Path], known: set[str] = frozenset()) -> dict[str, str]:
    """{file: SHA-256} of the files under `folders` that are new or changed since `before`, and of
    those no stage has recorded (`known`): what an earlier, killed attempt of this stage wrote and
    this one reused. Temporary `.partial` files are skipped."""
    after = snapshot(folders)
    return {_name(p): sha256_file(p) for p, stat in sorted(after.items())
            if (before.get(p) != stat or _name(p) not in known) and ".partial" not in p.name}


def damaged(recorded: dict[str, str]) -> list[str]:
    """Why each recorded artifact cannot be trusted now ('<file>: missing' or '<file>: content
    differs from the stage's record'); empty when every one is as the stage left it. A file a later
    stage replaced on purpose is recorded again by that stage, so it is checked against the last
    writer's digest (see `latest_writers`)."""
    problems = []
    for name, digest in recorded.items():
        path = _path(name)
        if not path.exists():
            problems.append(f"{path}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{path}: content differs from the stage's record (truncated, zeroed or edited)")
    return problems


def latest_writers(records: dict[str, dict]) -> dict[str, dict[str, str]]:
    """{stage: {file: digest}} keeping each file only under the last stage (in study order) that wrote it."""
    owner: dict[str, str] = {}
    for stem, record in records.items():
        for name in record.get("artifacts", {}):
            owner[name] = stem
    return {stem: {n: d for n, d in record.get("artifacts", {}).items() if owner[n] == stem}
            for stem, record in records.items()}


def remove_partial(folders: Iterable[Path]) -> list[Path]:
    """Delete the temporary files a killed run left (`.<name>.<random>.partial<suffix>`); returns them."""
    removed = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.rglob(".*.partial*"):
            if path.is_file():
                path.unlink()
                removed.append(path)
    return removed
