"""Reading headline facts out of a flat summary dict (`summary.json`): which models, which ε,
a proportion with its 95 % Wilson interval, a compressed variant's C1 numbers. Every accessor
returns None where a key is missing, so a text that needs it is left out instead of failing."""
from __future__ import annotations

import math
import re
from typing import Any

from ..evaluation.paired import difference_words
from ..evaluation.intervals import overlap, wilson_of_rate

Summary = dict[str, Any]


def number(s: Summary, key: str) -> float | None:
    """s[key] as a float, None when missing, not a number or NaN."""
    v = s.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v)


def models(s: Summary) -> list[str]:
    """The trained models, in the order A2 lists them."""
    return [k.split(".")[1] for k in s if re.fullmatch(r"A2\.[^.]+\.val_acc", k)]


def eps_grid(s: Summary, model: str, attack: str) -> list[float]:
    """The ε budgets of B1's untargeted `attack` on `model`, ascending."""
    pat = re.compile(rf"B1\.{re.escape(model)}\.{re.escape(attack)}\.untargeted\.eps([0-9.]+)\.success_rate")
    return sorted(float(m.group(1)) for k in s if (m := pat.fullmatch(k)))


def smallest_eps(s: Summary, model: str, attack: str) -> float | None:
    """The smallest ε of B1's grid, where robustness still discriminates (larger ε saturate)."""
    grid = eps_grid(s, model, attack)
    return grid[0] if grid else None


def eps_key(eps: float) -> str:
    return f"eps{eps:g}"


def interval(s: Summary, key: str, n: int | None = None) -> tuple[float, float] | None:
    """The 95 % Wilson interval of the proportion s[key]: summary.json's `.ci_low/.ci_high`, else
    computed from the denominator `n`; None when neither is known (or s[key] is no count of n)."""
    v = number(s, key)
    if v is None:
        return None
    if f"{key}.ci_low" in s:
        return float(s[f"{key}.ci_low"]), float(s[f"{key}.ci_high"])
    if n:
        try:
            return wilson_of_rate(v, int(n))
        except ValueError:
            return None
    return None


def denominator(s: Summary, key: str, n: int | None = None) -> int | None:
    """The number of items behind the proportion s[key]."""
    return int(s[f"{key}.n"]) if f"{key}.n" in s else n


def rate(s: Summary, key: str, n: int | None = None, digits: int = 2) -> str | None:
    """'0.82 [0.69, 0.90]' for the proportion s[key] (the interval only where it is known)."""
    v = number(s, key)
    if v is None:
        return None
    ci = interval(s, key, n)
    return f"{v:.{digits}f}" + (f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "")


def count(s: Summary, key: str, n: int | None = None) -> str | None:
    """'17 of 37' for the proportion s[key] measured on n items."""
    v, m = number(s, key), denominator(s, key, n)
    return None if v is None or not m else f"{round(v * m)} of {m}"


def overlapping(s: Summary, a: str, b: str, n: int | None = None) -> bool | None:
    """Whether the intervals of two proportions overlap; None when one is unknown."""
    ia, ib = interval(s, a, n), interval(s, b, n)
    return None if ia is None or ib is None else overlap(ia, ib)


def n_valid(s: Summary) -> int | None:
    """Images of the validation split, the denominator of every validation accuracy."""
    v = number(s, "A1.n_valid")
    return int(v) if v else None


def variant_key(recommended: str) -> str:
    """C2's recommended variant ('channel 8x', 'global s0.8') as its C1/C2 key part."""
    return recommended.strip().replace(" ", ".", 1)


def compressed(s: Summary, model: str, variant: str) -> dict[str, float | None]:
    """C1's accuracy key, batch-1 speedup and size reduction (dense size / compressed size) of a variant."""
    base = f"C1.{model}.{variant}"
    dense = number(s, f"C1.{model}.dense.size_mb")
    size = number(s, f"{base}.size_compressed_mb") or number(s, f"{base}.size_mb")
    return {"acc_key": f"{base}.acc" if variant != "dense" else f"C1.{model}.dense.acc",
            "speedup": number(s, f"{base}.speedup") if variant != "dense" else 1.0,
            "size_reduction": dense / size if dense and size else None}


def attack_title(name: str) -> str:
    """'PGD' for 'pgd': attacks are named in upper case in the prose."""
    return name.upper()


def paired(s: Summary, prefix: str) -> dict[str, Any] | None:
    """The paired test stored under `prefix` (`paired.as_summary`: <prefix>.p_value, .difference ...),
    None when the run did not record it."""
    if number(s, f"{prefix}.p_value") is None:
        return None
    return {k: s.get(f"{prefix}.{k}") for k in ("p_value", "only_a", "only_b", "difference", "diff_low", "diff_high",
                                                 "resolved")}


def paired_words(test: dict[str, Any] | None) -> str:
    """'difference +0.04 [-0.06, +0.14], McNemar p = 0.69' of a stored paired test ('' without one)."""
    if test is None:
        return ""
    return (f"{difference_words(test['difference'], test['diff_low'], test['diff_high'])}, "
            f"McNemar p = {test['p_value']:.2g}")


def resolved_side(test: dict[str, Any] | None) -> str | None:
    """'a' or 'b' where the stored test resolves a difference, '' where it does not, None without a test."""
    return None if test is None else (test.get("resolved") or "")
