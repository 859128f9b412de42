"""C2: do a model's adversarial inputs fool its compressed versions more readily than another
architecture? Each source's conditional transfer rate to every compressed version (C2's replay of
B1's fixed set) is set against its conditional transfer rate to each other model (B2), version by
version with Fisher's exact test: the two rates count different inputs, so there is no pairing."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ..evaluation.intervals import format_rate, rates_differ
from ..report.wording import span
from ..robustness import eps_key
from .compressed_robustness import DENSE

SIDES = ("above", "below", "not resolved")


def _side(row, cross: float, n_cross: int, alpha: float) -> str:
    """'above', 'below' or 'not resolved': one compressed version's conditional transfer rate against
    the other architecture's, by Fisher's exact test at `alpha`."""
    n = int(row.n_source_success)
    k = round(row.conditional_transfer_rate * n)
    if rates_differ(k, n, round(cross * n_cross), n_cross) >= alpha:
        return "not resolved"
    return "above" if row.conditional_transfer_rate > cross else "below"


def comparison(replayed: pd.DataFrame, b2: dict[str, Any], attack: str, eps: float, alpha: float) -> list[dict]:
    """One row per (source, other architecture) with B2's rate and its compressed versions' rates of
    untargeted `attack` at `eps`: the rates, and how many versions lie resolvably above, below or
    not resolved from the other architecture's rate."""
    names, rows = list(dict.fromkeys(replayed.model)), []
    for name in names:
        own = replayed[(replayed.model == name) & (replayed.method != DENSE) & (replayed.attack == attack)
                       & (replayed.goal == "untargeted") & (replayed.eps == eps)].dropna(subset=["conditional_transfer_rate"])
        for other in names:
            node = b2.get(f"{name}_to_{other}", {}).get(attack, {}).get("untargeted", {}).get(eps_key(eps), {})
            cross, n_cross = node.get("conditional_transfer_rate"), node.get("n_source_success")
            if cross is None or not n_cross or own.empty:
                continue
            sides = [_side(r, cross, int(n_cross), alpha) for r in own.itertuples()]
            rows.append({"source": name, "other": other, "cross": cross, "n_cross": int(n_cross),
                         "versions": len(sides), "span": span(own.conditional_transfer_rate),
                         **{side: sides.count(side) for side in SIDES}})
    return rows


def table(rows: list[dict]) -> pd.DataFrame:
    """The comparison as a table for the report."""
    return pd.DataFrame([{"source": r["source"], "other architecture": r["other"],
                          "to it (B2)": format_rate(r["cross"], r["n_cross"]),
                          "to its compressed versions": r["span"], "versions": r["versions"],
                          **{side: r[side] for side in SIDES}} for r in rows])


def _pairs(rows: list[dict]) -> str:
    return ", ".join(f"{r['source']} against {r['other']}" for r in rows)


def sentence(rows: list[dict], attack: str, eps: float, label: str) -> str:
    """What the comparison answers: in which (source, other architecture) pairs every compressed
    version keeps resolvably more of the vulnerability, every one less, or no single reading holds."""
    more = [r for r in rows if r["above"] == r["versions"]]
    less = [r for r in rows if r["below"] == r["versions"]]
    mixed = [r for r in rows if r not in more and r not in less]
    parts = ([f"every compressed version keeps resolvably more of the vulnerability than the other architecture "
              f"in {len(more)} of the {len(rows)} pairs ({_pairs(more)})"] if more else []) + \
        ([f"every version keeps less in {len(less)} ({_pairs(less)})"] if less else []) + \
        ([f"no single reading holds for every version in {len(mixed)}"
          + (f" ({_pairs(mixed)})" if len(mixed) < len(rows) else "")] if mixed else [])
    return (f"Do adversarial inputs fool a model's compressed versions more readily than another architecture? Of "
            f"each source's untargeted {attack.upper()} inputs at ε = {eps:g} that fool it, the share that also fools "
            "each compressed version is set against the share that fools the other architecture (B2), version by "
            f"version with Fisher's exact test (the two rates count different inputs; [Table](#tab:C2_{label})): "
            + "; ".join(parts) + ".")
