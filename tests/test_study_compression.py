"""C1's steps on a tiny model and data: the sweep over registered methods, reuse, skipped targets,
the round-trip check, the readings and the metrics."""
import pandas as pd
import pytest
import torch

import tests.plugins.toy  # noqa: F401  (registers ToyNet and toy_halving)
from helpers.compression import BaseModel, CompressionRecord, FineTuneBudget
from helpers.core.device import pick_device
from helpers.core.layout import RunLayout
from helpers.models import build_model
from helpers.models.checkpoints import save_checkpoint
from helpers.study import compression, compression_analysis, compression_latency
from helpers.data import carve_selection
from tests.plugins.toy import load_toy_grey
from tests.conftest import outcome_bits


class _Stage:
    """What the C1 steps use of a notebook's stage."""

    def __init__(self, root):
        self.layout, self.device = RunLayout(root, root / "figures"), pick_device("cpu")

    def trained_model(self, name):
        from helpers.models.checkpoints import load_model
        return load_model(self.layout.trained(name), name)


PARAMS = {"compression_methods": ["global", "channel", "toy_halving"],
          "compression_targets": {"global": [0.5], "channel": [2.0, 2.05]},
          "compression_budgets": {"global": {"epochs": 1}, "channel": {"epochs": 1, "lr": 1e-3}},
          "compression_settings": {}, "dense_control_budget": "channel", "batch_size": 8, "amp": "off", "augment": False, "seed": 0,
          "latency_batch": 2, "latency_runs": 2, "latency_batch_runs": 2, "latency_warmup": 1, "latency_rounds": 1,
          "alpha": 0.05}


def toy_sweep(root, params: dict):
    """(stage, data, dense, sweep): a seeded ToyNet saved as A2's model in `root`, its dense figures
    and C1's sweep over it with `params`."""
    data = carve_selection(load_toy_grey("", 16, subset_per_class=4), 1, 0)
    torch.manual_seed(0)
    stage = _Stage(root)
    model = build_model("ToyNet", num_classes=3, mean=data.mean, std=data.std)
    save_checkpoint(stage.layout.trained("ToyNet"), model, "ToyNet",
                    {"num_classes": 3, "mean": data.mean, "std": data.std}, run_key="toy", classes=data.classes)
    dense = compression.dense_models(stage, data, ["ToyNet"])
    return stage, data, dense, compression.run_sweep(stage, data, dense, params)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return toy_sweep(tmp_path_factory.mktemp("c1"), PARAMS)


def test_sweep_applies_every_method_and_skips_a_target_that_reaches_no_new_model(setup):
    stage, data, dense, sweep = setup
    made = sweep.table()
    assert list(made.method) == ["global", "channel", "toy_halving"]  # one point each (2.05 rounds to 2)
    skipped = [r for r in sweep.records if r.skipped]
    assert len(skipped) == 1 and skipped[0].point == "2.05x" and skipped[0].skipped == "the same widths as 2x"
    for r in made.itertuples():
        assert stage.layout.resolve(r.path).exists() and stage.layout.resolve(r.compressed_path).exists()
        assert 0 <= r.acc <= 1 and r.nonzero <= r.params
    glob = made[made.method == "global"].iloc[0]
    assert glob.sparsity == pytest.approx(0.5, abs=0.01) and glob.size_compressed_mb < glob.size_mb
    chan = made[made.method == "channel"].iloc[0]
    assert dense["ToyNet"][1]["macs"] / chan.macs > 1.3 and chan.params < dense["ToyNet"][1]["params"]
    summary = compression.work_summary(sweep)
    assert "ToyNet 2.05x (the same widths as 2x)" in summary and "reused" not in summary


def test_a_second_sweep_reuses_every_checkpoint_and_says_when_it_was_made(setup):
    stage, data, dense, sweep = setup
    again = compression.run_sweep(stage, data, dense, PARAMS)
    made = [r for r in again.records if not r.skipped]
    assert all(r.reused for r in made)
    first = {(r.method, r.point): r.created_at for r in sweep.records if not r.skipped}
    assert {(r.method, r.point): r.created_at for r in made} == first
    text = compression.work_summary(again)
    assert "global magnitude pruning: its only model reused from checkpoint written at" in text
    assert "this run spent" in text and "fine-tuned now" not in text
    assert again.controls["ToyNet"].reused and again.controls["ToyNet"].created_at == sweep.controls["ToyNet"].created_at


