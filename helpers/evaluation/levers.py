"""Efficiency levers of training and evaluation on this machine, each measured against its
baseline side by side (`python -m helpers.bench --levers`).

Every comparison alternates the two settings over a few rounds and takes the median, so a drift
of the machine's speed falls on both alike. Training is one step as `training.loop.fit` takes it
(AdamW, batch 64, the precision given) on random inputs; evaluation is a forward pass in eval
mode, fp32.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F

from ..core.device import autocast, synchronize


def _step_time(step: Callable[[], None], device: torch.device, seconds: float) -> float:
    step()
    synchronize(device)
    calls, t0 = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - t0 < seconds:
        step()
        calls += 1
    synchronize(device)
    return (time.perf_counter() - t0) / calls


def train_step(build: Callable[[], torch.nn.Module], shape, device, precision: str, *, channels_last: bool = True,
               compiled: bool = False, batch_size: int = 64) -> Callable[[], None]:
    """One training step of a fresh model; `compiled` wraps the model in torch.compile (inductor)."""
    torch.manual_seed(0)
    model = build().to(device).train()
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    run = torch.compile(model) if compiled else model
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    x = torch.rand(batch_size, *shape, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch_size,), device=device)

    def step():
        with autocast(device, precision):
            loss = F.cross_entropy(run(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def compare(a: Callable[[], Callable[[], None]], b: Callable[[], Callable[[], None]], device, *,
            seconds: float = 1.0, rounds: int = 3) -> tuple[float, float]:
    """Median seconds per call of the steps `a()` and `b()` make, timed alternately over `rounds`."""
    steps = (a(), b())
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for i, step in enumerate(steps):
            times[i].append(_step_time(step, device, seconds))
    return statistics.median(times[0]), statistics.median(times[1])


def compile_cost(build, shape, device, precision: str) -> float:
    """Seconds torch.compile takes before the first compiled training step returns."""
    step = train_step(build, shape, device, precision, compiled=True)
    t0 = time.perf_counter()
    step()
    synchronize(device)
    return time.perf_counter() - t0


def threads_compare(build, shape, device, precision: str, few: int, seconds: float = 1.0) -> tuple[float, float]:
    """Seconds per training step with `few` intra-op threads and with torch's default, alternately."""
    default = torch.get_num_threads()
    step = train_step(build, shape, device, precision)
    times: tuple[list[float], list[float]] = ([], [])
    try:
        for _ in range(3):
            for i, n in enumerate((few, default)):
                torch.set_num_threads(n)
                times[i].append(_step_time(step, device, seconds))
    finally:
        torch.set_num_threads(default)
    return statistics.median(times[0]), statistics.median(times[1])


def eval_rate(build, shape, device, batch_size: int, seconds: float = 1.0) -> float:
    """Images per second of an fp32 forward pass in eval mode at `batch_size` (channels-last)."""
    torch.manual_seed(0)
    model = build().to(device).eval().to(memory_format=torch.channels_last)
    x = torch.rand(batch_size, *shape, device=device).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        return batch_size / _step_time(lambda: model(x), device, seconds)


def lever_lines(name: str, build, shape, device, precision: str, seconds: float = 1.0) -> list[str]:
    """The levers of one model as printable lines: each setting's time against its baseline."""
    px = shape[-1]
    lines = []
    nchw, cl = compare(lambda: train_step(build, shape, device, precision, channels_last=False),
                       lambda: train_step(build, shape, device, precision), device, seconds=seconds)
    lines.append(f"{name} {px} px {precision} training step: channels-last {1e3 * cl:.0f} ms, NCHW {1e3 * nchw:.0f} ms "
                 f"(channels-last {nchw / cl:.2f}x as fast)")
    cost = compile_cost(build, shape, device, precision)
    eager, compiled = compare(lambda: train_step(build, shape, device, precision),
                              lambda: train_step(build, shape, device, precision, compiled=True), device, seconds=seconds)
    lines.append(f"{name} {px} px {precision} training step: torch.compile {1e3 * compiled:.0f} ms after {cost:.0f} s of "
                 f"compilation, eager {1e3 * eager:.0f} ms ({eager / compiled:.2f}x; compilation pays back after "
                 f"{cost / max(eager - compiled, 1e-9):.0f} steps)" if compiled < eager else
                 f"{name} {px} px {precision} training step: torch.compile {1e3 * compiled:.0f} ms after {cost:.0f} s of "
                 f"compilation, eager {1e3 * eager:.0f} ms (compiled is not faster)")
    if torch.get_num_threads() > 1:
        one, default = threads_compare(build, shape, device, precision, 1, seconds)
        lines.append(f"{name} {px} px {precision} training step: {torch.get_num_threads()} threads {1e3 * default:.0f} ms, "
                     f"1 thread {1e3 * one:.0f} ms ({one / default:.2f}x)")
    rates = {b: eval_rate(build, shape, device, b, seconds / 2) for b in (16, 64, 256, 512)}
    lines.append(f"{name} {px} px evaluation (fp32): " + ", ".join(f"batch {b} {r:,.0f} img/s" for b, r in rates.items()))
    return lines
