"""TwoConvCNN: the from-scratch baseline of transfer-learning studies, two convolutions and a
classifier, trained without ImageNet (the student study on Intel scenes reached 0.74 with it)."""
from __future__ import annotations

import torch
from torch import nn

from ..layers import Normalize
from ..registry import ModelSpec


class TwoConvCNN(nn.Module):
    """conv 3×3 32, ReLU, max-pool 2 → conv 3×3 64, ReLU, max-pool 2 → dropout 0.25 → fc 4096→128,
    ReLU, dropout 0.5 → fc 128→10.

    545,098 parameters for 10 classes of RGB images; no BatchNorm, so it shows what depth and
    normalization buy SimpleCNN and ResNetSmall. Input x float [B, C, H, W] in [0, 1], C = len(mean),
    resized inside to `native_size` (32 px: its classifier reads 64×8×8 features).
    """

    def __init__(self, num_classes: int = 10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
                 native_size: int | None = 32):
        super().__init__()
        self.normalize = Normalize(list(mean), list(std), native_size)
        self.features = nn.Sequential(nn.Conv2d(len(mean), 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                                      nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Dropout(0.25), nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(inplace=True),
                                        nn.Dropout(0.5), nn.Linear(128, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.normalize(x)))


# Grad-CAM at the second convolution's ReLU, before its pooling: 16×16 at 32 px.
SPEC = ModelSpec("TwoConvCNN", TwoConvCNN, native_size=32, gradcam_layer="features.4")
