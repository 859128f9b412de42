"""ResNetSmall: a small residual network (He et al., "Deep Residual Learning for Image
Recognition", CVPR 2016) for low-resolution images."""
from __future__ import annotations

import torch
from torch import nn

from ..layers import Normalize
from ..registry import ModelSpec


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers with an identity (or 1×1 conv-BN projection) shortcut (He et al. 2016)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def canonizers() -> list:
    """zennit canonizers for layer-wise relevance propagation: BatchNorm merged into the convolution
    before it, and each block's residual sum done by zennit's `Sum` module, so that relevance is
    split between the two branches in proportion to their contributions (the plain gradient of a
    sum would copy it whole into both)."""
    from zennit.canonizers import AttributeCanonizer, SequentialMergeBatchNorm
    from zennit.layer import Sum

    def forward(block: BasicBlock, x: torch.Tensor) -> torch.Tensor:
        out = block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))
        return block.relu(block.canonizer_sum(torch.stack([block.shortcut(x), out], dim=-1)))

    def attributes(_name: str, module: nn.Module):
        if isinstance(module, BasicBlock):
            return {"forward": forward.__get__(module), "canonizer_sum": Sum()}
        return None

    return [SequentialMergeBatchNorm(), AttributeCanonizer(attributes)]


class ResNetSmall(nn.Module):
    """3×3 stem, three stages of two BasicBlocks with w, 2w and 4w channels (w = 64 by default:
    64/128/256), global average pool, linear classifier.

    2,777,674 parameters for 10 classes of RGB images at width 64, 696,618 at 32. Stages 2 and 3
    halve the resolution.
    Input x float [B, C, H, W] in [0, 1], C = len(mean); a grid finer than `native_size` (32 px by
    its spec) is shrunk inside to it, a coarser one is computed as it is.
    """

    def __init__(self, num_classes: int = 10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
                 native_size: int | None = None, width: int = 64):
        super().__init__()
        self.normalize = Normalize(list(mean), list(std), native_size, shrink_only=True)
        w = width
        self.stem = nn.Sequential(nn.Conv2d(len(mean), w, 3, 1, 1, bias=False), nn.BatchNorm2d(w),
                                  nn.ReLU(inplace=True))
        self.layer1 = nn.Sequential(BasicBlock(w, w), BasicBlock(w, w))
        self.layer2 = nn.Sequential(BasicBlock(w, 2 * w, 2), BasicBlock(2 * w, 2 * w))
        self.layer3 = nn.Sequential(BasicBlock(2 * w, 4 * w, 2), BasicBlock(4 * w, 4 * w))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(self.normalize(x)))))
        return self.fc(torch.flatten(self.pool(x), 1))


# Grad-CAM at the last residual block: 8×8 at 32 px input. ResNetSmall-w32 is the default study's: half
# the width, a quarter of the multiply-adds; on a 2-core AVX2-only CPU in fp32 it trains at 87 img/s
# against 23 (batch 64, measured side by side), which is what fits the default study in its budget
# there (experiments/README.md).
SPEC = (ModelSpec("ResNetSmall", ResNetSmall, native_size=32, gradcam_layer="layer3.1", kind="residual",
                  canonizers=canonizers),
        ModelSpec("ResNetSmall-w32", ResNetSmall, native_size=32, gradcam_layer="layer3.1", kind="residual",
                  settings={"width": 32}, variant="half the width: 32/64/128 channels", canonizers=canonizers))
