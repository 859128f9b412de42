"""Network slimming (helpers/compression/slimming.py): the L1 penalty's gradient is λ·sign(γ), one
global threshold removes the smallest |γ| over all layers, and the sweep trains once per λ (λ = 0
reuses the dense model), slims each target and reuses everything on a second sweep."""
import copy
from dataclasses import asdict

import pytest
import torch
from torch import nn

from helpers.compression import BaseModel, CompressionContext, build_method
from helpers.compression.slimming import bn_scales, prune_by_bn_threshold, removed_share
from helpers.core.layout import RunLayout
from helpers.models import build_model
from helpers.models.checkpoints import load_model
from helpers.training.config import TrainConfig
from helpers.training.losses import with_bn_l1
from tests.conftest import tiny_study_data

SHAPE = (3, 32, 32)


def _model(name="SimpleCNN", classes=3):
    torch.manual_seed(0)
    return build_model(name, num_classes=classes).eval()


def test_the_penalty_adds_lambda_times_the_sign_of_each_scale_to_its_gradient():
    model = _model()
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    with torch.no_grad():
        bn.weight.copy_(torch.linspace(-1, 1, bn.num_features))
    x, y = torch.rand(4, *SHAPE), torch.tensor([0, 1, 2, 0])
    grads = []
    for lam in (0.0, 0.01):
        model.zero_grad()
        with_bn_l1(model, lam)(model(x), x, y).backward()
        grads.append(bn.weight.grad.clone())
    assert torch.allclose(grads[1] - grads[0], 0.01 * torch.sign(bn.weight.detach()), atol=1e-6)
    with pytest.raises(ValueError, match="needs BatchNorm layers; LeNet5 has none"):
        with_bn_l1(build_model("LeNet5", num_classes=10, mean=[0.5], std=[0.25]), 1e-4)


def test_one_global_threshold_removes_the_smallest_scales_over_all_layers():
    model = _model()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():  # the first layer's scales are all small, the others all large: a threshold is global
        norms[0].weight.copy_(torch.linspace(0.01, 0.02, norms[0].num_features))
        for bn in norms[1:]:
            bn.weight.copy_(torch.linspace(1.0, 2.0, bn.num_features))
    before = bn_scales(model)
    total = sum(len(v) for v in before.values())  # 32 + 64 + 128
    pruned = prune_by_bn_threshold(copy.deepcopy(model), 16 / total, SHAPE)
    assert removed_share(before, pruned) == pytest.approx(16 / total)
    after = bn_scales(pruned)
    assert len(after["features.0.1"]) == 16 and len(after["features.1.1"]) == 64  # only the smallest went
    assert float(after["features.0.1"].min()) > float(before["features.0.1"].sort().values[15]) - 1e-9
    # at 90 % no layer is emptied: it keeps at least 1 - max_layer_ratio of its channels
    deep = prune_by_bn_threshold(copy.deepcopy(model), 0.9, SHAPE, max_layer_ratio=0.9)
    assert all(len(v) >= 0.1 * len(before[n]) - 1 for n, v in bn_scales(deep).items())
    resnet = prune_by_bn_threshold(_model("ResNetSmall"), 0.5, SHAPE)
    with torch.no_grad():
        assert resnet(torch.rand(2, *SHAPE)).shape == (2, 3)  # residual groups stay coupled
    with pytest.raises(ValueError, match=r"fraction of channels in \(0, 1\)"):
        prune_by_bn_threshold(copy.deepcopy(model), 1.0, SHAPE)


