"""What C1 measures of every compressed model: parameters, zeros, MACs, sizes and accuracy."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..core.device import eval_mode
from ..evaluation.paired import encode
from ..evaluation.predict import correct
from ..models.registry import spec_of


def macs_and_params(model: nn.Module, image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """Multiply-accumulates of one forward pass on one input of `image_shape` (C, H, W), counted by
    Torch-Pruning on dense arithmetic (zeros count), and the number of parameters."""
    import torch_pruning as tp

    device = next(model.parameters()).device
    with eval_mode(model):
        macs, params = tp.utils.count_ops_and_params(model, torch.rand(1, *image_shape, device=device))
    return int(macs), int(params)


def sparsity(model: nn.Module) -> dict:
    """Zeros of the prunable weights (the model spec's `prunable`) and of all parameters, and
    per-layer sparsity. Works on masked (effective weight) and on permanent models alike."""
    per_layer, zeros, total = {}, 0, 0
    layers = spec_of(model).prunable(model)
    for n, m in layers:
        w = m.weight.detach()
        z = int((w == 0).sum())
        per_layer[n] = z / w.numel()
        zeros, total = zeros + z, total + w.numel()
    params = {k: v for k, v in model.named_parameters() if not k.endswith("weight_orig")}
    for n, m in layers:  # effective weights of masked layers, not weight_orig
        params[f"{n}.weight" if n else "weight"] = m.weight.detach()
    all_zeros = sum(int((v == 0).sum()) for v in params.values())
    all_total = sum(v.numel() for v in params.values())
    return {"sparsity": zeros / max(total, 1), "sparsity_all": all_zeros / all_total,
            "nonzero": all_total - all_zeros, "params": all_total, "per_layer": per_layer}


def file_size_mb(path: str | Path) -> float:
    return Path(path).stat().st_size / 1e6


def measure(method, trained, base, target: float, point: str, acc_pre: float, smallest: Path, ctx):
    """The `CompressionRecord` of a fine-tuned compressed model (`training.cached.Trained`)."""
    from .base import CompressionRecord

    model = trained.model.to(ctx.device)
    data = ctx.data
    image_shape = (data.channels, data.image_size, data.image_size)
    s = sparsity(model)
    valid = correct(model, data.valid.images, data.valid.labels, ctx.device)
    selection = correct(model, data.selection.images, data.selection.labels, ctx.device)
    macs, params = macs_and_params(model, image_shape)
    return CompressionRecord(
        model=base.name, method=method.name, family=method.family, target=target, point=point, params=params,
        nonzero=s["nonzero"], sparsity=s["sparsity"], macs=macs, acc_pre_ft=acc_pre,
        acc=float(valid.float().mean()), select_acc=float(selection.float().mean()),
        correct=encode(valid), select_correct=encode(selection),
        size_mb=file_size_mb(trained.path), size_compressed_mb=file_size_mb(smallest),
        path=ctx.layout.relative(trained.path), compressed_path=ctx.layout.relative(smallest),
        finetune_s=trained.result["total_train_s"], finetune_epochs=len(trained.result["history"]),
        reused=trained.reused, created_at=trained.created_at,
        details={"sparsity_all": s["sparsity_all"], "per_layer_sparsity": s["per_layer"]})
