import pytest
import torch

from helpers.compression import magnitude as prune
from helpers.compression.measure import sparsity
from helpers.compression.sparse_checkpoint import load_sparse, save_sparse
from helpers.models import build_model
from helpers.models.checkpoints import CheckpointError, save_checkpoint
from helpers.training.config import TrainConfig
from helpers.training.loop import fit


def _model(name="SimpleCNN"):
    torch.manual_seed(0)
    return build_model(name, num_classes=3)


def test_layerwise_prunes_each_layer_alike_and_global_uses_one_threshold():
    lw = prune.prune_magnitude(_model(), 0.5, "layerwise")
    s = sparsity(lw)
    assert all(abs(v - 0.5) < 0.01 for v in s["per_layer"].values())
    gl = prune.prune_magnitude(_model(), 0.5, "global")
    g = sparsity(gl)
    assert abs(g["sparsity"] - 0.5) < 1e-3
    assert max(g["per_layer"].values()) - min(g["per_layer"].values()) > 0.05  # layers differ under one threshold
    kept = torch.cat([m.weight[m.weight != 0].abs().flatten() for _, m in prune.prunable(gl)])
    pruned = torch.cat([m.weight_orig[m.weight_mask == 0].abs().flatten() for _, m in prune.prunable(gl)])
    assert kept.min() >= pruned.max()
    assert g["nonzero"] < g["params"] and 0 < g["sparsity_all"] < g["sparsity"]


def test_pruning_one_layer_and_bad_arguments():
    names = [n for n, _ in prune.prunable(_model())]
    m = prune.prune_magnitude(_model(), 0.8, "layerwise", only=[names[0]])
    per = sparsity(m)["per_layer"]
    assert per[names[0]] == pytest.approx(0.8, abs=0.02) and all(per[n] == 0 for n in names[1:])
    with pytest.raises(ValueError, match="unknown layers"):
        prune.prune_magnitude(_model(), 0.5, "global", only=["nope"])
    with pytest.raises(ValueError, match="pruning method"):
        prune.prune_magnitude(_model(), 0.5, "random")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        prune.prune_magnitude(_model(), 1.0, "global")


def test_pruned_weights_stay_exactly_zero_through_finetuning():
    model = prune.prune_magnitude(_model(), 0.8, "global")
    masks = {n: m.weight_mask.clone() for n, m in prune.prunable(model)}
    before = {n: m.weight.detach().clone() for n, m in prune.prunable(model)}
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 255, (32, 3, 32, 32), dtype=torch.uint8, generator=g)
    y = torch.arange(32) % 3
    fit(model, x, y, x[:8], y[:8], TrainConfig(epochs=2, batch_size=8, warmup_epochs=0, amp="off"),
        device=torch.device("cpu"))
    for n, m in prune.prunable(model):
        assert torch.equal(m.weight[masks[n] == 0], torch.zeros_like(m.weight[masks[n] == 0])), n
        assert not torch.equal(m.weight[masks[n] == 1], before[n][masks[n] == 1]), f"{n} did not train"
    prune.make_permanent(model)
    assert sparsity(model)["sparsity"] >= 0.8 - 1e-6
    assert not any(k.endswith("_mask") for k in model.state_dict())


def test_sparse_checkpoint_round_trips_and_is_smaller(tmp_path):
    model = prune.make_permanent(prune.prune_magnitude(_model("ResNetSmall"), 0.8, "global")).eval()
    dense = save_checkpoint(tmp_path / "dense.pt", model, "ResNetSmall", {"num_classes": 3})
    sparse = save_sparse(tmp_path / "sparse.pt", model, "ResNetSmall", {"num_classes": 3})
    assert dense.stat().st_size / sparse.stat().st_size >= 3
    back, _ = load_sparse(sparse, "ResNetSmall")
    theirs = back.state_dict()
    assert set(theirs) == set(model.state_dict())
    for k, a in model.state_dict().items():
        assert torch.equal(a, theirs[k]), k
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), back(x))
    with pytest.raises(CheckpointError, match="not a sparse checkpoint"):
        load_sparse(dense)
    with pytest.raises(CheckpointError, match="not a SimpleCNN"):
        load_sparse(sparse, "SimpleCNN")
    masked = prune.prune_magnitude(_model(), 0.5, "global")
    with pytest.raises(ValueError, match="make_permanent"):
        save_sparse(tmp_path / "x.pt", masked, "SimpleCNN", {"num_classes": 3})



