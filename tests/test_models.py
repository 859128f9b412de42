import os
import pickle

import pytest
import torch

from helpers.models import build_model, checkpoints, count_parameters, model_names
from helpers.models.layers import Normalize
from helpers.models.registry import get_spec


@pytest.mark.parametrize("name, expected", [("SimpleCNN", 620_810), ("ResNetSmall", 2_777_674),
                                            ("ResNetSmall-w32", 696_618),
                                            ("LeNet5", 431_080), ("LeNet-300-100", 266_610),
                                            ("TwoConvCNN", 545_098), ("EffNetL0-full", 3_383_818)])
def test_parameter_counts(name, expected):
    """The LeNets as Han et al. count them (Table 1: 431K and 267K), for one grey channel."""
    channels = 1 if name.startswith("LeNet") else 3
    assert count_parameters(build_model(name, mean=[0.5] * channels, std=[0.25] * channels)) == expected


def test_an_mlp_has_no_grad_cam_layer():
    assert get_spec("LeNet-300-100").gradcam_layer is None
    assert get_spec("LeNet5").input_size == 28


@pytest.mark.parametrize("name", model_names())
@pytest.mark.parametrize("size", [32, 64])
def test_forward_and_normalization_first(name, size):
    m = build_model(name, mean=[0.4, 0.5, 0.6], std=[0.2, 0.25, 0.3]).eval()
    size = get_spec(name).input_size or size  # a model that takes one size only
    assert isinstance(next(m.children()), Normalize)
    assert m(torch.rand(2, 3, size, size)).shape == (2, 10)
    if get_spec(name).settings.get("view_size"):
        return  # the grid's control shrinks and enlarges the grid inside before it normalizes
    side = m.normalize.size or 8  # at its own resolution the layer only normalizes
    x = torch.rand(1, 3, side, side)
    expected = (x - torch.tensor([0.4, 0.5, 0.6]).view(1, 3, 1, 1)) / torch.tensor([0.2, 0.25, 0.3]).view(1, 3, 1, 1)
    assert torch.allclose(m.normalize(x), expected, atol=1e-6)


@pytest.mark.parametrize("name", ["SimpleCNN", "ResNetSmall", "TwoConvCNN"])
def test_a_small_cnn_reads_a_finer_grid_as_its_mean_cells(name):
    """Each model computes at its native size: a 128 px grid is shrunk inside by 4×4 means, so it
    gives the same logits as the 32 px image of those means, and an L∞ change of ε stays within ε."""
    spec = get_spec(name)
    m = build_model(name, **spec.arch_args(10, [0.5] * 3, [0.25] * 3)).eval()
    x = torch.rand(2, 3, 128, 128)
    small = torch.nn.functional.avg_pool2d(x, 4)
    assert spec.native_size == 32 and torch.allclose(m(x), m(small), atol=1e-5)
    delta = 0.03 * torch.sign(torch.randn_like(x))
    assert (m.normalize(x + delta) - m.normalize(x)).abs().max() * 0.25 <= 0.03 + 1e-6


def test_unknown_model_is_named():
    with pytest.raises(KeyError, match="unknown model 'VGG'"):
        build_model("VGG")


def test_checkpoint_round_trip(tmp_path):
    m = build_model("SimpleCNN", num_classes=3).eval()
    path = checkpoints.save_checkpoint(tmp_path / "SimpleCNN-original.pt", m, "SimpleCNN",
                                       {"num_classes": 3}, metrics={"val_acc": 0.5}, classes=["a", "b", "c"])
    loaded, ckpt = checkpoints.load_model(path, "SimpleCNN")
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(loaded(x), m(x)) and ckpt["metrics"]["val_acc"] == 0.5


def test_checkpoint_from_another_model_is_refused(tmp_path):
    path = checkpoints.save_checkpoint(tmp_path / "m.pt", build_model("SimpleCNN"), "SimpleCNN", {})
    with pytest.raises(checkpoints.CheckpointError, match="holds a SimpleCNN, not a ResNetSmall"):
        checkpoints.load_model(path, "ResNetSmall")
    forged = torch.load(path, weights_only=True)
    forged["arch"] = "ResNetSmall"
    torch.save(forged, tmp_path / "forged.pt")
    with pytest.raises(checkpoints.CheckpointError, match="does not match ResNetSmall"):
        checkpoints.load_model(tmp_path / "forged.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoints.CheckpointError, match="junk.pt"):
        checkpoints.load_model(tmp_path / "junk.pt")


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoints.FORMAT, "arch": "SimpleCNN", "arch_args": {},
                "state_dict": {}, "payload": _RunsCode(marker)}, path)
    with pytest.raises(checkpoints.CheckpointError, match="refusing to load .*evil.pt"):
        checkpoints.load_model(path)
    assert not marker.exists()  # nothing ran
    with pytest.raises(pickle.UnpicklingError):  # and the guard is torch's weights_only loader
        torch.load(path, weights_only=True)
    assert not marker.exists()


def test_a_coarser_grid_is_not_enlarged_for_a_network_that_takes_any_size():
    m = build_model("SimpleCNN", **get_spec("SimpleCNN").arch_args(10, [0.5] * 3, [0.25] * 3)).eval()
    assert m.normalize(torch.rand(1, 3, 16, 16)).shape[-1] == 16  # the smoke run's 16 px stay 16 px
    lite = build_model("TwoConvCNN").eval()  # a fixed classifier: 16 px are enlarged to its 32
    assert lite.normalize(torch.rand(1, 3, 16, 16)).shape[-1] == 32
