"""95 % intervals for proportions (accuracies, success rates) and for means over seeds.

Every accuracy and success rate of the study is a proportion k / n over a small set (the
validation split has 50 images), so each is reported with its Wilson score interval
(Wilson 1927, "Probable inference, the law of succession, and statistical inference", JASA 22):
unlike the normal approximation it stays inside [0, 1] and keeps its coverage near 0 and 1.
"""
from __future__ import annotations

import math
from typing import Sequence

Z95 = 1.959963984540054  # the standard normal quantile of 0.975


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (low, high) of the proportion successes / n; (nan, nan) when n = 0."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"wilson: need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return (0.0 if successes == 0 else low), (1.0 if successes == n else high)


def count_of(rate: float, n: int) -> int:
    """The number of successes behind a rate measured on n items (rates are stored rounded)."""
    k = round(rate * n)
    if abs(k - rate * n) > 1e-6 * max(1, n):
        raise ValueError(f"rate {rate} is not a count out of {n}")
    return int(k)


def wilson_of_rate(rate: float, n: int) -> tuple[float, float]:
    """Wilson interval of a rate that was measured as a proportion of n items."""
    return wilson(count_of(rate, n), n)


def format_rate(rate: float, n: int, digits: int = 2) -> str:
    """'0.82 [0.69, 0.90]': the rate and its 95 % Wilson interval, for tables and prose."""
    if rate is None or n is None or (isinstance(rate, float) and math.isnan(rate)) or n == 0:
        return "–"
    low, high = wilson_of_rate(rate, n)
    return f"{rate:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def mean_and_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; nan for a single value)."""
    vals = [float(v) for v in values]
    if not vals:
        return float("nan"), float("nan")
    mean = sum(vals) / len(vals)
    if len(vals) < 2:
        return mean, float("nan")
    return mean, math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether two intervals (low, high) overlap: a comparison between them is not resolved."""
    return a[0] <= b[1] and b[0] <= a[1]


def rates_differ(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of Fisher's exact test that k1/n1 and k2/n2 estimate the same rate.

    For rates over different sets of inputs (e.g. conditional transfer rates, whose denominators
    are each source's successes), where no image-by-image pairing exists; it is conservative where
    the two sets share images. Rates over the same images use `evaluation.paired.compare`."""
    if not n1 or not n2:
        return 1.0
    from scipy.stats import fisher_exact
    return float(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)
