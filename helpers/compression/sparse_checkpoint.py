"""Checkpoints that are really smaller for unstructured sparsity.

A dense checkpoint of a sparse model is as large as the original. `save_sparse` stores each pruned
weight as a bit mask (1 bit per weight) plus its non-zero values (fp32, lossless), which at
sparsity s costs about 1/32 + (1 − s) of the dense size. `load_sparse` reads it with weights_only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.files import atomic_path
from ..models.checkpoints import FORMAT, CheckpointError, read_checkpoint
from ..models.registry import build_model
from .magnitude import prunable


def save_sparse(path: str | Path, model: nn.Module, arch: str, arch_args: dict[str, Any],
                **metadata: Any) -> Path:
    """Save a permanently pruned model with its Conv2d/Linear weights as bit mask + non-zero values;
    everything else dense. Loads with `load_sparse` (weights_only=True)."""
    sparse_names = {f"{n}.weight" for n, _ in prunable(model)}
    dense, packed = {}, {}
    for k, v in model.state_dict().items():
        if k.endswith(("weight_orig", "weight_mask")):
            raise ValueError("the model still has pruning masks: call magnitude.make_permanent first")
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
    ckpt = read_checkpoint(path)
    if "sparse_state_dict" not in ckpt:
        raise CheckpointError(f"{path} is not a sparse checkpoint (load it with models.checkpoints.load_model)")
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
