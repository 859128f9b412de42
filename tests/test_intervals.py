import math

import pytest
from scipy.stats import binomtest

from helpers.evaluation.intervals import count_of, format_rate, mean_and_std, overlap, wilson, wilson_of_rate


@pytest.mark.parametrize("k,n", [(0, 50), (1, 50), (25, 50), (41, 50), (50, 50), (3, 7), (111, 140)])
def test_wilson_matches_scipy(k, n):
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson(k, n)
    assert low == pytest.approx(ref.low, abs=1e-9) and high == pytest.approx(ref.high, abs=1e-9)


def test_wilson_edges_and_errors():
    assert all(math.isnan(v) for v in wilson(0, 0))
    with pytest.raises(ValueError, match="0 <= successes <= n"):
        wilson(5, 4)
    low, high = wilson(0, 50)
    assert low == pytest.approx(0.0, abs=1e-12) and 0 < high < 0.1


def test_rates_map_back_to_counts():
    assert count_of(0.82, 50) == 41
    assert wilson_of_rate(0.82, 50) == wilson(41, 50)
    with pytest.raises(ValueError, match="not a count out of 50"):
        count_of(0.8123, 50)
    assert format_rate(0.82, 50) == "0.82 [0.69, 0.90]"
    assert format_rate(float("nan"), 50) == "–"


def test_mean_std_and_overlap():
    mean, std = mean_and_std([0.7, 0.74, 0.78])
    assert mean == pytest.approx(0.74) and std == pytest.approx(0.04)
    assert math.isnan(mean_and_std([0.5])[1])
    assert overlap((0.6, 0.8), (0.75, 0.9)) and not overlap((0.1, 0.2), (0.3, 0.4))
