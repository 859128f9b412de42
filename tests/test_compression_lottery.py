"""Lottery tickets (helpers/compression/lottery.py, lottery_rounds.py): each round removes the
paper's share of each layer's survivors, survivors are reset to the initial weights (or to those
after k steps, which training keeps), and the controls get the ticket's sparsities."""
from dataclasses import asdict

import pytest
import torch

from helpers.compression import BaseModel, CompressionContext, build_method
from helpers.compression.lottery import layer_rates, next_masks, random_masks, sparsity_of
from helpers.compression.magnitude import prunable
from helpers.core.layout import RunLayout
from helpers.models import build_model
from helpers.training.config import TrainConfig
from helpers.training.loop import fit
from tests.conftest import tiny_study_data


def _mlp(seed=0):
    torch.manual_seed(seed)
    return build_model("LeNet-300-100", num_classes=10, mean=[0.5], std=[0.25]).eval()


def test_the_paper_s_rates_by_layer_type_and_each_round_prunes_the_survivors():
    torch.manual_seed(0)
    lenet = build_model("LeNet5", num_classes=10, mean=[0.5], std=[0.25])
    assert layer_rates(lenet, 0.1, 0.2, 0.1) == {"features.0": 0.1, "features.2": 0.1, "classifier.1": 0.2,
                                                  "classifier.4": 0.1}
    model = _mlp()
    rates = layer_rates(model, 0.1, 0.2, 0.1)
    masks = {n: torch.ones(m.weight.shape) for n, m in prunable(model)}
    first = next_masks(model, masks, rates)
    second = next_masks(model, first, rates)
    for name, m in prunable(model):
        n = m.weight.numel()
        assert int(first[name].sum()) == n - round(n * rates[name])
        assert int(second[name].sum()) == int(first[name].sum()) - round(int(first[name].sum()) * rates[name])
        assert bool((second[name] <= first[name]).all())  # pruned stays pruned
        kept, gone = m.weight.detach().abs()[first[name].bool()], m.weight.detach().abs()[~first[name].bool()]
        assert float(kept.min()) >= float(gone.max())  # smallest magnitudes first
    shuffled = random_masks(second, torch.Generator().manual_seed(0))
    assert all(int(shuffled[n].sum()) == int(second[n].sum()) for n in second)
    assert any(not torch.equal(shuffled[n], second[n]) for n in second)
    assert sparsity_of(second) == pytest.approx(1 - sum(float(v.sum()) for v in second.values())
                                                / sum(v.numel() for v in second.values()))


def _context(tmp_path, epochs):
    data = tiny_study_data(tmp_path, 40, [str(c) for c in range(10)], channels=1, size=28)
    cfg = TrainConfig(epochs=epochs, batch_size=20, warmup_epochs=0, amp="off", augment=False, seed=3)
    ckpt = {"arch": "LeNet-300-100", "arch_args": {"num_classes": 10, "mean": [0.5], "std": [0.25]},
            "run_key": "base", "classes": data.train.classes, "train_config": asdict(cfg)}
    ctx = CompressionContext(data, cfg, RunLayout(tmp_path, tmp_path / "figures"), torch.device("cpu"))
    return BaseModel("LeNet-300-100", _mlp(seed=7), ckpt, tmp_path / "base.pt"), ctx


def test_survivors_restart_from_the_initial_weights_and_the_controls_match_the_sparsity(tmp_path):
    base, ctx = _context(tmp_path, epochs=0)  # no training: each model is what its round starts from
    points = list(build_method("lottery", {}).sweep(base, [0.3], ctx))
    arms = [(p.record.details["arm"], p.record.details["round"]) for p in points]
    assert arms == [("ticket", 1), ("ticket", 2), ("reinit", 2), ("random", 2)]
    torch.manual_seed(3)  # A2's seed: its initial weights
    init = dict(build_model("LeNet-300-100", num_classes=10, mean=[0.5], std=[0.25]).named_parameters())
    ticket, reinit, random = (p.model for p in points[1:])
    for name, layer in prunable(ticket):
        w = layer.weight.detach()
        assert torch.equal(w[w != 0], init[f"{name}.weight"].detach()[w != 0])  # survivors reset to init
        assert int((dict(prunable(reinit))[name].weight != 0).sum()) == int((w != 0).sum())
        assert int((dict(prunable(random))[name].weight != 0).sum()) == int((w != 0).sum())
    assert not torch.equal(dict(prunable(reinit))["classifier.1"].weight != 0,
                           dict(prunable(random))["classifier.1"].weight != 0)
    first = dict(prunable(points[0].model))["classifier.1"].weight != 0
    assert bool(((dict(prunable(ticket))["classifier.1"].weight != 0) <= first).all())  # masks nest
    assert points[1].record.sparsity == pytest.approx(points[2].record.sparsity, abs=1e-3)
    assert points[1].record.sparsity >= 0.3
    assert points[0].record.acc_pre_ft is not None and points[2].record.acc_pre_ft is None


def test_rounds_are_reused_and_training_keeps_the_weights_of_step_k(tmp_path):
    base, ctx = _context(tmp_path, epochs=1)
    params = {"compression_settings": {"lottery": {"controls": False, "rewind_step": 1}}}
    made = list(build_method("lottery", params).sweep(base, [0.15], ctx))
    again = list(build_method("lottery", params).sweep(base, [0.15], ctx))
    assert len(made) == 1 and again[0].record.reused
    dense = torch.load(tmp_path / "checkpoints" / "lottery" / "LeNet-300-100-dense-k1.pt", weights_only=True)
    assert dense["kept_step"] == 1
    torch.manual_seed(3)
    init = build_model("LeNet-300-100", num_classes=10, mean=[0.5], std=[0.25]).state_dict()
    assert not torch.equal(dense["kept_state"]["classifier.1.weight"], init["classifier.1.weight"])  # one step on


def test_fit_keeps_the_initial_weights_at_step_zero():
    model = _mlp()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randint(0, 255, (20, 1, 28, 28), dtype=torch.uint8), torch.arange(20) % 10
    result = fit(model, x, y, x, y, TrainConfig(epochs=1, batch_size=10, amp="off", augment=False),
                 device=torch.device("cpu"), keep_step=0)
    assert all(torch.equal(result["kept_state"][k], v) for k, v in start.items())
    assert not torch.equal(model.state_dict()["classifier.1.weight"], start["classifier.1.weight"])


def test_the_findings_test_the_paper_s_claims_with_paired_tests(tmp_path):
    from helpers.compression.lottery_report import findings
    from helpers.evaluation.paired import encode
    base, ctx = _context(tmp_path, epochs=1)
    records = [p.record for p in build_method("lottery", {}).sweep(base, [0.15], ctx)]
    for r in records:  # as if far sparser: the claims at 20 % and 10 % then apply
        r.details["remaining"] /= 10
    right = torch.ones(40, dtype=torch.bool)
    records[0].correct, records[1].correct = encode(right), encode(torch.arange(40) < 10)  # ticket, re-init
    dense = {"LeNet-300-100": (base, {"acc": 1.0, "n": 40, "correct": encode(right)})}
    text, figures = findings(records, dense)
    assert "1 round (dense" in text and "The sparsest ticket with at most 20 % of the weights" in text
    assert "ticket (" in text and "beats its re-initialised control" in text and "McNemar p =" in text
    assert [what for _, what, _ in figures] == ["lottery_LeNet-300-100"]
