"""`summary.json`: the flat table of a run's headline numbers, taken from its metrics files.

Every accuracy and success rate is a proportion; a metrics file names the denominator of each in
`denominators` ({flat key or fnmatch pattern, relative to the file's prefix: n}), and the summary
carries its 95 % Wilson interval beside it as `<key>.ci_low`, `<key>.ci_high` and `<key>.n`.
"""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

from ..core.files import load_json
from ..evaluation.intervals import wilson_of_rate

# Keys that hold a proportion and so need an interval: the last component names an accuracy or a
# rate (val_acc, robust_acc, acc_pre_ft, success_rate, conditional_transfer_rate, ...); means and
# standard deviations over seeds are not proportions.
# A trailing budget (`pgd_robust_acc.eps0.03`) still names a proportion.
PROPORTION_KEY = re.compile(r"(^|[._])(acc|rate)(_pre_ft)?(\.eps[0-9.]+)?$")


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


def is_proportion_key(key: str) -> bool:
    return bool(PROPORTION_KEY.search(key))


def with_intervals(flat: dict[str, Any], denominators: dict[str, int], source: str) -> dict[str, Any]:
    """`flat` (keys relative to one metrics file) plus `.ci_low/.ci_high/.n` beside every proportion
    whose denominator a pattern of `denominators` gives (the first matching pattern wins)."""
    out = dict(flat)
    for key, value in flat.items():
        if not is_proportion_key(key) or not isinstance(value, (int, float)) or value != value:
            continue
        n = next((int(m) for pattern, m in denominators.items() if fnmatch.fnmatchcase(key, pattern)), None)
        if n is None:
            continue
        try:
            low, high = wilson_of_rate(float(value), n)
        except ValueError as e:
            raise ValueError(f"{source}: {key}: {e}") from None
        out.update({f"{key}.ci_low": low, f"{key}.ci_high": high, f"{key}.n": n})
    return out


def missing_intervals(summary_: dict[str, Any]) -> list[str]:
    """Proportion keys of a summary that carry no interval (the report test wants none)."""
    return [k for k, v in summary_.items() if is_proportion_key(k) and isinstance(v, (int, float))
            and f"{k}.ci_low" not in summary_]


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
            flat = with_intervals(flatten(data["summary"]), data.get("denominators", {}), str(f))
            prefix = data.get("summary_prefix", f.stem)
            out.update({f"{prefix}.{k}": v for k, v in flat.items()})
    return out
