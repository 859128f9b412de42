"""Device, precision, model mode and thread settings shared by training, evaluation and benchmarks."""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn


def pick_device(name: str = "auto") -> torch.device:
    """'auto' takes CUDA when present, else the CPU; 'cuda' without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("parameter device is 'cuda' but no CUDA GPU is available (use 'auto' or 'cpu')")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"parameter device must be auto, cpu or cuda, not {name!r}")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on the given device (about 1.8× faster training on CPUs with avx512_bf16)."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put `model` in eval mode for the block and give it back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def set_threads(n: int) -> int:
    """Fix the intra-op thread count (0 = leave torch's default); returns the count in use."""
    if n > 0:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
