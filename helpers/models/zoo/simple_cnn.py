"""SimpleCNN: the course's baseline network."""
from __future__ import annotations

import torch
from torch import nn

from ..layers import Normalize
from ..registry import ModelSpec


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2))


class SimpleCNN(nn.Module):
    """Three conv blocks (32/64/128, BN, ReLU, 2×2 max-pool) and a 2048→256→10 classifier.

    620,810 parameters for 10 classes of RGB images. The adaptive pool makes the classifier see
    128×4×4 features at any input size (at 32 px it is the identity). Input x float [B, C, H, W] in
    [0, 1], C = len(mean); a grid finer than `native_size` (32 px by its spec) is shrunk inside to it,
    a coarser one is computed as it is.
    """

    def __init__(self, num_classes: int = 10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
                 native_size: int | None = None):
        super().__init__()
        self.normalize = Normalize(list(mean), list(std), native_size, shrink_only=True)
        self.features = nn.Sequential(_conv_block(len(mean), 32), _conv_block(32, 64), _conv_block(64, 128))
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(128 * 4 * 4, 256), nn.ReLU(inplace=True),
            nn.Dropout(0.3), nn.Linear(256, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(self.normalize(x))))


# Grad-CAM at block 3's ReLU, before its pooling: 8×8 at 32 px input (the pooled map would be 4×4).
SPEC = ModelSpec("SimpleCNN", SimpleCNN, native_size=32, gradcam_layer="features.2.2")
