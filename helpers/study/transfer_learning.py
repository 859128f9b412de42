"""A2's reading of pretrained models: what each transfer-learning regime trains, costs and reaches,
the regimes compared image by image with each other and with the best model trained from scratch,
and what the study's pixel grid costs (a model that sees the grid shrunk, `view_size`, against the
same regime on the full grid). Every claim stands on McNemar's test on the selection split."""
from __future__ import annotations

from typing import Any

from ..evaluation.intervals import format_rate
from ..evaluation.paired import difference_words
from ..models.registry import get_spec
from ..report.wording import joined


def pretrained(models) -> list[str]:
    """The models that start from pretrained weights (their spec names a weights file)."""
    return [m for m in models if get_spec(m).weights is not None]


def _pair(pairs: dict[str, dict[str, Any]], a: str, b: str, split: str = "selection") -> dict[str, Any] | None:
    """`a` against `b` on `split`, oriented so that 'only_a' counts images only `a` gets right."""
    if f"{a}_vs_{b}" in pairs:
        return pairs[f"{a}_vs_{b}"].get(split)
    t = pairs.get(f"{b}_vs_{a}", {}).get(split)
    if t is None:
        return None
    return {**t, "only_a": t["only_b"], "only_b": t["only_a"], "difference": -t["difference"],
            "diff_low": -t["diff_high"], "diff_high": -t["diff_low"]}


def _verdict(a: str, b: str, t: dict[str, Any] | None) -> str:
    if t is None:
        return f"{a} against {b}: not compared"
    words = (f"{t['only_a']} selection images right only for {a}, {t['only_b']} only for {b}, "
             f"{difference_words(t['difference'], t['diff_low'], t['diff_high'])}, McNemar p = {t['p_value']:.2g}")
    if not t["resolved"]:
        return f"{a} against {b}: not resolved ({words})"
    return f"{a} is resolved {'more' if t['difference'] > 0 else 'less'} accurate than {b} ({words})"


def _regime_line(m: str, s: dict[str, Any], n: dict[str, int]) -> str:
    spec = get_spec(m)
    trained = s.get("trained_params", s["params"])
    share = "every one" if trained == s["params"] else f"{trained:,}"
    features = s.get("features_s")
    cost = f"{s['total_train_s']:.0f} s of training" + (
        f" ({features:.0f} s of it computing the frozen part's features once)" if features else "")
    return (f"- **{m}** ({spec.variant}): trains {share} of its {s['params']:,} parameters, {cost}; selection "
            f"{format_rate(s['select_acc'], n['selection'])}, validation {format_rate(s['val_acc'], n['valid'])}.")


def regimes_text(headline: dict[str, dict[str, Any]], pairs: dict[str, dict[str, Any]], n: dict[str, int]) -> str:
    """The regimes of each pretrained network (most trained last), each against the next and the
    best from-scratch model (by selection accuracy), on the selection split; empty when every model
    is trained from scratch (the report then leaves the section out)."""
    pre = [m for m in pretrained(headline) if not get_spec(m).settings.get("view_size")]
    if not pre:
        return ""
    scratch = [m for m in headline if m not in pretrained(headline)]
    order = sorted(pre, key=lambda m: headline[m].get("trained_params", headline[m]["params"]))
    lines = [_regime_line(m, headline[m], n) for m in order]
    tests = [_verdict(b, a, _pair(pairs, b, a)) for a, b in zip(order, order[1:])]
    if scratch:
        best = max(scratch, key=lambda m: headline[m]["select_acc"])
        tests += [_verdict(m, best, _pair(pairs, m, best)) for m in order]
    return ("Transfer learning starts from ImageNet weights and trains more or less of the network: "
            "from the new classifier alone on features computed once, to every layer. The regimes, fewest "
            "trained parameters first:\n\n" + "\n".join(lines) + "\n\nOn the selection split, image by image:\n\n"
            + "\n".join(f"- {t}." for t in tests))


def grid_text(headline: dict[str, dict[str, Any]], pairs: dict[str, dict[str, Any]], n: dict[str, int],
              image_size: int) -> str:
    """Why one pixel grid, and what it costs: each model that sees the grid shrunk (`view_size`)
    against the same regime on the full grid. Empty when every model computes at the grid's size:
    there is no choice to explain."""
    sizes = {m: get_spec(m).native_size for m in headline}
    own = sorted({s for s in sizes.values() if s})
    if not set(own) - {image_size}:
        return ""
    text = (f"Every model reads the same {image_size} px grid of pixels, so an ε of an attack bounds the same "
            "pixels for every model and B2 can carry an attack from any model to any other; each model resizes the "
            f"grid inside to the size it computes at ({joined([f'{m} {s} px' for m, s in sizes.items() if s])}"
            "). A network that computes at 32 px takes the mean of each cell of the finer grid, so a perturbation of "
            "ε stays one of at most ε for it. Storing each model's images at its own size instead would leave B2 to "
            "resize adversarial images between grids, where ε would count pixels of different sizes.")
    if image_size < max(own, default=0):
        text += f" This grid is coarser than {max(own)} px: the models that compute finer see enlarged pixels."
    controls = [m for m in headline if get_spec(m).settings.get("view_size")]
    for m in controls:
        spec = get_spec(m)
        same = [r for r in headline if r != m and get_spec(r).build is spec.build
                and {k: v for k, v in spec.settings.items() if k != "view_size"} == get_spec(r).settings]
        if not same:
            continue
        view, t = spec.settings["view_size"], _pair(pairs, same[0], m)
        text += (f"\n\nWhat the grid buys: **{m}** is {same[0]} shown the grid shrunk to {view} px (the small CNNs' "
                 f"resolution) and enlarged again inside. Selection {format_rate(headline[m]['select_acc'], n['selection'])}"
                 f" against {format_rate(headline[same[0]]['select_acc'], n['selection'])} on the {image_size} px grid; "
                 + _verdict(same[0], m, t) + ".")
    return text