def test_finetune_or_load_saves_a_permanent_model_and_reuses_it(tmp_path):
    from helpers.compression import BaseModel, CompressionContext, FineTuneBudget
    from helpers.compression.finetune import finetune_or_load
    from helpers.compression.global_magnitude import GlobalMagnitude
    from helpers.core.layout import RunLayout
    from tests.conftest import tiny_study_data
    from helpers.models.checkpoints import load_model

    data = tiny_study_data(tmp_path, 24, ["a", "b", "c"])
    ckpt = {"arch": "SimpleCNN", "arch_args": {"num_classes": 3}, "run_key": "base", "classes": data.train.classes}
    base = BaseModel("SimpleCNN", _model(), ckpt, tmp_path / "base.pt")
    cfg = TrainConfig(batch_size=8, warmup_epochs=0, amp="off")
    ctx = CompressionContext(data, cfg, RunLayout(tmp_path, tmp_path / "figures"), torch.device("cpu"))
    method = GlobalMagnitude(FineTuneBudget(epochs=1, lr=5e-4))
    path = tmp_path / "SimpleCNN-s0.8.pt"
    first = finetune_or_load(method, path, prune.prune_magnitude(_model(), 0.8, "global"), base, 0.8, {}, ctx)
    model, result = first.model, first.result
    assert sparsity(model)["sparsity"] >= 0.8 - 1e-6
    assert not list(tmp_path.glob("*state*"))  # the resume state is removed once the checkpoint is written
    saved = load_model(path, "SimpleCNN")[0]
    assert sparsity(saved)["sparsity"] >= 0.8 - 1e-6 and saved.state_dict().keys() == _model().state_dict().keys()
    # same recipe: the file is reused, and the unpruned model passed in is never trained
    second = finetune_or_load(method, path, _model(), base, 0.8, {}, ctx)
    again, result2 = second.model, second.result
    assert result2 == result and second.reused
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
    # another recipe: trained anew and overwritten
    finetune_or_load(method, path, prune.prune_magnitude(_model(), 0.5, "global"), base, 0.5, {}, ctx)
    assert sparsity(load_model(path)[0])["sparsity"] == pytest.approx(0.5, abs=1e-3)
    # distilled from a teacher: a recipe of its own, stored with the checkpoint
    distilled = GlobalMagnitude(FineTuneBudget(epochs=1, lr=5e-4, distill_alpha=0.5, distill_temperature=2.0))
    finetune_or_load(distilled, path, prune.prune_magnitude(_model(), 0.5, "global"), base, 0.5, {}, ctx)
    recipe = load_model(path)[1]["recipe"]
    assert recipe["method"] == "global" and recipe["target"] == 0.5
    assert recipe["budget"]["distill_temperature"] == 2.0 and recipe["budget"]["distill_alpha"] == 0.5


@pytest.mark.parametrize("method", ["global", "layerwise"])
def test_masks_equal_torch_pruning(method):
    """The masks are torch.nn.utils.prune's own (global_unstructured / l1_unstructured)."""
    from torch.nn.utils import prune as torch_prune
    ours, theirs = prune.prune_magnitude(_model("LeNet5"), 0.7, method), _model("LeNet5")
    layers = [(m, "weight") for _, m in prune.prunable(theirs)]
    if method == "global":
        torch_prune.global_unstructured(layers, pruning_method=torch_prune.L1Unstructured, amount=0.7)
    else:
        for m, _ in layers:
            torch_prune.l1_unstructured(m, "weight", amount=0.7)
    for (_, a), (b, _) in zip(prune.prunable(ours), layers):
        assert torch.equal(a.weight_mask, b.weight_mask)


def test_masked_one_channel_conv_keeps_the_channels_last_layout():
    """LeNet-5's first conv (one input channel) computed orig * mask with NCHW strides, which sent
    oneDNN down a slow path for channels-last inputs; the masked weight keeps weight_orig's strides."""
    model = prune.prune_magnitude(_model("LeNet5"), 0.5, "global").to(memory_format=torch.channels_last)
    model(torch.rand(2, 1, 28, 28).contiguous(memory_format=torch.channels_last))
    for _, m in prune.prunable(model):
        assert m.weight.stride() == m.weight_orig.stride()
        assert torch.equal(m.weight, m.weight_orig * m.weight_mask)
    model(torch.rand(2, 1, 28, 28)).sum().backward()  # gradients reach weight_orig through the copy
    first = prune.prunable(model)[0][1]
    assert first.weight_orig.grad is not None and (first.weight_orig.grad[first.weight_mask == 0] == 0).all()