def test_unequal_budgets_are_said(setup):
    text = compression.methods_narrative(setup[3])
    assert "do **not** get equal fine-tuning budgets" in text and "channel: 1 epochs" not in text
    assert "toy_halving" in text and "1 epoch at learning rate" in text


def _record(method, point, target, acc, size=1.0, acc_pre=0.5):
    """A record right on the first 100 × acc of 100 validation images (the dense model: the first 80)."""
    return CompressionRecord("M", method, "unstructured", target, point, params=100, nonzero=50, sparsity=target,
                             macs=10, acc_pre_ft=acc_pre, acc=acc, size_mb=4.0, size_compressed_mb=size,
                             correct=outcome_bits(100, round(100 * acc)))


class _Sweep:
    def __init__(self, records, methods):
        self.records, self.methods = records, methods

    def made(self, name):
        return [r for r in self.records if r.method == name]


def test_losses_are_stated_only_where_the_paired_test_resolves_them():
    from helpers.compression.global_magnitude import GlobalMagnitude
    sweep = _Sweep([_record("global", "s0.5", 0.5, 0.80), _record("global", "s0.8", 0.8, 0.79, size=1.5),
                    _record("global", "s0.9", 0.9, 0.70)], {"global": GlobalMagnitude()})
    dense = {"M": (None, {"acc": 0.80, "size_mb": 4.0, "params": 100, "macs": 10, "n": 100, "correct": outcome_bits(100, 80)})}
    lines = compression_analysis.kept_accuracy_lines(sweep, dense, 0.05)
    # s0.9 loses 10 images and gains none (p = 0.002); s0.8 loses one (p = 1)
    assert lines[0].startswith("- M, global magnitude pruning ([Table](#tab:C1_global_M)): fine-tuned accuracies "
                               "0.70–0.80 against the dense 0.80; lost at s0.9 (0.70; difference -0.10")
    assert "McNemar p = 0.002); the other 2 are not resolved. Without fine-tuning: 0.50 at s0.9." in lines[0]
    single = compression_analysis.kept_accuracy_lines(_Sweep([_record("global", "s0.9", 0.9, 0.70)],
                                                             {"global": GlobalMagnitude()}), dense, 0.05)
    assert "fine-tuned accuracy 0.70 against the dense 0.80; lost at s0.9 (0.70;" in single[0]
    assert "McNemar p = 0.002). Without" in single[0] and "other" not in single[0]
    kept = compression_analysis.kept_accuracy_lines(_Sweep([_record("global", "s0.8", 0.8, 0.79)],
                                                           {"global": GlobalMagnitude()}), dense, 0.05)
    assert "not resolvably different from the dense model (s0.8: difference" in kept[0]
    target = compression_analysis.sparsity_target_lines(sweep, dense, 0.8, 3.0, 0.05)
    assert len(target) == 1 and "0 against 1 discordant images, McNemar p = 1" in target[0]
    assert "target: no resolved loss, met); compact" in target[0]
    assert "2.7× smaller" in target[0] and "at least 3×, missed" in target[0]
    assert "McNemar's exact test" in compression_analysis.paired_sentence(dense, 0.05)


