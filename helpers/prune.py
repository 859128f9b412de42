"""Unstructured magnitude pruning, and checkpoints that are really smaller for it.

Magnitude pruning (Han, Pool, Tran & Dally, "Learning both Weights and Connections for Efficient
Neural Networks", NeurIPS 2015): the weights of smallest |w| are set to zero, either by one
threshold over all pruned layers (**global**) or by the same fraction in every layer
(**layerwise**). Pruned layers are every Conv2d and Linear weight (biases and BatchNorm are kept).
Masks are torch.nn.utils.prune's: during fine-tuning the layer computes with weight_orig · mask, so
pruned weights stay exactly zero; `make_permanent` folds the masks in before saving.

A dense checkpoint of a sparse model is as large as the original. `save_sparse` stores each pruned
weight as a bit mask (1 bit per weight) plus its non-zero values (fp32, lossless), which at
sparsity s costs about 1/32 + (1 − s) of the dense size.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune

METHODS = ("global", "layerwise")


def prunable(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every Conv2d and Linear layer, in model order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def prune_magnitude(model: nn.Module, amount: float, method: str,
                    only: list[str] | None = None) -> nn.Module:
    """Zero the fraction `amount` (0 ≤ amount < 1) of smallest-magnitude weights, globally over the
    layers or in each layer alike; `only` restricts pruning to the named layers (e.g. one layer
    for a sensitivity scan). The model is pruned in place, with masks, and returned."""
    if method not in METHODS:
        raise ValueError(f"pruning method must be one of {METHODS}, not {method!r}")
    if not 0 <= amount < 1:
        raise ValueError(f"pruning amount must be in [0, 1), not {amount}")
    layers = [(n, m) for n, m in prunable(model) if only is None or n in only]
    if only is not None and len(layers) != len(only):
        known = [n for n, _ in prunable(model)]
        raise ValueError(f"unknown layers {sorted(set(only) - set(known))}; prunable layers: {known}")
    if method == "global":
        prune.global_unstructured([(m, "weight") for _, m in layers], pruning_method=prune.L1Unstructured,
                                  amount=amount)
    else:
        for _, m in layers:
            prune.l1_unstructured(m, "weight", amount=amount)
    return model


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold every pruning mask into its weight (weight = weight_orig · mask) and drop the mask."""
    for _, m in prunable(model):
        if prune.is_pruned(m) and hasattr(m, "weight_mask"):
            prune.remove(m, "weight")
    return model


def finetune_or_load(out_path: Path, pruned: nn.Module, base_ckpt: dict[str, Any], recipe: dict[str, Any],
                     train_set, valid_set, cfg, *, device: torch.device, log_dir: Path | None = None,
                     teacher: nn.Module | None = None, temperature: float = 4.0, alpha: float = 0.9,
                     **metadata: Any) -> tuple[nn.Module, dict[str, Any]]:
    """Fine-tune a pruned model and save it at `out_path` with its masks folded in, or reuse that
    file when it was made from the same base checkpoint, recipe, config and code.

    Masks stay on during fine-tuning, so pruned weights stay exactly zero. `recipe` (plain data,
    e.g. {"method": "global", "amount": 0.8}) says how `pruned` was made from the base model whose
    checkpoint dict is `base_ckpt`; it is stored in the checkpoint. cfg: `train.TrainConfig`.
    With a `teacher` (the dense model of `base_ckpt`), the loss is `train.distillation_loss` with
    `temperature` and `alpha`, which then join the recipe. Returns (model in eval mode, fit result).
    """
    from .io import package_fingerprint, sha256_text
    from .train import TRAINING_CODE, distillation_loss, fit_or_reuse

    loss_fn = None
    if teacher is not None:
        recipe = {**recipe, "distill_temperature": temperature, "distill_alpha": alpha}
        loss_fn = distillation_loss(teacher, temperature=temperature, alpha=alpha,
                                    label_smoothing=cfg.label_smoothing)
    code = package_fingerprint(*TRAINING_CODE, "prune", "structured")
    run_key = sha256_text("|".join([str(base_ckpt.get("run_key")), repr(sorted(recipe.items())), cfg.key(), code]))
    arch, arch_args = base_ckpt["arch"], base_ckpt["arch_args"]
    out_path = Path(out_path)
    return fit_or_reuse(out_path, run_key, lambda: (pruned, arch, arch_args), train_set, valid_set, cfg,
                        device=device, state_path=out_path.with_name(f"{out_path.stem}-train-state.pt"),
                        expected_arch=arch, log_dir=log_dir, finish=make_permanent, loss_fn=loss_fn, recipe=recipe,
                        classes=base_ckpt.get("classes"), **metadata)


