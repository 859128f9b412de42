"""The rounds of `lottery` (see `lottery.py`): each round's ticket, and the controls at the targets.

Every training is cached under a key chained to the previous round's, so a rerun replays the
chain from its checkpoints and a changed round retrains everything after it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from ..core.reuse import reuse_key
from ..evaluation.predict import accuracy
from ..models.registry import build_model
from ..training.cached import Trained, fit_or_reuse
from .base import BaseModel, Compressed, CompressionContext
from .lottery import layer_rates, masked_model, next_masks, random_masks, sparsity_of
from .magnitude import prunable


@dataclass
class Start:
    """Where the rounds start: round 0's trained weights, the weights survivors are reset to, and
    the reuse key the first round chains to."""
    trained: dict[str, torch.Tensor]
    rewind: dict[str, torch.Tensor]
    key: str


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def start_of(method, base: BaseModel, cfg, ctx: CompressionContext) -> Start:
    """k = 0: A2's model and its initial weights, rebuilt from A2's seed. k > 0: the dense model
    trained again with A2's recipe, keeping the weights after k optimizer steps."""
    arch, arch_args = base.checkpoint["arch"], base.checkpoint["arch_args"]
    k = method.settings.rewind_step
    if k == 0:
        torch.manual_seed(cfg.seed)  # as A2 built it: the same initial weights
        return Start(_cpu_state(base.model), _cpu_state(build_model(arch, **arch_args)), base.checkpoint.get("run_key", ""))
    torch.manual_seed(cfg.seed)
    model = build_model(arch, **arch_args)
    key = reuse_key(code=[__name__, "helpers.training.cached", "helpers.training.loop"], kind="lottery-dense",
                    base=base.checkpoint.get("run_key"), config=cfg, keep_step=k)
    trained = fit_or_reuse(ctx.layout.compressed(method.name, base.name, f"dense-k{k}"), key,
                           lambda: (model, arch, arch_args), ctx.data.train, ctx.data.selection, cfg,
                           device=ctx.device, name=f"{base.name} lottery dense, keeping step {k}",
                           expected_arch=arch, keep_step=k, classes=base.checkpoint.get("classes"))
    kept = torch.load(trained.path, map_location="cpu", weights_only=True)["kept_state"]
    return Start(_cpu_state(trained.model), kept, trained.key)


def _train(method, base: BaseModel, model: nn.Module, point: str, arm: str, after: str, cfg,
           ctx: CompressionContext) -> Trained:
    s = method.settings
    arch, arch_args = base.checkpoint["arch"], base.checkpoint["arch_args"]
    key = reuse_key(code=[__name__, "helpers.compression.lottery", "helpers.training.cached"], kind="lottery",
                    base=base.checkpoint.get("run_key"), point=point, arm=arm, after=after, config=cfg,
                    rates=[s.conv_rate, s.linear_rate, s.output_rate], rewind_step=s.rewind_step)
    return fit_or_reuse(ctx.layout.compressed(method.name, base.name, point), key, lambda: (model, arch, arch_args),
                        ctx.data.train, ctx.data.selection, cfg, device=ctx.device,
                        name=f"{base.name} lottery {point}", expected_arch=arch, finish=method.finish,
                        classes=base.checkpoint.get("classes"), lottery_arm=arm)


def _record(method, base, trained: Trained, sparsity: float, point: str, arm: str, round_: int,
            acc_pre: float | None, cfg, ctx) -> Compressed:
    from .measure import measure
    smallest = method.save_twins(trained.model, trained.path, base)
    record = measure(method, trained, base, sparsity, point, acc_pre, smallest, ctx)
    steps = math.ceil(len(ctx.data.train.labels) / cfg.batch_size)
    record.details.update(arm=arm, round=round_, remaining=1 - sparsity, best_epoch=trained.result["best_epoch"],
                          early_stop_iteration=trained.result["best_epoch"] * steps)
    return Compressed(trained.model, record)


def _controls(method, base, start: Start, masks, sparsity: float, round_: int, after: str, cfg,
              ctx) -> Iterator[Compressed]:
    """The re-initialised ticket and the random mask of round `round_`, trained alike."""
    arch, arch_args = base.checkpoint["arch"], base.checkpoint["arch_args"]
    torch.manual_seed(cfg.seed + 1000 + round_)  # a new initialisation, seeded
    fresh = _cpu_state(build_model(arch, **arch_args))
    shuffled = random_masks(masks, torch.Generator().manual_seed(cfg.seed + 2000 + round_))
    for arm, model in (("reinit", masked_model(arch, arch_args, fresh, masks)),
                       ("random", masked_model(arch, arch_args, start.rewind, shuffled))):
        point = f"{method.label(round(sparsity, 3))}-{arm}"
        trained = _train(method, base, model, point, arm, after, cfg, ctx)
        yield _record(method, base, trained, sparsity, point, arm, round_, None, cfg, ctx)


def run_rounds(method, base: BaseModel, targets: list[float], ctx: CompressionContext) -> Iterator[Compressed]:
    """Round after round until every target sparsity is reached; the controls at the first round
    that reaches each target."""
    cfg = method.recipe(base)
    arch, arch_args = base.checkpoint["arch"], base.checkpoint["arch_args"]
    start = start_of(method, base, cfg, ctx)
    s = method.settings
    rates = layer_rates(base.model, s.conv_rate, s.linear_rate, s.output_rate)
    masks = {n: torch.ones(m.weight.shape) for n, m in prunable(base.model)}
    trained_state, after, pending, round_ = start.trained, start.key, list(targets), 0
    while pending:
        round_ += 1
        masks = next_masks(masked_model(arch, arch_args, trained_state, masks), masks, rates)
        sparsity = sparsity_of(masks)
        before = masked_model(arch, arch_args, trained_state, masks).to(ctx.device).eval()
        acc_pre = accuracy(before, ctx.data.valid.images, ctx.data.valid.labels, ctx.device)
        point = method.label(round(sparsity, 3))
        trained = _train(method, base, masked_model(arch, arch_args, start.rewind, masks), point, "ticket", after,
                         cfg, ctx)
        yield _record(method, base, trained, sparsity, point, "ticket", round_, acc_pre, cfg, ctx)
        trained_state, ticket_key = _cpu_state(trained.model), trained.key
        reached = [t for t in pending if sparsity >= t]
        if reached and s.controls:
            yield from _controls(method, base, start, masks, sparsity, round_, ticket_key, cfg, ctx)
        pending, after = [t for t in pending if t not in reached], ticket_key
