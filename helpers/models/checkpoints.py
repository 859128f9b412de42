"""Checkpoints: a state_dict plus plain metadata, loaded with `weights_only=True`.

A checkpoint from elsewhere must never be able to run code, so loading refuses any pickle that
holds more than tensors and plain containers, and says so.
"""
from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..core.files import atomic_path
from .registry import build_model
from .resize import resize_to

FORMAT = "study-kit-checkpoint/1"
# metadata `structure` of a checkpoint whose layers have fewer channels than the registered
# architecture (structured pruning): load_model resizes the layers to the saved tensors first
CHANNEL_PRUNED = "channel-pruned"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unsafe, or from a different model."""


def save_checkpoint(path: str | Path, model: nn.Module, arch: str, arch_args: dict[str, Any],
                    **metadata: Any) -> Path:
    """Atomically save {format, arch, arch_args, state_dict, created_at, **metadata}.

    metadata must be plain data (dict, list, str, int, float, bool, None) so it loads with
    weights_only=True. created_at (local time, 'YYYY-MM-DD HH:MM:SS') tells a later run that reuses
    the file when it was made.
    """
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    metadata.setdefault("created_at", time.strftime("%Y-%m-%d %H:%M:%S"))
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "arch": arch, "arch_args": arch_args, "state_dict": state,
                    **metadata}, tmp)
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint dict with weights_only=True; CheckpointError naming the file otherwise."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f"refusing to load {path}: it contains Python objects other than tensors and plain "
            f"data, which could run code when unpickled (loaded with weights_only=True). "
            f"Detail: {str(e).splitlines()[0]}") from None
    except Exception as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a checkpoint of this study kit (format {FORMAT})")
    return ckpt


def load_model(path: str | Path, expected_arch: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model a checkpoint describes and load its weights; returns (model in eval mode, checkpoint)."""
    ckpt = read_checkpoint(path)
    if expected_arch is not None and ckpt["arch"] != expected_arch:
        raise CheckpointError(f"{path} holds a {ckpt['arch']}, not a {expected_arch}")
    model = build_model(ckpt["arch"], **ckpt["arch_args"])
    try:
        if ckpt.get("structure") == CHANNEL_PRUNED:
            resize_to(model, ckpt["state_dict"])
        model.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, KeyError, ValueError) as e:
        raise CheckpointError(f"{path} does not match {ckpt['arch']}({ckpt['arch_args']}): {e}") from None
    return model.eval(), ckpt


def file_size_mb(path: str | Path) -> float:
    return Path(path).stat().st_size / 1e6
