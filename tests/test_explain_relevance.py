"""Layer-wise relevance per channel (helpers/explain/relevance.py) and the relevance pruning
criterion: relevance is conserved from the logit down to every layer (what LRP's z+ and ε rules
promise, and what a plain gradient does not give), the residual canonizer splits the sums, and the
criterion removes the channels no later layer reads, which the weight norm would keep."""
import copy

import pytest
import torch
from torch import nn

from helpers.compression import channel as structured
from helpers.compression.criteria import criterion
from helpers.explain.relevance import filter_relevance
from helpers.models import build_model
from helpers.models.registry import merge_batch_norm
from tests.conftest import tiny_study_data


def _positive(name, channels=3):
    """A model whose weights are all positive and biases zero: every activation is positive, so z+
    and ε conserve relevance exactly and |R| summed over a layer equals the starting logits."""
    torch.manual_seed(0)
    model = build_model(name, num_classes=5, mean=[0.0] * channels, std=[1.0] * channels).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.abs_()
                if m.bias is not None:
                    m.bias.zero_()
    return model


@pytest.mark.parametrize("name,channels,size", [("SimpleCNN", 3, 32), ("LeNet5", 1, 28), ("ResNetSmall-w32", 3, 32)])
def test_relevance_is_conserved_from_the_logit_to_every_layer_that_carries_all_of_it(name, channels, size):
    model = _positive(name, channels)
    x, y = torch.rand(6, channels, size, size), torch.tensor([0, 1, 2, 3, 4, 0])
    with torch.no_grad():
        logits = float(model(x).gather(1, y.view(-1, 1)).sum())
    before = copy.deepcopy(model.state_dict())
    relevance = filter_relevance(model, x, y, "cpu")
    whole = [n for n in relevance if "layer" not in n]  # inside a residual block a layer carries its branch's share
    assert len(whole) >= 2
    for n in whole:
        assert float(relevance[n].sum()) == pytest.approx(logits, rel=1e-3), n
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # the model is not changed


def test_the_residual_canonizer_splits_each_sum_where_the_gradient_would_copy_it():
    model = _positive("ResNetSmall-w32")
    x, y = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    split = filter_relevance(model, x, y, "cpu")
    copied = filter_relevance(model, x, y, "cpu", canonizers=merge_batch_norm())
    total = float(split["fc"].sum())
    block = float(split["layer3.1.conv2"].sum())  # layer3.1 has an identity shortcut: conv2 carries part
    assert float(split["stem.0"].sum()) == pytest.approx(total, rel=1e-3)
    assert block < total
    assert float(copied["stem.0"].sum()) > 30 * total  # six sums, each doubling it


def _dead_channels(model, count):
    """Zero what the second convolution reads from the first `count` channels of the first one, and
    make those channels' own weights the largest: no relevance reaches them, L2 ranks them first."""
    first, second = [m for m in model.modules() if isinstance(m, nn.Conv2d)][:2]
    with torch.no_grad():
        second.weight[:, :count] = 0
        first.weight[:count] *= 10
    return first.weight[:count].detach().clone()


def _kept(model, marker):
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    return sum(any(torch.equal(w, row) for w in first.weight.detach()) for row in marker)


def test_the_relevance_criterion_removes_channels_nothing_reads_and_l2_keeps_them():
    torch.manual_seed(0)
    model = build_model("SimpleCNN", num_classes=3).eval()
    marker = _dead_channels(model, 8)
    images, labels = torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8), torch.arange(12) % 3
    by_relevance = criterion("relevance", reference=lambda: (images, labels))
    pruned = structured.prune_channels(copy.deepcopy(model), 0.25, (3, 32, 32), ranking=by_relevance)
    assert _kept(pruned, marker) == 0
    assert _kept(structured.prune_channels(copy.deepcopy(model), 0.25, (3, 32, 32)), marker) == 8
    layer = by_relevance.importance.per_layer
    assert all(float(r.sum()) == pytest.approx(1.0) for r in layer.values())  # normalised per layer


def test_the_mac_search_computes_relevance_once():
    calls = []
    images, labels = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8), torch.arange(6) % 3
    ranking = criterion("relevance", reference=lambda: calls.append(1) or (images, labels))
    torch.manual_seed(0)
    model = build_model("ResNetSmall", num_classes=3).eval()
    pruned, _ = structured.prune_to_macs(model, 2.0, (3, 32, 32), steps=5, ranking=ranking)
    assert len(calls) == 1 and structured.widths(pruned) != structured.widths(model)
    with pytest.raises(ValueError, match="needs reference images"):
        criterion("relevance")


def test_the_criteria_are_methods_of_their_own_with_channel_s_search_and_budget(tmp_path):
    from types import SimpleNamespace

    from helpers.compression import build_method
    from helpers.training.config import TrainConfig
    relevance, control = build_method("relevance", {}), build_method("bn_scale", {})
    assert relevance.settings.criterion == "relevance" and relevance.settings.allocation == "uniform"
    assert relevance.budget == build_method("channel", {}).budget  # equal fine-tuning budgets
    assert relevance.narrative.startswith("**relevance**") and "layer-wise relevance" in relevance.narrative
    torch.manual_seed(0)
    data = tiny_study_data(tmp_path, 20, [str(c) for c in range(10)], channels=1, size=28)
    ctx = SimpleNamespace(data=data, train_cfg=TrainConfig())
    lenet = build_model("LeNet5", num_classes=10, mean=[0.5], std=[0.25]).eval()
    pruned, details = relevance.prune(copy.deepcopy(lenet), 2.0, ctx)
    assert structured.widths(pruned) != structured.widths(lenet) and details["criterion"] == "relevance"
    with pytest.raises(ValueError, match="bn_scale criterion scored no channel of LeNet5.*needs BatchNorm"):
        control.prune(copy.deepcopy(lenet), 2.0, ctx)
