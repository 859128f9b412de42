"""LeNet-300-100, the fully connected network of LeCun et al. 1998 ("Gradient-based learning applied
to document recognition") that Han et al. 2015 pruned 12× and Frankle & Carbin 2019 found lottery
tickets in."""
from __future__ import annotations

import torch
from torch import nn

from ..layers import Normalize
from ..registry import ModelSpec


class LeNet300100(nn.Module):
    """784 → 300 → 100 → 10, ReLU after each hidden layer, dropout before the last layer.

    266,610 parameters (266,200 weights) for 10 classes of 28×28 grey images. No convolution, so
    no Grad-CAM layer: A3 explains it with saliency only. Input x float [B, 1, 28, 28] in [0, 1].
    """

    def __init__(self, num_classes: int = 10, mean=(0.5,), std=(0.25,), dropout: float = 0.5):
        super().__init__()
        self.normalize = Normalize(list(mean), list(std))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(len(mean) * 28 * 28, 300), nn.ReLU(inplace=True),
                                        nn.Linear(300, 100), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                        nn.Linear(100, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.normalize(x))


SPEC = ModelSpec("LeNet-300-100", LeNet300100, gradcam_layer=None, input_size=28, kind="mlp")
