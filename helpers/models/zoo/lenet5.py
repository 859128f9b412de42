"""LeNet-5 as in Caffe's MNIST example, the network Han et al. pruned ("Learning both Weights and
Connections for Efficient Neural Networks", NeurIPS 2015, Table 1: 431K weights, 12× fewer after
pruning with no loss)."""
from __future__ import annotations

import torch
from torch import nn

from ..layers import Normalize
from ..registry import ModelSpec


class LeNet5(nn.Module):
    """conv 5×5 20 → max-pool 2 → conv 5×5 50 → max-pool 2 → fc 800→500, ReLU → fc 500→10.

    431,080 parameters (430,500 weights) for 10 classes of 28×28 grey images, as Caffe's
    `lenet_train_test.prototxt`: no nonlinearity after the convolutions (max-pooling is one). One
    addition: dropout before the last layer (`dropout`, 0.5), which Han et al.'s protocol scales
    down as the layer loses connections. Input x float [B, 1, 28, 28] in [0, 1].
    """

    def __init__(self, num_classes: int = 10, mean=(0.5,), std=(0.25,), dropout: float = 0.5):
        super().__init__()
        self.normalize = Normalize(list(mean), list(std))
        self.features = nn.Sequential(nn.Conv2d(len(mean), 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5),
                                      nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(50 * 4 * 4, 500), nn.ReLU(inplace=True),
                                        nn.Dropout(dropout), nn.Linear(500, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(self.normalize(x)))


# Grad-CAM at conv2, before its pooling: 8×8 at 28 px input.
SPEC = ModelSpec("LeNet5", LeNet5, gradcam_layer="features.2", input_size=28)