def test_every_model_is_timed_together_and_speedups_are_over_its_dense_model(setup):
    stage, data, dense, sweep = setup
    latency, noise = compression_latency.time_all(dense, sweep, (1, 16, 16), stage.device, runs=4, warmup=1, rounds=2,
                                                   batch=2, batch_runs=4)
    assert len(latency) == 1 + len(sweep.models)  # the identical copy timed for the noise is not a row
    # one ratio per round, batch size, path and dense model, from the copy timed beside it
    assert noise["n_ratios"] == 2 * 2 * 2 * len(dense) and noise["noise"] >= 0
    assert noise["ratio_min"] <= 1 + noise["noise"] and "identical copy" in compression_latency.noise_sentence(noise)
    d = latency[latency.method == "dense"].iloc[0]
    assert d.speedup == pytest.approx(1.0) and d.speedup_b2 == pytest.approx(1.0)
    row = latency[latency.method == "channel"].iloc[0]
    assert row.speedup == pytest.approx(d.latency_b1_ms / row.latency_b1_ms)
    # both paths, each over the dense model in the same path
    assert d.eager_speedup == pytest.approx(1.0) and row.eager_speedup == pytest.approx(d.eager_b1_ms / row.eager_b1_ms)
    assert latency[["latency_b1_ms", "eager_b1_ms", "latency_b2_ms", "eager_b2_ms"]].gt(0).all().all()
    lines = compression_latency.speed_lines(sweep, dense, latency, alpha=0.0, target_speedup=1e9, noise=0.0)
    assert any("channel pruning" in line and "short of the 1e+09× target speedup" in line for line in lines)
    # no speedup beyond the noise: every (model, method) summarised in one line
    still, = compression_latency.speed_lines(sweep, dense, latency, alpha=0.0, target_speedup=1e9, noise=1e9)
    assert "none beyond the" in still and "ToyNet channel pruning" in still and "buy is size" in still
    metrics = compression.metrics(sweep, dense, latency, pd.DataFrame(), PARAMS, stage.device, 2, noise)
    assert metrics["summary"]["latency_noise"] == noise["noise"] and "correct" not in metrics["summary"]["ToyNet"]["dense"]
    point = metrics["summary"]["ToyNet"]["channel"]["2x"]
    assert {"acc", "acc_pre_ft", "speedup", "latency_b1_ms", "mac_reduction", "size_compressed_mb", "reused"} <= set(point)
    assert metrics["summary"]["ToyNet"]["dense"]["latency_b1_ms"] > 0
    assert len(metrics["records"]) == 3 and metrics["skipped"][0]["point"] == "2.05x"


def test_layer_sensitivity_prunes_each_layer_alone(setup):
    stage, data, dense, _ = setup
    table = compression_analysis.layer_sensitivity(dense, [0.5, 0.9], data, stage.device)
    assert list(table.layer) == ["features.0", "features.3", "head.2"] * 2
    assert table.global_sparsity.between(0, 1).all()
    at = table.groupby("amount").global_sparsity.mean()
    assert at[0.9] > at[0.5]  # a larger fraction prunes every layer at least as much
    text = compression_analysis.sensitivity_text(table)
    # summarised once per model, not one templated sentence per fraction
    assert text.count("ToyNet (") == 1 and "[Table](#tab:C1_sensitivity_ToyNet) in the appendix" in text
    assert ("of 6 images at 50%, 90%" in text or "changes with the fraction" in text
            or "no layer pruned alone" in text) and "Global pruning thins" in text
    (caption, wide, label), = compression_analysis.sensitivity_tables(table)
    assert label == "sensitivity_ToyNet" and list(wide.columns) == [
        "layer", "weights", "global 50%: sparsity", "alone 50%: acc", "global 90%: sparsity", "alone 90%: acc"]


