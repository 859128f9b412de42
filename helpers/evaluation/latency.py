"""Latency of forward passes, timed round-robin so that models can be compared."""
from __future__ import annotations

import copy
import math
import statistics
import time

import torch
from torch import nn

from ..core.device import synchronize


@torch.no_grad()
def round_robin_ms(models: dict[str, nn.Module], shape: tuple[int, ...], device: torch.device, *, runs: int,
                   warmup: int, rounds: int) -> dict[str, list[list[float]]]:
    """Every timed pass in ms of each model, per round-robin round: {name: [[ms, ...] per round]}.

    A shared machine's speed drifts by tens of percent within a minute, so timing one model after
    another would compare moments, not models. Here each model runs `warmup` untimed passes, then
    `rounds` rounds each time every model for runs / rounds passes (the order rotating from round to
    round), so every model gets at least `runs` passes. Each model's block in a round starts with
    one untimed pass: the model timed before it has evicted its weights from the caches, and a
    larger predecessor evicts more, which would bias the comparison.
    Eval mode, fp32, time.perf_counter around each pass, synchronised on GPU. Images
    ([B, C, H, W]) are timed in channels-last memory format on copies of the models: a freshly
    trained model is channels-last (`train.fit`) and one loaded from a checkpoint is not, and the
    kernels' speed differs, so a comparison would measure the format.
    """
    if not models:
        return {}
    copies = {k: copy.deepcopy(m).eval() for k, m in models.items()}
    x = torch.rand(shape, device=device)
    if x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
        for m in copies.values():
            m.to(memory_format=torch.channels_last)
    per_round = max(1, runs // rounds)
    names = list(copies)
    times: dict[str, list[list[float]]] = {k: [] for k in names}
    for k in names:
        for _ in range(warmup):
            copies[k](x)
    synchronize(device)
    for r in range(math.ceil(runs / per_round)):
        for k in names[r % len(names):] + names[:r % len(names)]:
            copies[k](x)  # untimed: brings the model's weights back into the caches
            times[k].append([])
            for _ in range(per_round):
                t0 = time.perf_counter()
                copies[k](x)
                synchronize(device)
                times[k][-1].append((time.perf_counter() - t0) * 1e3)
    return times


def latencies_ms(models: dict[str, nn.Module], shape: tuple[int, ...], device: torch.device, *, runs: int,
                 warmup: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation in ms of one forward pass of each model on a random input of
    `shape`, timed round-robin so that they can be compared (`round_robin_ms`); every pass pooled."""
    return {k: pooled_ms(v) for k, v in round_robin_ms(models, shape, device, runs=runs, warmup=warmup,
                                                        rounds=rounds).items()}


def pooled_ms(per_round: list[list[float]]) -> tuple[float, float]:
    """Mean and standard deviation of every timed pass of one model (`round_robin_ms`), rounds pooled."""
    t = [ms for block in per_round for ms in block]
    return statistics.fmean(t), statistics.stdev(t) if len(t) > 1 else 0.0


def same_model_ratios(per_round: dict[str, list[list[float]]], pairs: list[tuple[str, str]]) -> list[float]:
    """The latency noise of a round-robin measurement, measured: for each (model, identical copy)
    pair, the ratio of their mean latencies in each round. Identical models have a true ratio of 1,
    so the spread of these ratios is what timing alone does to a speedup."""
    return [statistics.fmean(b) / statistics.fmean(a)
            for first, second in pairs for a, b in zip(per_round[first], per_round[second])]


def noise_figure(ratios: list[float], quantile: float = 0.95) -> float:
    """The latency noise: the `quantile` of |ratio − 1| over identical-model ratios (`same_model_ratios`).
    A speedup s is called real only when |s − 1| exceeds it. Per-round ratios average fewer passes
    than the pooled speedups do, so the figure is conservative."""
    if not ratios:
        raise ValueError("no identical-model timings to measure the latency noise from")
    deviations = sorted(abs(r - 1) for r in ratios)
    return deviations[min(len(deviations) - 1, math.ceil(quantile * len(deviations)) - 1)]


def latency_ms(model: nn.Module, shape: tuple[int, ...], device: torch.device, *, runs: int,
               warmup: int) -> tuple[float, float]:
    """Mean and standard deviation in ms of one forward pass of one model (see `latencies_ms`)."""
    return latencies_ms({"model": model}, shape, device, runs=runs, warmup=warmup, rounds=1)["model"]
