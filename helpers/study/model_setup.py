"""Which models A2 trains (the study's, then those compared there only), the questions they let it
ask, each one's training recipe, and their batch-1 latencies timed side by side."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..config.schema import ParameterError
from ..models.registry import get_spec
from ..training.config import TrainConfig


def a2_models(params: dict[str, Any]) -> list[str]:
    """The models A2 trains and compares: the study's (`models`, which the later stages take up),
    then `training_only_models` (baselines, transfer-learning regimes)."""
    return list(params["models"]) + [m for m in params.get("training_only_models", []) if m not in params["models"]]


def questions_text(names: list[str], n_train: int) -> str:
    """A2's opening question, asked of the families these models hold (`ModelSpec.kind`, and
    whether a model starts from pretrained weights): a residual network against a plain CNN, a
    convolutional network against a multilayer perceptron, what ImageNet weights add."""
    specs = [get_spec(m) for m in names]
    scratch = {s.kind for s in specs if s.weights is None}
    asked = [f"How accurate can a small classifier trained on {n_train:,} images be"]
    if {"residual", "cnn"} <= scratch:
        asked.append("does a deeper residual network (He et al. 2016) beat a plain CNN")
    if "mlp" in scratch and scratch & {"cnn", "residual"}:
        asked.append("does a convolutional network beat a multilayer perceptron")
    if any(s.weights is not None for s in specs):
        asked.append("what does a network pretrained on ImageNet add")
    if len(asked) == 1:
        return asked[0] + "?"
    return ", ".join(asked[:-1]) + ", and " + asked[-1] + "?"


def model_recipe(name: str, params: dict[str, Any]) -> TrainConfig:
    """Model `name`'s training recipe: the study's, then what its spec needs (`ModelSpec.recipe`, e.g.
    a pretrained network's smaller learning rate), then `recipe_by_model`, then `epochs_by_model`."""
    changes = {**get_spec(name).recipe, **params["recipe_by_model"].get(name, {})}
    unknown = sorted(set(changes) - set(TrainConfig.__dataclass_fields__))
    if unknown:
        raise ParameterError(f"recipe_by_model['{name}'] names {unknown}, which are no training settings; "
                             f"known: {sorted(TrainConfig.__dataclass_fields__)}")
    if name in params["epochs_by_model"]:
        changes["epochs"] = params["epochs_by_model"][name]
    return TrainConfig.from_params(params, **changes)


def own_recipes(params: dict[str, Any]) -> list[str]:
    """The A2 models whose recipe differs from the study's in any setting (`model_recipe`)."""
    study = TrainConfig.from_params(params)
    return [m for m in a2_models(params) if model_recipe(m, params) != study]


def batch1_latency(models: dict[str, nn.Module], data, params: dict[str, Any],
                   device: torch.device) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation (ms) of one forward pass at batch 1 of every A2 model, timed
    round-robin side by side (`evaluation.latency`), so the model table compares them in one run.
    (C1 times each model again beside its compressed versions.)"""
    from ..evaluation.latency import latencies_ms

    shape = (1, data.channels, data.image_size, data.image_size)
    return latencies_ms(models, shape, device, runs=params["latency_runs"], warmup=params["latency_warmup"],
                        rounds=params["latency_rounds"])
