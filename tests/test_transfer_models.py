"""EfficientNet-Lite0 with its ImageNet weights, its three training regimes, and training on a frozen
backbone's features computed once."""
import pytest
import torch

from helpers.models import build_model
from helpers.models.registry import get_spec
from helpers.models.zoo import efficientnet_lite0 as lite
from helpers.training.config import TrainConfig
from helpers.training.inputs import native_size, prepare

REGIMES = ["EffNetL0-frozen", "EffNetL0-last", "EffNetL0-full"]


def _model(name):
    return build_model(name, **get_spec(name).arch_args(10, [0.5] * 3, [0.25] * 3))


def test_imagenet_weights_load_with_weights_only_and_key_every_checkpoint():
    state = torch.load(lite.weights_file(), map_location="cpu", weights_only=True)
    m = _model("EffNetL0-full")
    own = m.state_dict()
    shared = [k for k in state if not k.startswith("_fc.")]
    assert len(shared) == 294 and all(torch.equal(own[k], state[k]) for k in shared)
    args = get_spec("EffNetL0-full").arch_args(10, [0.5] * 3, [0.25] * 3)
    assert args["weights_sha256"] == lite.weights_digest() and len(args["weights_sha256"]) == 64
    assert args["mean"] == lite.LITE_MEAN  # the weights' preprocessing, not the data's statistics
    with pytest.raises(ValueError, match="not the weights file this model was trained from"):
        lite.EfficientNetLite0(weights_sha256="0" * 64)


@pytest.mark.parametrize("kernel, stride", [(3, 2), (5, 2), (3, 1), (5, 1)])
def test_padding_is_tensorflows_same_padding(kernel, stride):
    """TensorFlow pads max((⌈i/s⌉ − 1)·s + k − i, 0) in all, the odd pixel at the bottom and right."""
    import math

    x = torch.rand(1, 2, 16, 16)
    conv = torch.nn.Conv2d(2, 2, kernel, stride, padding=0, bias=False)
    total = max((math.ceil(16 / stride) - 1) * stride + kernel - 16, 0)
    tf = conv(torch.nn.functional.pad(x, [total // 2, total - total // 2] * 2))
    ours = lite._conv(2, 2, kernel, stride)
    ours.weight = conv.weight
    assert torch.allclose(ours(lite.same_padding(kernel, stride)(x)), tf, atol=1e-6)
    with pytest.raises(ValueError, match="multiple of 32"):
        lite.EfficientNetLite0(native_size=100, pretrained=False)


@pytest.mark.parametrize("name, trainable", [("EffNetL0-frozen", 12_810), ("EffNetL0-last", 2_683_050),
                                             ("EffNetL0-full", 3_383_818)])
def test_regimes_train_what_they_say_and_the_split_reproduces_the_model(name, trainable):
    m = _model(name).eval()
    assert sum(p.numel() for p in m.parameters() if p.requires_grad) == trainable
    x = torch.rand(2, 3, 128, 128)
    split = m.frozen_split()
    if name == "EffNetL0-full":
        assert split is None
    else:
        with torch.no_grad():
            assert torch.allclose(split[1](split[0](x)), m(x), atol=1e-5)
    m.train()  # BatchNorm keeps the ImageNet statistics in every regime
    assert not any(b.training for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d))
    assert m._dropout.training


def test_a_frozen_backbone_trains_on_features_computed_once():
    m = _model("EffNetL0-frozen")
    images = torch.randint(0, 256, (6, 3, 64, 64), dtype=torch.uint8)
    inputs = prepare(m, images, images[:2], augment=False, device=torch.device("cpu"))
    assert inputs.cached_features and inputs.train.shape == (6, 1280, 4, 4) and inputs.selection.shape[0] == 2
    assert inputs.module is not m and set(inputs.module.parameters()) >= {m._fc.weight}
    with pytest.raises(ValueError, match="without augmentation"):
        prepare(m, images, images, augment=True, device=torch.device("cpu"))
    kept = prepare(m, images, images, augment=True, device=torch.device("cpu"), whole_model=True)
    assert kept.module is m and kept.train is images  # an attack in the loop needs the whole model


def test_a_small_model_trains_on_images_shrunk_once_to_its_native_size():
    m = _model("SimpleCNN")
    images = torch.randint(0, 256, (4, 3, 128, 128), dtype=torch.uint8)
    inputs = prepare(m, images, images, augment=True, device=torch.device("cpu"))
    assert native_size(m) == 32 and inputs.train.shape == (4, 3, 32, 32) and not inputs.cached_features
    assert torch.allclose(inputs.train, torch.nn.functional.avg_pool2d(images.float() / 255, 4), atol=1e-6)
    same = prepare(m, images[..., :32, :32], images[..., :32, :32], augment=True, device=torch.device("cpu"))
    assert same.train.dtype == torch.uint8  # already at its size: nothing to do


def test_a_model_recipe_is_the_studys_then_the_specs_then_the_parameter_files():
    from helpers.config.schema import ParameterError, defaults
    from helpers.study.model_setup import model_recipe

    params = {**defaults(), "lr": 0.002, "epochs": 30, "epochs_by_model": {"EffNetL0-full": 5},
              "recipe_by_model": {"EffNetL0-full": {"lr": 0.0001}}}
    assert model_recipe("SimpleCNN", params) == TrainConfig.from_params(params)
    full = model_recipe("EffNetL0-full", params)
    assert (full.lr, full.epochs, full.warmup_epochs) == (0.0001, 5, 1)
    assert model_recipe("EffNetL0-frozen", params).augment is False
    with pytest.raises(ParameterError, match="recipe_by_model\\['SimpleCNN'\\] names \\['lr_max'\\]"):
        model_recipe("SimpleCNN", {**params, "recipe_by_model": {"SimpleCNN": {"lr_max": 1}}})


def test_a_module_may_register_several_regimes_of_one_network():
    from helpers.models.registry import model_names, spec_of

    assert set(REGIMES) <= set(model_names())
    assert spec_of(_model("EffNetL0-last")).gradcam_layer == "_conv_head"
    assert "Every layer fine-tuned." in get_spec("EffNetL0-full").description


def test_channel_pruning_keeps_depthwise_convolutions_and_the_pruned_model_reloads(tmp_path):
    """Torch-Pruning prunes a depthwise convolution with the layer feeding it; the checkpoint loads back
    with weights_only into the registered architecture resized to its widths, groups included."""
    from helpers.compression.channel import prune_channels
    from helpers.compression.measure import macs_and_params
    from helpers.models import checkpoints

    m = _model("EffNetL0-full").eval()
    pruned = prune_channels(_model("EffNetL0-full").eval(), 0.25, (3, 128, 128))
    dw = pruned._blocks[3]._depthwise_conv
    assert dw.groups == dw.in_channels == dw.out_channels < m._blocks[3]._depthwise_conv.out_channels
    assert macs_and_params(pruned, (3, 128, 128))[0] < 0.75 * macs_and_params(m, (3, 128, 128))[0]
    args = get_spec("EffNetL0-full").arch_args(10, [0.5] * 3, [0.25] * 3)
    path = checkpoints.save_checkpoint(tmp_path / "p.pt", pruned, "EffNetL0-full", args,
                                       structure=checkpoints.CHANNEL_PRUNED)
    loaded, _ = checkpoints.load_model(path, "EffNetL0-full")
    x = torch.rand(2, 3, 128, 128)
    assert torch.allclose(loaded.eval()(x), pruned(x), atol=1e-5)


def test_other_grouped_convolutions_are_refused_by_name():
    from helpers.models.resize import resize_to

    net = torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3, groups=2))
    with pytest.raises(ValueError, match="layer 0: resizing grouped convolutions other than depthwise"):
        resize_to(net, net.state_dict())


