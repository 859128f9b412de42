"""Han et al.'s protocol (`han`): thresholds from a sensitivity scan, rounds, dropout scaling."""
import math

import pytest
import torch

from helpers.compression import BaseModel, CompressionContext, FineTuneBudget, build_method
from helpers.compression.han import HanIterative, layer_qualities, masks_at, scale_dropout
from helpers.compression.measure import sparsity
from helpers.core.layout import RunLayout
from helpers.models import build_model
from helpers.models.checkpoints import load_model
from helpers.training.config import TrainConfig
from tests.conftest import tiny_study_data


def _lenet(seed=0):
    torch.manual_seed(seed)
    return build_model("LeNet5", num_classes=10, mean=[0.5], std=[0.25]).eval()


def test_layer_quality_is_the_largest_within_tolerance():
    scan = {"a": [0.90, 0.89, 0.80], "b": [0.70, 0.60, 0.50]}
    assert layer_qualities(scan, (0.5, 1.0, 2.0), 0.90, 0.02) == {"a": 1.0, "b": 0.5}  # b: none is, so the smallest


@pytest.mark.parametrize("target", [0.5, 0.9, 0.97])
def test_thresholds_reach_the_sparsity_in_proportion_to_quality_and_std(target):
    m = _lenet()
    quality = {"features.0": 0.5, "features.2": 1.0, "classifier.1": 2.0, "classifier.4": 1.0}
    masks = masks_at(m, quality, target)
    total = sum(v.numel() for v in masks.values())
    assert 1 - sum(float(v.sum()) for v in masks.values()) / total == pytest.approx(target, abs=2e-3)
    # a layer of larger quality parameter loses a larger share of its weights (equal init scales aside)
    share = {n: 1 - float(v.mean()) for n, v in masks.items()}
    assert share["classifier.1"] > share["features.0"]
    # each layer's threshold is c · q · std: the smallest kept |w| over q · std is about the same for every layer
    ratios = [float(w.abs()[masks[n].bool()].min()) / (quality[n] * float(w.std()))
              for n, w in ((n, dict(m.named_modules())[n].weight.detach()) for n in quality) if masks[n].any()]
    assert max(ratios) / min(ratios) == pytest.approx(1.0, abs=0.05)


def test_dropout_scales_with_the_square_root_of_kept_connections():
    m = _lenet()
    with torch.no_grad():
        m.classifier[4].weight[:, :250] = 0  # half of fc2's connections gone
    rates = scale_dropout(m, {"classifier.3": 0.5})
    assert rates["classifier.3"] == pytest.approx(0.5 * math.sqrt(0.5))
    assert m.classifier[3].p == pytest.approx(0.5 * math.sqrt(0.5))


def test_han_prunes_in_rounds_chains_targets_and_reuses_its_rounds(tmp_path):
    data = tiny_study_data(tmp_path, 40, [str(c) for c in range(10)], channels=1, size=28)
    ckpt = {"arch": "LeNet5", "arch_args": {"num_classes": 10, "mean": [0.5], "std": [0.25]}, "run_key": "base",
            "classes": data.train.classes}
    base = BaseModel("LeNet5", _lenet(), ckpt, tmp_path / "base.pt")
    ctx = CompressionContext(data, TrainConfig(batch_size=20, warmup_epochs=0, amp="off", augment=False),
                             RunLayout(tmp_path, tmp_path / "figures"), torch.device("cpu"))
    params = {"compression_budgets": {"han": {"epochs": 1}}, "compression_settings": {"han": {"rounds": 2}}}
    method = build_method("han", params)
    assert isinstance(method, HanIterative) and method.budget == FineTuneBudget(epochs=1, lr=5e-4)
    first = method.apply(base, 0.8, ctx)
    assert first.record.sparsity == pytest.approx(0.8, abs=2e-3) and first.record.finetune_epochs == 2
    assert set(first.record.details["quality"]) == {"features.0", "features.2", "classifier.1", "classifier.4"}
    assert (tmp_path / "checkpoints" / "han" / "LeNet5-s0.8-round1.pt").exists()
    assert sparsity(load_model(tmp_path / "checkpoints" / "han" / "LeNet5-s0.8.pt")[0])["sparsity"] >= 0.8 - 2e-3
    second = method.apply(base, 0.9, ctx)  # continues from the retrained 0.8 model
    assert second.record.details["chained_from"] == "s0.8" and second.record.sparsity == pytest.approx(0.9, abs=2e-3)
    # weights pruned at 0.8 stay pruned at 0.9
    w8 = load_model(tmp_path / "checkpoints" / "han" / "LeNet5-s0.8.pt")[0].classifier[1].weight
    w9 = second.model.classifier[1].weight
    assert bool(((w8 == 0) <= (w9 == 0)).all())
    again = build_method("han", params).apply(base, 0.8, ctx)  # a new sweep: every round is reused
    assert again.record.reused and torch.equal(again.model.classifier[1].weight, first.model.classifier[1].weight)
