"""C1's comparison of every method on equal footing: int8 made from the other methods' points in the
same sweep, every model timed in the deployment path and eagerly, the Pareto front, the deployment
target and the int8 findings."""
import pandas as pd
import pytest

import tests.plugins.toy  # noqa: F401  (registers ToyNet)
from helpers.deploy.onnx_graph import OnnxModel
from helpers.study import compression, compression_comparison, compression_latency
from tests.conftest import outcome_bits
from tests.test_study_compression import toy_sweep

PARAMS = {"compression_methods": ["int8", "channel"],  # int8 named first: it still runs after channel
          "compression_targets": {"channel": [2.0]},
          "compression_budgets": {"channel": {"epochs": 1, "lr": 1e-3}},
          "compression_settings": {"int8": {"calibration_per_class": 2}}, "dense_control_budget": "",
          "batch_size": 8, "amp": "off", "augment": False, "seed": 0, "alpha": 0.05}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    stage, data, dense, sweep = toy_sweep(tmp_path_factory.mktemp("c1"), PARAMS)
    latency, noise = compression_latency.time_all(dense, sweep, (1, 16, 16), stage.device, runs=2, warmup=1, rounds=1,
                                                   batch=2, batch_runs=2)
    return stage, data, dense, sweep, latency, noise


def test_int8_quantizes_what_channel_made_and_exists_only_in_the_deployment_path(setup):
    stage, data, dense, sweep, latency, noise = setup
    assert [(r.method, r.point) for r in sweep.records] == [("channel", "2x"), ("int8", "dense"), ("int8", "channel-2x")]
    assert isinstance(sweep.models["ToyNet", "int8", "dense"], OnnxModel)
    int8 = latency[latency.method == "int8"]
    assert int8.eager_b1_ms.isna().all() and (int8.latency_b1_ms > 0).all()
    dense_row = latency[latency.method == "dense"].iloc[0]
    assert int8.speedup.tolist() == pytest.approx((dense_row.latency_b1_ms / int8.latency_b1_ms).tolist())
    assert "Quantized to 8 bits: the dense model, every channel point. Fine-tuning budget: no fine-tuning" in \
        compression.methods_narrative(sweep, PARAMS)
    assert "- int8 (post-training static, ONNX Runtime): 2 models quantized in this run" in compression.work_summary(sweep)
    text, figures = sweep.methods["int8"].findings(sweep.made("int8"), dense)
    assert text.startswith("**int8, ToyNet** (int8 activations, int8 weights per output channel, minmax calibration; "
                           "calibrated on 6 training images): ")
    assert "\n\n- dense model: " in text and "\n- channel 2x: " in text and "MB for the fp32 graph" in text and not figures
    m = compression.metrics(sweep, dense, latency, pd.DataFrame(), {**PARAMS, "latency_batch": 2, "latency_runs": 2,
                                                                     "latency_batch_runs": 2, "latency_warmup": 1,
                                                                     "latency_rounds": 1}, stage.device, 1, noise)
    point = m["summary"]["ToyNet"]["int8"]["channel-2x"]
    assert point["macs"] == m["summary"]["ToyNet"]["channel"]["2x"]["macs"] and 0 <= point["agreement"] <= 1


def test_the_comparison_sets_every_point_beside_the_dense_model(setup):
    stage, data, dense, sweep, latency, noise = setup
    table = compression_comparison.points(sweep, dense, latency)
    assert list(table.method) == ["dense", "channel", "int8", "int8"]
    assert table.front.any()
    (caption, shown, label), = compression_comparison.tables(table, 2)
    assert label == "comparison_toynet" and list(shown.columns)[:3] == ["method", "point", "front"]
    (fig, what, _), = compression_comparison.comparison_figures(table)
    assert what == "comparison_toynet"
    assert "[Table](#tab:C1_comparison_toynet), [Figure](#fig:C1_comparison_toynet)" in \
        compression_comparison.front_sentence(table)
    lines = compression_comparison.path_lines(table)
    assert lines[0].startswith("- ToyNet: the dense model takes ") and "channel " in lines[0] and "int8" not in lines[0]


def _row(method, point, select_acc, ms, mb, select="", correct=""):
    return {"model": "M", "method": method, "point": point, "select_acc": select_acc, "latency_b1_ms": ms,
            "size_mb": mb, "select_correct": select, "correct": correct, "acc": 0.8, "n": 100,
            "speedup": 2.0 / ms}


def test_the_pareto_front_keeps_what_nothing_beats_on_all_three():
    table = pd.DataFrame([_row("dense", "–", 0.80, 2.0, 10.0), _row("a", "1", 0.80, 0.5, 0.9),
                          _row("b", "2", 0.78, 0.5, 0.9), _row("c", "3", 0.70, 0.4, 2.0), _row("d", "4", 0.80, 0.5, 0.9)])
    # b is beaten by a (and d) on accuracy; a and d tie on all three, so neither beats the other
    assert compression_comparison.pareto(table) == [False, True, False, True, True]


def test_the_deployment_target_is_chosen_on_the_selection_split():
    same = outcome_bits(100, 80)
    worse = outcome_bits(100, 50)  # 30 images lost: resolved below dense
    table = pd.DataFrame([_row("dense", "–", 0.80, 2.0, 10.0, same, same), _row("a", "1", 0.80, 0.5, 0.9, same, same),
                          _row("b", "2", 0.50, 0.2, 0.1, worse, same)])
    met = compression_comparison.deployment_target_lines(table, speedup=3.0, smaller=10.0, noise=0.1, alpha=0.05)
    assert met[0].startswith("- M (dense 2.00 ms, 10.00 MB): **met** by a 1, 4.00× faster") and "11.1× smaller" in met[0]
    missed = compression_comparison.deployment_target_lines(table, speedup=5.0, smaller=10.0, noise=0.1, alpha=0.05)
    # b is faster and smaller still, but resolved below dense on the selection split: never the choice
    assert "**missed**: of the 1 point without a resolved loss" in missed[0] and "the fastest is a 1 (4.00×" in missed[0]
    nothing = compression_comparison.deployment_target_lines(table[table.method != "a"], speedup=5.0, smaller=10.0,
                                                             noise=0.1, alpha=0.05)
    assert "**missed**: every point loses accuracy resolvably on the selection split" in nothing[0]