def test_a2_trains_the_studys_models_then_those_compared_there_only():
    from helpers.study.model_setup import a2_models

    params = {"models": ["SimpleCNN", "EffNetL0-full"], "training_only_models": ["TwoConvCNN", "SimpleCNN"]}
    assert a2_models(params) == ["SimpleCNN", "EffNetL0-full", "TwoConvCNN"]


def test_magnitude_pruning_keeps_the_new_classifier_whose_small_weights_one_threshold_would_zero():
    """A head trained from scratch has weights far smaller than the pretrained backbone's (in the study
    its largest |w| lay below the median of all weights): global pruning at 50 % zeroed it whole and the
    output became constant. The spec leaves it out of unstructured pruning."""
    from helpers.compression.magnitude import prune_magnitude, prunable

    model = _model("EffNetL0-full").eval()
    with torch.no_grad():
        model._fc.weight.mul_(0.01)  # a small new head beside the ImageNet backbone
    names = [n for n, _ in prunable(model)]
    assert "_fc" not in names and "_conv_stem" in names and "_conv_head" in names
    prune_magnitude(model, 0.5, "global")
    assert not (model._fc.weight == 0).any()
    zeros = sum(int((m.weight == 0).sum()) for _, m in prunable(model))
    assert abs(zeros / sum(m.weight.numel() for _, m in prunable(model)) - 0.5) < 0.01
    x = torch.rand(4, 3, 128, 128)
    out = model(x)
    assert (out - out.mean(0)).abs().max() > 0  # not one constant output for every image
