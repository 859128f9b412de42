"""`summary.json`: the flat table of a run's headline numbers, taken from its metrics files."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.files import load_json


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists and scalars are leaves."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def summary(run_dir: Path) -> dict[str, Any]:
    """Flat headline numbers: '<tag>.<...>' from each metrics file's 'summary' (a file may name
    another prefix in 'summary_prefix', e.g. B3's defense figures as 'B1.defense'), plus run.*."""
    metrics_dir = run_dir / "metrics"
    if not metrics_dir.is_dir():
        raise FileNotFoundError(f"{metrics_dir} does not exist: run the notebooks first")
    out: dict[str, Any] = {}
    for f in sorted(metrics_dir.glob("*.json")):
        data = load_json(f)
        if f.stem == "run":
            out.update(flatten(data, "run"))
        elif "summary" in data:
            out.update(flatten(data["summary"], data.get("summary_prefix", f.stem)))
    return out