def test_the_teacher_computes_each_augmented_batch_once_for_all_points(tmp_path):
    """Students distilled with the same recipe and seed see identical batches, so the dense model's
    outputs are remembered from the first point and reused by the next (the result is unchanged)."""
    from helpers.compression import CompressionContext, build_method
    from helpers.training.config import TrainConfig

    data = carve_selection(load_toy_grey("", 16, subset_per_class=4), 1, 0)
    stage = _Stage(tmp_path)
    torch.manual_seed(0)
    save_checkpoint(stage.layout.trained("ToyNet"), build_model("ToyNet", num_classes=3, mean=data.mean, std=data.std),
                    "ToyNet", {"num_classes": 3, "mean": data.mean, "std": data.std}, run_key="toy")
    dense = compression.dense_models(stage, data, ["ToyNet"])
    params = {**PARAMS, "compression_targets": {"channel": [1.6, 3.0]}, "compression_settings": {"channel": {"round_to": 2}},
              "compression_budgets": {"channel": {"epochs": 2}}}
    method = build_method("channel", params)
    ctx = CompressionContext(data, TrainConfig.from_params(params), stage.layout, stage.device)
    method.apply(dense["ToyNet"][0], 1.6, ctx)
    teacher = ctx.teachers["ToyNet"]
    batches = 2 * -(-len(data.train) // params["batch_size"])
    assert teacher.hits == 0 and len(teacher.memory) == batches
    second = method.apply(dense["ToyNet"][0], 3.0, ctx)
    assert not second.record.skipped
    assert teacher.hits == batches and len(teacher.memory) == batches


def test_the_dense_control_gets_the_channel_budget_and_sits_beside_the_pruned_models(setup):
    """The dense model fine-tuned again, unpruned, with channel pruning's budget: same epochs, its
    own checkpoint (reused on a second sweep), reported with intervals in the table, the text and
    the metrics."""
    stage, data, dense, sweep = setup
    control = sweep.controls["ToyNet"]
    assert sweep.control_of == "channel" and control.finetune_epochs == sweep.methods["channel"].budget.epochs
    assert control.params == dense["ToyNet"][1]["params"] and control.nonzero > 0.9 * control.params  # nothing pruned
    assert stage.layout.resolve(control.path) == stage.layout.compressed("dense_control", "ToyNet", "as-channel")
    table = compression.control_table(sweep, dense)
    assert list(table.variant) == ["dense (A2)", "dense control", "channel 2x"]
    assert table["val acc [95 % CI]"].str.match(r"^\d\.\d\d \[\d\.\d\d, \d\.\d\d\]$").all()
    text = compression.control_text(sweep, dense, 0.05)
    assert "the dense control scores" in text and "the best channel-pruned model, 2x" in text
    assert "[Table](#tab:C1_control)" in text and "\n\n- ToyNet:" in text  # a blank line opens the list
    latency, noise = compression_latency.time_all(dense, sweep, (1, 16, 16), stage.device, runs=2, warmup=1, rounds=1,
                                                   batch=2, batch_runs=2)
    m = compression.metrics(sweep, dense, latency, pd.DataFrame(), PARAMS, stage.device, 2, noise)
    assert m["summary"]["ToyNet"]["dense_control"]["acc"] == control.acc
    from helpers.report.summary import flatten, missing_intervals, with_intervals
    flat = with_intervals(flatten(m["summary"]), m["denominators"], "C1")
    assert flat["ToyNet.dense_control.acc.n"] == len(data.valid.labels) and not missing_intervals(flat)


def test_compare_words_follow_the_paired_test():
    assert compression._compare(outcome_bits(50, 4), outcome_bits(50, 1), 0.05).startswith("a difference not resolved")  # 3 against 0
    assert compression._compare(outcome_bits(50, 45), outcome_bits(50, 5), 0.05).startswith("resolvably higher")
    assert compression._compare(outcome_bits(50, 5), outcome_bits(50, 45), 0.05).startswith("resolvably lower")


def test_chained_channel_pruning_starts_each_target_from_the_previous_fine_tuned_model(setup, tmp_path):
    """With `chain`, 4x is pruned from 2x's fine-tuned model (MACs still about a quarter of the dense
    model's), its reuse key includes 2x's, and a second sweep reuses both."""
    stage0, data, dense, _ = setup
    stage = _Stage(tmp_path)
    for name in dense:  # the same dense checkpoint, in a run directory of its own
        stage.layout.trained(name).write_bytes(stage0.layout.trained(name).read_bytes())
    params = {**PARAMS, "compression_methods": ["channel"], "compression_targets": {"channel": [2.0, 4.0]},
              "compression_settings": {"channel": {"chain": True, "round_to": 2}}, "dense_control_budget": ""}
    chained = compression.run_sweep(stage, data, compression.dense_models(stage, data, ["ToyNet"]), params)
    two, four = chained.made("channel")
    dense_macs = dense["ToyNet"][1]["macs"]
    assert four.details["chained_from"] == "2x" and "chained_from" not in two.details
    assert dense_macs / four.macs == pytest.approx(4.0, rel=0.35) and four.macs < two.macs
    again = compression.run_sweep(stage, data, compression.dense_models(stage, data, ["ToyNet"]), params)
    assert all(r.reused for r in again.made("channel"))
