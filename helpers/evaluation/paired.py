"""Paired comparison of two classifiers on the same images: McNemar's exact test.

Two models evaluated on the same images are not independent samples, so overlapping marginal
intervals say little about their difference. McNemar's test looks only at the discordant images
(right for one model, wrong for the other): under the null hypothesis of equal accuracy each
discordant image is equally likely to favour either model, so the count favouring A is
Binomial(b + c, 1/2) (McNemar 1947; the exact form, as Edwards 1948 and Dietterich 1998 advise
for the few discordant pairs of a small test set).
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


def describe(result: dict[str, Any], name_a: str, name_b: str, alpha: float = 0.05) -> str:
    """The comparison in words: the discordant images, the p-value, and whether it is resolved."""
    text = (f"{name_a} {result['acc_a']:.2f} against {name_b} {result['acc_b']:.2f} on the same {result['n']} images: "
            f"{result['only_a']} right only for {name_a}, {result['only_b']} only for {name_b} (McNemar's exact test, "
            f"p = {result['p_value']:.2g})")
    if result["p_value"] < alpha:
        return text + f": the difference is resolved at the {alpha:g} level."
    return text + ": the difference is not resolved."