def _context(tmp_path):
    data, g = tiny_study_data(tmp_path, 24, ["a", "b", "c"]), torch.Generator().manual_seed(1)
    cfg = TrainConfig(epochs=2, batch_size=12, warmup_epochs=0, amp="off", augment=False)
    model = _model()
    with torch.no_grad():  # as after training: scales differ (a fresh model's are all 1, no threshold splits them)
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.weight.uniform_(0.5, 1.5, generator=g)
    ckpt = {"arch": "SimpleCNN", "arch_args": {"num_classes": 3}, "run_key": "base", "classes": data.train.classes,
            "train_config": asdict(cfg), "created_at": "2026-12-01T10:00:00",
            "training": {"history": [{"epoch": 1, "train_loss": 1.1, "train_acc": 0.3, "select_loss": 1.0, "select_acc": 0.3}], "best_epoch": 1, "total_train_s": 1.0}}
    ctx = CompressionContext(data, cfg, RunLayout(tmp_path, tmp_path / "figures"), torch.device("cpu"))
    return BaseModel("SimpleCNN", model, ckpt, tmp_path / "base.pt"), ctx


def test_the_sweep_trains_once_per_lambda_slims_every_target_and_reuses_all(tmp_path):
    base, ctx = _context(tmp_path)
    params = {"compression_budgets": {"slimming": {"epochs": 1, "distill_alpha": 0.0}},
              "compression_settings": {"slimming": {"lambdas": [0.0, 1e-3]}}}
    method = build_method("slimming", params)
    points = list(method.sweep(base, [0.5, 0.75], ctx))
    assert [p.record.point for p in points] == ["l0-c0.5", "l0-c0.75", "l1e-3-c0.5", "l1e-3-c0.75"]
    assert method.point_count([0.5, 0.75]) == 4
    assert all(p.record.details["channels_removed"] == pytest.approx(p.record.target, abs=0.01) for p in points)
    lam0, lam1 = points[0].record.details["sparse_training"], points[2].record.details["sparse_training"]
    assert lam0["reused"] and lam0["created_at"] == "2026-12-01T10:00:00"  # λ = 0: A2's model, reported as reused
    assert not lam1["reused"] and len(lam1["history"]) == 2
    assert (tmp_path / "checkpoints" / "slimming" / "SimpleCNN-sparse-l1e-3.pt").exists()
    assert {method.series(p.record) for p in points} == {"slimming λ=0", "slimming λ=1e-3"}
    back = load_model(tmp_path / "checkpoints" / "slimming" / "SimpleCNN-l1e-3-c0.75.pt")[0]
    with torch.no_grad():
        x = torch.rand(2, *SHAPE)
        assert torch.equal(back.eval()(x), points[3].model.eval()(x))  # a slimmed model loads back (weights_only)
    again = list(build_method("slimming", params).sweep(base, [0.5, 0.75], ctx))
    assert all(p.record.reused for p in again) and again[2].record.details["sparse_training"]["reused"]
    with pytest.raises(ValueError, match="slimming needs BatchNorm layers; LeNet5 has none"):
        lenet = build_model("LeNet5", num_classes=10, mean=[0.5], std=[0.25])
        next(method.sweep(BaseModel("LeNet5", lenet, {}, tmp_path / "x.pt"), [0.5], ctx))


def test_the_findings_give_each_lambda_its_curves_scales_and_numbers(tmp_path):
    from helpers.compression.slimming_report import findings
    base, ctx = _context(tmp_path)
    params = {"compression_budgets": {"slimming": {"epochs": 1, "distill_alpha": 0.0}},
              "compression_settings": {"slimming": {"lambdas": [0.0, 1e-3]}}}
    records = [p.record for p in build_method("slimming", params).sweep(base, [0.5], ctx)]
    dense = {"SimpleCNN": (base, {"acc": 0.5, "n": 24})}
    text, figures = findings(records, dense)
    assert "λ = 0: validation accuracy" in text and "A2's own model, reused" in text
    assert "λ = 1e-3" in text and "trained in" in text and "chance 0.33 with 3 classes" in text
    assert f"{records[1].acc_pre_ft:.2f} [" in text  # before fine-tuning, with its interval
    assert [what for _, what, _ in figures] == ["slimming_training_SimpleCNN", "slimming_scales_SimpleCNN"]
