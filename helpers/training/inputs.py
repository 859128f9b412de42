"""What a model trains on, computed once before its first epoch instead of in every batch.

Two cases save most of a training's arithmetic. A model with a frozen part (a pretrained backbone,
`model.frozen_split()`) trains its rest on the frozen part's outputs: they do not change while
training, so they are computed once (and the training is then without augmentation). A model that
computes at a resolution below the study's pixel grid (its Normalize layer's `size`) trains on the
training images shrunk to it once: its first layer would shrink every batch anyway (area: the mean
of each cell), and augmenting a 128 px batch costs 30 times a 32 px one; augmentation then works at
the model's own resolution.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from ..core.device import eval_mode
from ..data.splits import batches
from ..models.layers import Normalize, resize_images


@dataclass
class TrainingInputs:
    """The module `fit` trains (the model, or its trainable rest) and its inputs (uint8 images, or
    float [N, ...] computed from them); seconds: the time computing them took."""
    module: nn.Module
    train: torch.Tensor
    selection: torch.Tensor
    seconds: float
    cached_features: bool


def native_size(model: nn.Module) -> int | None:
    """The resolution the model computes at (its Normalize layer's size), None for the grid's."""
    return next((m.size for m in model.modules() if isinstance(m, Normalize)), None)


@torch.no_grad()
def _mapped(fn, images: torch.Tensor, device: torch.device, batch_size: int = 128) -> torch.Tensor:
    labels = torch.zeros(len(images), dtype=torch.long)
    return torch.cat([fn(x.to(device)).float().cpu() for x, _ in batches(images, labels, batch_size)])


def prepare(model: nn.Module, train_images: torch.Tensor, selection_images: torch.Tensor, *, augment: bool,
            device: torch.device, whole_model: bool = False) -> TrainingInputs:
    """The inputs `fit` should train `model` on; `whole_model` (an attack in the loop, a teacher
    reading the same inputs) keeps the model and the images as they are. ValueError when a model
    with a frozen part is to train with augmentation (its features would be cached)."""
    start = time.perf_counter()
    split = None if whole_model else getattr(model, "frozen_split", lambda: None)()
    if split is not None:
        if augment:
            raise ValueError(f"{type(model).__name__} with a frozen part trains on features computed once, so "
                             "without augmentation: set augment: false in its recipe")
        prefix, rest = split
        model.to(device)
        with eval_mode(model):
            train, selection = (_mapped(prefix, x, device) for x in (train_images, selection_images))
        return TrainingInputs(rest, train, selection, time.perf_counter() - start, True)
    size = native_size(model)
    if whole_model or size is None or size >= train_images.shape[-1]:  # (a model may enlarge a coarser grid itself)
        return TrainingInputs(model, train_images, selection_images, 0.0, False)
    train, selection = (_mapped(lambda x: resize_images(x, size), x, torch.device("cpu"))
                        for x in (train_images, selection_images))
    return TrainingInputs(model, train, selection, time.perf_counter() - start, False)
