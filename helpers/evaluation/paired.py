"""Paired comparison of two classifiers on the same images: McNemar's exact test.

Two models evaluated on the same images are not independent samples, so overlapping marginal
intervals say little about their difference. McNemar's test looks only at the discordant images
(right for one model, wrong for the other): under the null hypothesis of equal accuracy each
discordant image is equally likely to favour either model, so the count favouring A is
Binomial(b + c, 1/2) (McNemar 1947; the exact form, as Edwards 1948 and Dietterich 1998 advise
for the few discordant pairs of a small test set). `paired_bootstrap` gives the interval of the
difference instead, for any per-image score (correctness, robustness, a confidence): the images are
resampled with replacement, each keeping both models' scores (Efron & Tibshirani 1993, ch. 13).
"""
from __future__ import annotations

from typing import Any

import torch


def mcnemar(correct_a: torch.Tensor, correct_b: torch.Tensor) -> dict[str, Any]:
    """McNemar's exact two-sided test on bool [N] tensors (True where each model is right).

    Returns n, the accuracies, only_a (images A gets right and B wrong), only_b, and p_value (1.0
    when there is no discordant image)."""
    from scipy.stats import binomtest

    if correct_a.shape != correct_b.shape:
        raise ValueError(f"paired comparison needs the same images: {tuple(correct_a.shape)} != {tuple(correct_b.shape)}")
    a, b = correct_a.bool(), correct_b.bool()
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    p = binomtest(only_a, only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
    return {"n": int(a.numel()), "acc_a": int(a.sum()) / a.numel(), "acc_b": int(b.sum()) / b.numel(),
            "only_a": only_a, "only_b": only_b, "p_value": float(p)}


def describe(result: dict[str, Any], name_a: str, name_b: str, alpha: float = 0.05,
             interval: dict[str, Any] | None = None) -> str:
    """The comparison in words: the discordant images, the p-value (and, given `paired_bootstrap`'s
    result, the interval of the difference), and whether McNemar's test resolves it."""
    text = (f"{name_a} {result['acc_a']:.2f} against {name_b} {result['acc_b']:.2f} on the same {result['n']} images: "
            f"{result['only_a']} right only for {name_a}, {result['only_b']} only for {name_b} (McNemar's exact test, "
            f"p = {result['p_value']:.2g}")
    if interval is not None:
        text += (f"; {difference_words(interval['difference'], interval['ci_low'], interval['ci_high'])}, "
                 f"{100 * interval['confidence']:g} % paired bootstrap")
    text += ")"
    if result["p_value"] < alpha:
        return text + f": the difference is resolved at the {alpha:g} level."
    return text + ": the difference is not resolved."


def paired_bootstrap(score_a: torch.Tensor, score_b: torch.Tensor, *, confidence: float = 0.95,
                     n_resamples: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """The mean difference of two per-image scores on the same images (float or bool [N]; A − B)
    with its percentile bootstrap interval, the images resampled in pairs (scipy.stats.bootstrap,
    paired=True, seeded). `resolved` is True when the interval excludes 0."""
    from scipy.stats import bootstrap

    if score_a.shape != score_b.shape or score_a.dim() != 1:
        raise ValueError(f"paired comparison needs one score per image for the same images: "
                         f"{tuple(score_a.shape)} and {tuple(score_b.shape)}")
    a, b = score_a.double().cpu().numpy(), score_b.double().cpu().numpy()
    diff = float(a.mean() - b.mean())
    if (a == b).all():  # every resample has difference 0; scipy refuses a degenerate distribution
        low = high = diff
    else:
        ci = bootstrap((a, b), lambda x, y, axis=-1: x.mean(axis=axis) - y.mean(axis=axis), paired=True,
                       vectorized=True, confidence_level=confidence, n_resamples=n_resamples,
                       method="percentile", rng=seed).confidence_interval
        low, high = float(ci.low), float(ci.high)
    return {"n": len(a), "mean_a": float(a.mean()), "mean_b": float(b.mean()), "difference": diff,
            "ci_low": low, "ci_high": high, "confidence": confidence, "resolved": bool(low > 0 or high < 0)}


def paired_bootstrap_outcomes(a: torch.Tensor, b: torch.Tensor, *, confidence: float = 0.95,
                              n_resamples: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """`paired_bootstrap` for right/wrong outcomes (bool [N]), drawn in O(n_resamples) instead of
    O(n_resamples · N): a resample of N image pairs with replacement is multinomial over the three
    kinds of pair (right only for A, right only for B, the same for both), and its difference is
    (only_a − only_b) / N. The same percentile interval in distribution, 10,000 images or 50."""
    import numpy as np

    if a.shape != b.shape or a.dim() != 1:
        raise ValueError(f"paired comparison needs one outcome per image for the same images: "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    n = a.numel()
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    diff = (only_a - only_b) / n
    if only_a + only_b == 0:
        low = high = diff
    else:
        counts = np.random.default_rng(seed).multinomial(n, [only_a / n, only_b / n, 1 - (only_a + only_b) / n],
                                                         size=n_resamples)
        tail = 100 * (1 - confidence) / 2
        low, high = (float(v) for v in np.percentile((counts[:, 0] - counts[:, 1]) / n, [tail, 100 - tail]))
    return {"n": n, "mean_a": int(a.sum()) / n, "mean_b": int(b.sum()) / n, "difference": diff, "ci_low": low,
            "ci_high": high, "confidence": confidence, "resolved": bool(low > 0 or high < 0)}


# Per-image outcomes travel in the metrics JSON as strings of '0' and '1' (one character per image,
# in the split's order): readable, diffable, and 10,000 images cost 10 kB.
def encode(flags: torch.Tensor) -> str:
    """bool [N] -> '0110…' (one character per image)."""
    return bytes(flags.bool().cpu().numpy().astype("uint8") + ord("0")).decode("ascii")


def decode(text: str) -> torch.Tensor:
    """'0110…' -> bool [N] (`encode`'s inverse)."""
    if set(text) - {"0", "1"}:
        raise ValueError(f"a per-image outcome string holds only '0' and '1', got {sorted(set(text) - {'0', '1'})}")
    return torch.frombuffer(bytearray(text.encode("ascii")), dtype=torch.uint8) == ord("1")


def compare(outcome_a, outcome_b, *, alpha: float = 0.05, seed: int = 0) -> dict[str, Any]:
    """Two models' per-image outcomes on the same images (bool [N] tensors or `encode` strings; True =
    right, or robust): McNemar's exact test and the paired bootstrap interval of the difference.
    `better` names the side the test resolves ('a', 'b'), or is None when p ≥ `alpha`."""
    a = decode(outcome_a) if isinstance(outcome_a, str) else outcome_a.bool()
    b = decode(outcome_b) if isinstance(outcome_b, str) else outcome_b.bool()
    test = mcnemar(a, b)
    interval = paired_bootstrap_outcomes(a, b, seed=seed)
    better = None
    if test["p_value"] < alpha:
        better = "a" if test["only_a"] > test["only_b"] else "b"
    return {**test, "difference": interval["difference"], "ci_low": interval["ci_low"],
            "ci_high": interval["ci_high"], "alpha": alpha, "better": better}


def difference_words(difference: float, low: float, high: float) -> str:
    """'difference -0.04 [-0.12, +0.04]': two decimals, three where the whole interval lies within
    ±0.05 (a LeNet on 10,000 images resolves a tenth of a point; '-0.00 [-0.00, +0.00]' says nothing)."""
    digits = 3 if max(abs(difference), abs(low), abs(high)) < 0.05 else 2
    return f"difference {difference:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def evidence(result: dict[str, Any]) -> str:
    """The paired evidence in brackets' words: 'difference −0.04 [−0.12, +0.04], 3 against 5
    discordant images, McNemar p = 0.73'."""
    return (f"{difference_words(result['difference'], result['ci_low'], result['ci_high'])}, "
            f"{result['only_a']} against {result['only_b']} discordant images, McNemar p = {result['p_value']:.2g}")


def verdict(result: dict[str, Any], better: str, worse: str, same: str = "not resolved") -> str:
    """`better` when the test resolves A over B, `worse` when it resolves B over A, else `same`."""
    return {"a": better, "b": worse}.get(result["better"], same)


def as_summary(result: dict[str, Any]) -> dict[str, Any]:
    """A `compare` result as the scalar keys a metrics summary carries (and summary.json after it):
    p_value, only_a, only_b, difference, diff_low, diff_high, resolved ('a', 'b' or '')."""
    return {"p_value": result["p_value"], "only_a": result["only_a"], "only_b": result["only_b"],
            "difference": result["difference"], "diff_low": result["ci_low"], "diff_high": result["ci_high"],
            "resolved": result["better"] or ""}


def best_resolved(outcomes: dict[str, Any], alpha: float, tie_break) -> tuple[str, list[str], dict[str, dict]]:
    """A choice on resolved differences only: of candidates with per-image outcomes on the same images
    (`encode` strings or bool tensors), the best-scoring one and every candidate McNemar's test does not
    resolve below it are tied; `tie_break(name)` orders the tied ones (e.g. (parameters, seconds):
    the smaller, then the faster) and the first wins. Returns (choice, tied, tests against the best)."""
    score = {k: float((decode(v) if isinstance(v, str) else v).float().mean()) for k, v in outcomes.items()}
    best = max(outcomes, key=lambda k: score[k])
    tests = {k: compare(v, outcomes[best], alpha=alpha) for k, v in outcomes.items() if k != best}
    tied = [best] + [k for k, t in tests.items() if t["better"] != "b"]
    return min(tied, key=tie_break), tied, tests
