"""C2's steps: variants from C1's metrics, the robustness verdicts, the needed ε, the deployment
rule and the metrics, on fixed numbers whose answers are known."""
from pathlib import Path

import pandas as pd
import pytest

from helpers.core.layout import RunLayout
from helpers.study import compressed_robustness, robustness_discussion
from helpers.study.compressed_robustness import Variant

EPS = [0.01, 0.03, 0.1]


def _whitebox(rates: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"model": "M", "name": name, "method": name.split()[0], "point": name.split()[-1], "attack": "pgd",
             "goal": "untargeted", "eps": e, "success_rate": r, "robust_acc": 1 - r, "iterations_mean": 2.0,
             "n_eligible": 10, "n_success": int(10 * r), "confidence_wrong": 0.5}
            for name, rs in rates.items() for e, r in zip(EPS, rs)]
    return pd.DataFrame(rows)


def test_verdicts_compare_mean_success_with_the_margin():
    attacked = _whitebox({"dense": [0.5, 0.8, 1.0], "global s0.5": [0.3, 0.6, 0.9], "global s0.8": [0.5, 0.8, 0.95],
                          "channel 2x": [0.7, 0.9, 1.0]})
    means, verdict = robustness_discussion.verdicts(attacked, "pgd", 0.05)
    assert means["M"]["dense"] == pytest.approx(0.7667, abs=1e-3)
    assert verdict["M"] == {"global s0.5": "more robust", "global s0.8": "about as robust", "channel 2x": "less robust"}
    need = robustness_discussion.needed_eps(attacked, EPS, 0.9)
    assert need == {"dense": 0.1, "global s0.5": 0.1, "global s0.8": 0.1, "channel 2x": 0.03}


def _variant(method, point, acc, ms, mb):
    return Variant("M", method, point, 0.5, Path("x.pt"), acc, ms, mb)


def test_deployment_picks_the_fastest_qualifying_model_or_keeps_the_dense_one():
    by_model = {"M": [_variant("dense", "–", 0.80, 10.0, 10.0), _variant("global", "s0.5", 0.79, 9.0, 5.0),
                      _variant("channel", "2x", 0.79, 4.0, 3.0), _variant("channel", "4x", 0.70, 2.0, 1.0)]}
    means = {"M": pd.Series({"dense": 0.8, "global s0.5": 0.8, "channel 2x": 0.9, "channel 4x": 0.8})}
    verdict = {"M": {"global s0.5": "about as robust", "channel 2x": "less robust", "channel 4x": "about as robust"}}
    picks, text = robustness_discussion.recommend(by_model, means, verdict, 0.02, "pgd")
    assert picks == {"M": "global s0.5"}  # 2x is less robust, 4x loses 10 points
    assert "1 compressed model qualified" in text and "1.1× faster" in text
    verdict["M"]["global s0.5"] = "less robust"
    picks, text = robustness_discussion.recommend(by_model, means, verdict, 0.02, "pgd")
    assert picks == {"M": "dense"} and "no compressed model qualified" in text


def test_variants_come_from_c1_metrics_with_the_dense_model_first(tmp_path):
    c1 = {"summary": {"M": {"dense": {"acc": 0.8, "latency_b1_ms": 5.0, "size_mb": 10.0, "params": 100}}},
          "records": [{"model": "M", "method": "global", "point": "s0.8", "nonzero": 20, "path": "checkpoints/global/M-s0.8.pt",
                       "acc": 0.78, "latency_b1_ms": 5.1, "size_compressed_mb": 2.0},
                      {"model": "N", "method": "global", "point": "s0.8", "nonzero": 20, "path": "n.pt", "acc": 0.5,
                       "latency_b1_ms": 1.0, "size_compressed_mb": 1.0}]}
    layout = RunLayout(tmp_path, tmp_path / "figures")
    found = compressed_robustness.variants(c1, layout, ["M"])["M"]
    assert [v.name for v in found] == ["dense", "global s0.8"]
    assert found[0].path == layout.trained("M") and found[1].removed == pytest.approx(0.8)
    assert found[1].path == tmp_path / "checkpoints" / "global" / "M-s0.8.pt"


def test_metrics_nest_the_dense_model_and_each_compressed_point():
    attacked = _whitebox({"dense": [0.5, 0.8, 1.0], "global s0.5": [0.3, 0.6, 0.9]})
    replayed = attacked.assign(transfer_rate=0.5, l2_success=1.0, linf=0.03)
    m = robustness_discussion.metrics(replayed, attacked, {"M": "global s0.5"}, {"fixed_set": 1.0, "whitebox": 2.0}, 0.03)
    s = m["summary"]
    assert s["M"]["recommended"] == "global s0.5" and s["fixed_set_s"] == 1.0
    assert s["M"]["dense"]["whitebox"]["pgd"]["untargeted"]["eps0.1"]["success_rate"] == 1.0
    assert s["M"]["global"]["s0.5"]["pgd"]["untargeted"]["success_rate"] == 0.6  # at ε = 0.03
    assert s["M"]["global"]["s0.5"]["pgd"]["untargeted"]["success_rate_by_eps"]["eps0.01"] == 0.3
