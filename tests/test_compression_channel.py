import pytest
import torch

from helpers.compression import channel as structured
from helpers.compression.measure import macs_and_params
from helpers.models.checkpoints import CHANNEL_PRUNED, CheckpointError, load_model, save_checkpoint
from helpers.models import build_model


def _model(name):
    torch.manual_seed(0)
    return build_model(name, num_classes=3).eval()


@pytest.mark.parametrize("name", ["SimpleCNN", "ResNetSmall"])
@pytest.mark.parametrize("reduction", [2.0, 4.0])
def test_prune_to_macs_reaches_the_reduction_and_keeps_the_model_whole(name, reduction):
    model = _model(name)
    macs0, params0 = macs_and_params(model, (3, 32, 32))
    pruned, ratio = structured.prune_to_macs(model, reduction, (3, 32, 32))
    macs, params = macs_and_params(pruned, (3, 32, 32))
    assert macs0 / macs == pytest.approx(reduction, rel=0.2) and params < params0 and 0 < ratio < 1
    assert macs_and_params(model, (3, 32, 32))[0] == macs0  # the original is untouched
    widths = structured.widths(pruned)
    assert list(widths.values())[-1] == 3  # the classifier keeps its classes
    assert all(w % structured.ROUND_TO == 0 for w in list(widths.values())[:-1])
    with torch.no_grad():
        assert pruned(torch.rand(2, 3, 32, 32)).shape == (2, 3)
        assert pruned(torch.rand(1, 3, 64, 64)).shape == (1, 3)  # adaptive pooling still works


def test_channel_pruned_checkpoint_loads_back_exactly(tmp_path):
    pruned, _ = structured.prune_to_macs(_model("ResNetSmall"), 3.0, (3, 32, 32))
    path = save_checkpoint(tmp_path / "p.pt", pruned, "ResNetSmall", {"num_classes": 3}, structure=CHANNEL_PRUNED)
    back, _ = load_model(path, "ResNetSmall")
    assert structured.widths(back) == structured.widths(pruned)
    for k, v in pruned.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(pruned(x), back(x))
    # without the structure flag the shapes do not match the registered architecture: a clear error
    plain = save_checkpoint(tmp_path / "plain.pt", pruned, "ResNetSmall", {"num_classes": 3})
    with pytest.raises(CheckpointError, match="does not match ResNetSmall"):
        load_model(plain)
    # a pruned SimpleCNN's tensors cannot be made into a ResNetSmall
    other, _ = structured.prune_to_macs(_model("SimpleCNN"), 2.0, (3, 32, 32))
    wrong = save_checkpoint(tmp_path / "wrong.pt", other, "ResNetSmall", {"num_classes": 3}, structure=CHANNEL_PRUNED)
    with pytest.raises(CheckpointError, match="does not match ResNetSmall"):
        load_model(wrong)


def test_bad_ratio_and_reduction():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        structured.prune_channels(_model("SimpleCNN"), 1.0, (3, 32, 32))
    with pytest.raises(ValueError, match="> 1"):
        structured.prune_to_macs(_model("SimpleCNN"), 1.0, (3, 32, 32))
