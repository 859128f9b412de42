"""Channel criteria (helpers/compression/criteria.py): the default is Torch-Pruning's group L2 ranking
unchanged, a ranking is computed once per target across the MAC search, and each criterion removes
the channels it scores lowest."""
import copy

import pytest
import torch
from torch import nn

from helpers.compression import channel as structured
from helpers.compression.criteria import criterion
from helpers.compression.measure import macs_and_params
from helpers.models import build_model
from helpers.models.registry import spec_of

SHAPE = (3, 32, 32)


def _model(name="SimpleCNN"):
    torch.manual_seed(0)
    return build_model(name, num_classes=3).eval()


def _pruned_by_torch_pruning(model, ratio, importance):
    """Torch-Pruning's MetaPruner with the importance given: the reference for the default."""
    import torch_pruning as tp
    pruner = tp.pruner.MetaPruner(model, torch.rand(1, *SHAPE), importance=importance, pruning_ratio=ratio,
                                  ignored_layers=spec_of(model).keep_whole(model), round_to=structured.ROUND_TO)
    pruner.step()
    return model


@pytest.mark.parametrize("name", ["SimpleCNN", "ResNetSmall"])
def test_the_default_l2_ranking_prunes_what_torch_pruning_prunes(name):
    import torch_pruning as tp
    ours = structured.prune_channels(_model(name), 0.4, SHAPE)
    theirs = _pruned_by_torch_pruning(_model(name), 0.4, tp.importance.GroupMagnitudeImportance(p=2))
    assert structured.widths(ours) == structured.widths(theirs)
    for k, v in theirs.state_dict().items():
        assert torch.equal(v, ours.state_dict()[k]), k


@pytest.mark.parametrize("name", ["l2", "bn_scale", "random"])
def test_the_mac_search_scores_each_group_once(name):
    ranking = criterion(name, seed=0)
    scored = []  # every call that reaches the criterion itself
    inner = ranking.importance
    ranking.importance = lambda group, **kw: scored.append(group) or inner(group, **kw)
    structured.prune_to_macs(_model("ResNetSmall"), 2.0, SHAPE, steps=6, ranking=ranking)
    assert len(ranking.scores) > 0 and len(scored) == len(ranking.scores)  # six pruning steps, one score per group


def test_a_random_ranking_depends_on_its_seed_only():
    a, _ = structured.prune_to_macs(_model(), 2.0, SHAPE, ranking=criterion("random", seed=1))
    b, _ = structured.prune_to_macs(_model(), 2.0, SHAPE, ranking=criterion("random", seed=1))
    c, _ = structured.prune_to_macs(_model(), 2.0, SHAPE, ranking=criterion("random", seed=2))
    same = [torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items()]
    other = [v.shape == c.state_dict()[k].shape and torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items()]
    assert all(same) and not all(other)


def test_bn_scale_removes_the_channels_with_the_smallest_scales():
    model = _model()
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    n = bn.num_features
    with torch.no_grad():
        bn.weight.copy_(torch.linspace(1.0, 2.0, n))
        bn.weight[n // 2:] *= -1  # |γ| ranks, not γ: negative scales are large too
        conv.weight.copy_(torch.linspace(2.0, 1.0, n).view(-1, 1, 1, 1).expand_as(conv.weight))  # L2 disagrees
    marker = conv.weight.detach().clone()
    pruned = structured.prune_channels(copy.deepcopy(model), 0.5, SHAPE, ranking=criterion("bn_scale"))
    kept = next(m for m in pruned.modules() if isinstance(m, nn.Conv2d)).weight.detach()
    kept_rows = {round(float(w.flatten()[0]), 5) for w in kept}
    smallest = {round(float(marker[i].flatten()[0]), 5) for i in range(n - n // 2 - n // 4)}  # smallest |γ| first
    assert kept.shape[0] < n and not kept_rows & smallest


def test_an_unknown_criterion_is_named_and_the_text_follows_the_chosen_one():
    with pytest.raises(ValueError, match="compression_settings.*'lrp2'.*known: bn_scale, l2, random"):
        structured.ChannelPruning.configure({}, {"criterion": "lrp2"})
    assert "BatchNorm scales" in structured.ChannelPruning.configure({}, {"criterion": "bn_scale"}).narrative
    assert "L2 norm" in structured.ChannelPruning().narrative


def test_global_allocation_prunes_layers_unequally_and_keeps_every_layer():
    model = _model("ResNetSmall")
    dense = structured.widths(model)
    uniform = structured.widths(structured.prune_channels(copy.deepcopy(model), 0.5, SHAPE))
    ranked = structured.prune_channels(copy.deepcopy(model), 0.5, SHAPE, allocation="global")
    kept = structured.widths(ranked)
    inner = [n for n in dense if n in list(dense)[:-1]]
    assert len({round(kept[n] / dense[n], 2) for n in inner}) > 1  # fractions differ between layers
    assert len({round(uniform[n] / dense[n], 2) for n in inner}) <= 2  # (uniform: one fraction, rounding aside)
    assert all(kept[n] >= dense[n] * (1 - structured.GLOBAL_MAX_LAYER_RATIO) - structured.ROUND_TO for n in inner)
    with torch.no_grad():
        assert ranked(torch.rand(2, *SHAPE)).shape == (2, 3)
    searched, _ = structured.prune_to_macs(model, 3.0, SHAPE, allocation="global")
    assert macs_and_params(model, SHAPE)[0] / macs_and_params(searched, SHAPE)[0] == pytest.approx(3.0, rel=0.2)
    with pytest.raises(ValueError, match="allocation 'layerwise' is unknown; known: uniform, global"):
        structured.ChannelPruning.configure({}, {"allocation": "layerwise"})
    assert "one ranking over all layers" in structured.ChannelPruning.configure({}, {"allocation": "global"}).narrative


def test_global_allocation_caps_every_layer_even_where_the_ranking_would_empty_it():
    model = _model()
    dense = structured.widths(model)
    for ratio in (0.8, 0.9):  # Torch-Pruning's own global step emptied one layer here and skipped another
        kept = structured.widths(structured.prune_channels(copy.deepcopy(model), ratio, SHAPE, round_to=1,
                                                           allocation="global"))
        for name in list(dense)[:-1]:
            assert dense[name] * (1 - structured.GLOBAL_MAX_LAYER_RATIO) - 1 <= kept[name] < dense[name], (ratio, name)
