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
def latencies_ms(models: dict[str, nn.Module], shape: tuple[int, ...], device: torch.device, *, runs: int,
                 warmup: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation in ms of one forward pass of each model on a random input of
    `shape`, timed round-robin so that they can be compared.

    A shared machine's speed drifts by tens of percent within a minute, so timing one model after
    another would compare moments, not models. Here each model runs `warmup` untimed passes, then
    `rounds` rounds each time every model for runs / rounds passes (the order rotating from round to
    round), and every model's statistics pool its passes (at least `runs`). Each model's block in a
    round starts with one untimed pass: the model timed before it has evicted its weights from the
    caches, and a larger predecessor evicts more, which would bias the comparison.
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
    times: dict[str, list[float]] = {k: [] for k in names}
    for k in names:
        for _ in range(warmup):
            copies[k](x)
    synchronize(device)
    for r in range(math.ceil(runs / per_round)):
        for k in names[r % len(names):] + names[:r % len(names)]:
            copies[k](x)  # untimed: brings the model's weights back into the caches
            for _ in range(per_round):
                t0 = time.perf_counter()
                copies[k](x)
                synchronize(device)
                times[k].append((time.perf_counter() - t0) * 1e3)
    return {k: (statistics.fmean(t), statistics.stdev(t) if len(t) > 1 else 0.0) for k, t in times.items()}


def latency_ms(model: nn.Module, shape: tuple[int, ...], device: torch.device, *, runs: int,
               warmup: int) -> tuple[float, float]:
    """Mean and standard deviation in ms of one forward pass of one model (see `latencies_ms`)."""
    return latencies_ms({"model": model}, shape, device, runs=runs, warmup=warmup, rounds=1)["model"]