def sparsity(model: nn.Module) -> dict[str, Any]:
    """Zeros of the pruned layers' weights and of all parameters, and per-layer sparsity.

    Works on masked (effective weight) and on permanent models alike."""
    per_layer, zeros, total = {}, 0, 0
    for n, m in prunable(model):
        w = m.weight.detach()
        z = int((w == 0).sum())
        per_layer[n] = z / w.numel()
        zeros, total = zeros + z, total + w.numel()
    params = {k: v for k, v in model.named_parameters() if not k.endswith("weight_orig")}
    for n, m in prunable(model):  # effective weights of masked layers, not weight_orig
        params[f"{n}.weight"] = m.weight.detach()
    all_zeros = sum(int((v == 0).sum()) for v in params.values())
    all_total = sum(v.numel() for v in params.values())
    return {"sparsity": zeros / total, "sparsity_all": all_zeros / all_total,
            "nonzero": all_total - all_zeros, "params": all_total, "per_layer": per_layer}


def save_sparse(path: str | Path, model: nn.Module, arch: str, arch_args: dict[str, Any],
                **metadata: Any) -> Path:
    """Save a permanently pruned model with its Conv2d/Linear weights as bit mask + non-zero values;
    everything else dense. Loads with `load_sparse` (weights_only=True)."""
    from .checkpoints import FORMAT
    from .io import atomic_path

    sparse_names = {f"{n}.weight" for n, _ in prunable(model)}
    dense, packed = {}, {}
    for k, v in model.state_dict().items():
        if k.endswith(("weight_orig", "weight_mask")):
            raise ValueError("the model still has pruning masks: call prune.make_permanent first")
        v = v.detach().cpu()
        if k in sparse_names:
            mask = v != 0
            packed[k] = {"shape": list(v.shape),
                         "bits": torch.from_numpy(np.packbits(mask.flatten().numpy())),
                         "values": v[mask].contiguous()}
        else:
            dense[k] = v
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "arch": arch, "arch_args": arch_args, "sparse_state_dict": packed,
                    "state_dict_rest": dense, **metadata}, tmp)
    return path


def load_sparse(path: str | Path, expected_arch: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a model saved by `save_sparse`; returns (model in eval mode, checkpoint dict)."""
    from .checkpoints import CheckpointError, read_checkpoint
    from .models import build_model

    ckpt = read_checkpoint(path)
    if "sparse_state_dict" not in ckpt:
        raise CheckpointError(f"{path} is not a sparse checkpoint (load it with checkpoints.load_model)")
    if expected_arch is not None and ckpt["arch"] != expected_arch:
        raise CheckpointError(f"{path} holds a {ckpt['arch']}, not a {expected_arch}")
    state = dict(ckpt["state_dict_rest"])
    for k, p in ckpt["sparse_state_dict"].items():
        n = int(np.prod(p["shape"]))
        mask = torch.from_numpy(np.unpackbits(p["bits"].numpy(), count=n).astype(bool))
        w = torch.zeros(n, dtype=p["values"].dtype)
        w[mask] = p["values"]
        state[k] = w.view(p["shape"])
    model = build_model(ckpt["arch"], **ckpt["arch_args"])
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise CheckpointError(f"{path} does not match {ckpt['arch']}({ckpt['arch_args']}): {e}") from None
    return model.eval(), ckpt
