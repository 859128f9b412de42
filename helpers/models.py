"""Model registry. Every model takes pixels in [0, 1]: normalization is its first layer.

Attacks and saliency then work in pixel space, where ε and norms mean the same for every model
and clamping to [0, 1] is exact.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class Normalize(nn.Module):
    """(x - mean) / std per channel; x float [B, C, H, W] in [0, 1]. Buffers, not parameters."""

    def __init__(self, mean: list[float], std: list[float]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2))


class SimpleCNN(nn.Module):
    """Three conv blocks (32/64/128, BN, ReLU, 2×2 max-pool) and a 2048→256→10 classifier.

    620,810 parameters for 10 classes. The adaptive pool makes the classifier see 128×4×4
    features at any input size (at 32 px it is the identity), so 64 px input keeps the same
    parameter count.
    """

    def __init__(self, num_classes: int = 10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)):
        super().__init__()
        self.normalize = Normalize(list(mean), list(std))
        self.features = nn.Sequential(_conv_block(3, 32), _conv_block(32, 64), _conv_block(64, 128))
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.5), nn.Linear(128 * 4 * 4, 256), nn.ReLU(inplace=True),
            nn.Dropout(0.3), nn.Linear(256, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(self.normalize(x))))


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

    2,777,674 parameters for 10 classes. Stages 2 and 3 halve the resolution.
    """

    def __init__(self, num_classes: int = 10, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)):
        super().__init__()
        self.normalize = Normalize(list(mean), list(std))
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(inplace=True))
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(256, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.stem(self.normalize(x)))))
        return self.fc(torch.flatten(self.pool(x), 1))


MODELS: dict[str, Callable[..., nn.Module]] = {"SimpleCNN": SimpleCNN, "ResNetSmall": ResNetSmall}


def build_model(name: str, **kwargs) -> nn.Module:
    """Instantiate a registered model by name; kwargs are its constructor arguments."""
    if name not in MODELS:
        raise KeyError(f"unknown model '{name}'; registered models: {sorted(MODELS)}")
    return MODELS[name](**kwargs)


def resize_to(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> nn.Module:
    """Give every Conv2d, BatchNorm2d and Linear of `model` the channel counts of `state_dict`.

    A channel-pruned model is its architecture with fewer channels: rebuilding it from the
    registry and resizing its layers to the saved tensors lets it load with a plain state_dict
    (weights_only), where pickling the pruned module would run code on load. Values are left
    uninitialised; load the state_dict next. KeyError names a layer the state_dict lacks.
    """
    for name, m in model.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            w = state_dict[prefix + "weight"]
            if isinstance(m, nn.Conv2d):
                if m.groups != 1:
                    raise ValueError(f"layer {name}: resizing grouped convolutions is not supported")
                m.out_channels, m.in_channels = w.shape[0], w.shape[1]
            else:
                m.out_features, m.in_features = w.shape[0], w.shape[1]
            m.weight = nn.Parameter(torch.empty_like(w))
            if m.bias is not None:
                m.bias = nn.Parameter(torch.empty_like(state_dict[prefix + "bias"]))
        elif isinstance(m, nn.BatchNorm2d):
            n = state_dict[prefix + "running_mean"].shape[0]
            m.num_features = n
            if m.affine:
                m.weight, m.bias = nn.Parameter(torch.empty(n)), nn.Parameter(torch.empty(n))
            m.running_mean, m.running_var = torch.empty(n), torch.empty(n)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
