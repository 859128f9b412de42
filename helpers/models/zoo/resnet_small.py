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


class ResNetSmall(nn.Module):
    """3×3 stem to 64 channels, stages 64/128/256 of two BasicBlocks, global average pool, 256→10.

    2,777,674 parameters for 10 classes of RGB images. Stages 2 and 3 halve the resolution.
    Input x float [B, C, H, W] in [0, 1], C = len(mean); a grid finer than `native_size` (32 px by
    its spec) is shrunk inside to it, a coarser one is computed as it is.
    """

    def __init__(self, num_classes: int = 10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
                 native_size: int | None = None):
        super().__init__()
        self.normalize = Normalize(list(mean), list(std), native_size, shrink_only=True)
        self.stem = nn.Sequential(nn.Conv2d(len(mean), 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(inplace=True))
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(256, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(self.normalize(x)))))
        return self.fc(torch.flatten(self.pool(x), 1))


# Grad-CAM at the last residual block: 8×8 at 32 px input.
SPEC = ModelSpec("ResNetSmall", ResNetSmall, native_size=32, gradcam_layer="layer3.1")
