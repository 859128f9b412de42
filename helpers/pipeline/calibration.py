"""A short calibration of this machine: how fast each model trains, is attacked and is evaluated.

The plan (`pipeline.plan`) turns the work of each stage into seconds with these rates. Each model
is timed for about `seconds` per measure on random inputs of the run's shape:

- train: images/s of one training step as `training.loop.fit` takes it (augmentation on the
  batch, channels-last, the run's autocast precision, AdamW);
- attack: images/s of one PGD step (input gradient and a forward pass, eval mode, fp32, batch 128);
- eval: images/s of a forward pass in eval mode, fp32, batch 256;
- batch1_ms: milliseconds of one forward pass of a single image.

The rates are cached per machine (CPU model, vector extension, threads, device, torch version),
precision, input shape, batch size and model source in `<cache>/calibration.json`, so a plan
after the first costs nothing.
"""
from __future__ import annotations

import inspect
import sys
import time
from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..core.device import autocast, cpu_name, eval_mode, synchronize
from ..core.files import atomic_path, load_json_if_intact, project_path, sha256_text

MEASURES = ("train", "attack", "eval", "batch1_ms")


def _timed(step: Callable[[], None], device: torch.device, seconds: float, warmup: int = 2) -> float:
    """Seconds per call of `step`, timed over at least `seconds` (and two calls) after `warmup`."""
    for _ in range(warmup):
        step()
    synchronize(device)
    calls, t0 = 0, time.perf_counter()
    while calls < 2 or time.perf_counter() - t0 < seconds:
        step()
        calls += 1
    synchronize(device)
    return (time.perf_counter() - t0) / calls


def _train_step(model, x, y, device, precision: str, augmentation: dict[str, float]):
    from ..data.augment import augment

    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    gen = torch.Generator().manual_seed(0)

    def step():
        xb = augment(x, generator=gen, **augmentation) if augmentation else x
        xb = xb.to(device).contiguous(memory_format=torch.channels_last)
        with autocast(device, precision):
            loss = F.cross_entropy(model(xb), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return step


def measure_model(model: torch.nn.Module, shape: tuple[int, int, int], device: torch.device, *, precision: str,
                  batch_size: int, augmentation: dict[str, float], seconds: float = 1.0) -> dict[str, float]:
    """The MEASURES of one model for inputs of `shape` (C, H, W); see the module docstring."""
    from ..attacks.base import loss_grad
    from ..training.inputs import native_size

    model = model.to(device).to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(0)
    # training reads images shrunk once to the model's own size (training.inputs), attacks the grid
    side = min(shape[-1], native_size(model) or shape[-1])
    x = torch.rand(batch_size, shape[0], side, side, generator=gen)
    y = torch.randint(0, 2, (batch_size,), generator=gen).to(device)
    model.train()
    train_s = _timed(_train_step(model, x, y, device, precision, augmentation), device, seconds)
    xa, ya = torch.rand(128, *shape, generator=gen).to(device), torch.zeros(128, dtype=torch.int64, device=device)
    xe, x1 = torch.rand(256, *shape, generator=gen).to(device), torch.rand(1, *shape, generator=gen).to(device)

    def pgd_step():  # what one PGD iteration computes: the input gradient, then the logits of the step
        grad, _ = loss_grad(model, xa, ya, None)
        with torch.no_grad():
            model(xa + 0.01 * grad.sign())

    with eval_mode(model):
        attack_s = _timed(pgd_step, device, seconds, warmup=1)
        with torch.no_grad():
            eval_s = _timed(lambda: model(xe), device, seconds / 2, warmup=1)
            one_s = _timed(lambda: model(x1), device, seconds / 4, warmup=3)
    return {"train": batch_size / train_s, "attack": 128 / attack_s, "eval": 256 / eval_s, "batch1_ms": 1e3 * one_s}


def machine_key(device: torch.device, precision: str) -> str:
    """What the rates depend on besides the model: CPU, vector extension, threads, device, torch."""
    return sha256_text(repr((cpu_name(), torch.backends.cpu.get_cpu_capability(), torch.get_num_threads(), str(device),
                             torch.__version__, precision)))[:16]


def _model_key(name: str, shape, batch_size: int, augmentation: dict[str, float]) -> str:
    from ..models.registry import get_spec

    source = inspect.getsource(sys.modules[get_spec(name).module])
    return sha256_text(repr((name, tuple(shape), batch_size, sorted(augmentation.items()), source)))[:16]


def cache_path(params: dict[str, Any]):
    """`calibration.json` beside the decoded-image cache (`cache_dir`); in the project's `.cache/`
    when a study caches no images (`cache_dir: ""` once put it above the project)."""
    folder = project_path(params["cache_dir"]).parent if params["cache_dir"] else project_path(".cache")
    return folder / "calibration.json"


def _read_cache(cache: Path, log) -> dict[str, Any]:
    """The stored rates, or {} (measured again) when the file is missing or damaged."""
    return load_json_if_intact(cache, lambda e: log(f"warning: {e}; measuring the rates again")) or {}


def calibrate(names: list[str], shape: tuple[int, int, int], device: torch.device, precision: str, *,
              batch_size: int, augmentation: dict[str, float], cache, seconds: float = 1.0,
              log: Callable[[str], Any] = print) -> dict[str, dict[str, Any]]:
    """{model: MEASURES and 'cached' (True when read from `cache`), 'measured_at'} for every model
    of `names`; models missing from the cache are timed now and added to it."""
    from ..models.registry import build_model, get_spec

    stored = _read_cache(cache, log)
    mine = stored.setdefault(machine_key(device, precision), {})
    out, fresh = {}, []
    for name in names:
        key = _model_key(name, shape, batch_size, augmentation)
        if key not in mine:
            torch.manual_seed(0)
            args = get_spec(name).arch_args(10, [0.5] * shape[0], [0.25] * shape[0])  # its native size, its weights
            mine[key] = {**measure_model(build_model(name, **args),
                                         shape, device, precision=precision, batch_size=batch_size,
                                         augmentation=augmentation, seconds=seconds),
                         "model": name, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}
            fresh.append(name)
        out[name] = {**mine[key], "cached": name not in fresh}
    if fresh:
        with atomic_path(cache) as tmp:
            import json
            tmp.write_text(json.dumps(stored, indent=1))
        log(f"calibrated {', '.join(fresh)} on this machine ({precision}): "
            + "; ".join(f"{n} {out[n]['train']:.0f} img/s training" for n in fresh))
    return out
