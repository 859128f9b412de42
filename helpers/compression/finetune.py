"""Fine-tuning a compressed model, done once: reused while its reuse key is unchanged."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from torch import nn

from ..core.reuse import reuse_key
from ..training.cached import Trained, fit_or_reuse
from ..training.losses import RememberingTeacher, distillation_loss


def teacher_for(base, ctx) -> nn.Module:
    """The dense model as a distillation teacher, one per model for the whole sweep, so that its
    outputs on the (identical) augmented batches are computed once for all points."""
    if base.name not in ctx.teachers:
        ctx.teachers[base.name] = RememberingTeacher(base.model)
    return ctx.teachers[base.name]


def finetune_or_load(method, path: Path, pruned: nn.Module, base, target: float, details: dict[str, Any],
                     ctx, after: str = "") -> Trained:
    """Fine-tune `pruned` (made by `method` from `base` at `target`) within the method's budget and
    save it at `path` (the method's `finish` applied first), or reuse `path` when it was made from
    the same base checkpoint, method, target, settings, budget, recipe and code, and (for a chained
    point) from the same previous point, whose reuse key is `after`."""
    budget = method.budget
    cfg = ctx.train_cfg.finetuning(budget.epochs, budget.lr, budget.warmup_epochs)
    recipe = {"method": method.name, "target": target, "settings": asdict(method.settings), "budget": asdict(budget)}
    key = reuse_key(code=[type(method).__module__, __name__], kind="compressed", base=base.checkpoint.get("run_key"),
                    recipe=recipe, config=cfg, **({"after": after} if after else {}))
    loss_fn = None
    if budget.distill_alpha > 0:
        loss_fn = distillation_loss(teacher_for(base, ctx), temperature=budget.distill_temperature,
                                    alpha=budget.distill_alpha, label_smoothing=cfg.label_smoothing)
    arch, arch_args = base.checkpoint["arch"], base.checkpoint["arch_args"]
    return fit_or_reuse(path, key, lambda: (pruned, arch, arch_args), ctx.data.train, ctx.data.selection, cfg,
                        device=ctx.device, name=f"{base.name} {method.name} {method.label(target)}",
                        expected_arch=arch, finish=method.finish, loss_fn=loss_fn, recipe=recipe,
                        classes=base.checkpoint.get("classes"), **method.checkpoint_metadata(details))
