"""Which models A2 trains (the study's, then those compared there only), each one's training
recipe, and their batch-1 latencies timed side by side."""
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


def batch1_latency(models: dict[str, nn.Module], data, params: dict[str, Any],
                   device: torch.device) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation (ms) of one forward pass at batch 1 of every A2 model, timed
    round-robin side by side (`evaluation.latency`), so the model table compares them in one run.
    (C1 times each model again beside its compressed versions.)"""
    from ..evaluation.latency import latencies_ms

    shape = (1, data.channels, data.image_size, data.image_size)
    return latencies_ms(models, shape, device, runs=params["latency_runs"], warmup=params["latency_warmup"],
                        rounds=params["latency_rounds"])
