"""ResNetSmall's training rate against its width, on this CPU in fp32: one AdamW step at batch 64
on 32 px images (the size ResNetSmall computes at), channels-last as the training loop runs it.

    .venv/bin/python experiments/width_rate.py [--widths 64 32 48] [--seconds 6]

Prints parameters and training images per second per width (the base width w of stages w/2w/4w).
"""
from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from helpers.models.zoo.resnet_small import ResNetSmall


def images_per_second(width: int, seconds: float, batch: int = 64) -> float:
    """Training images per second of ResNetSmall at `width`, timed for at least `seconds`."""
    model = ResNetSmall(native_size=32, width=width).to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(model.parameters())
    x = torch.rand(batch, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(2):  # warm-up: oneDNN picks its kernels on the first passes
        step()
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", nargs="+", type=int, default=[64, 32, 48])
    ap.add_argument("--seconds", type=float, default=6.0)
    args = ap.parse_args()
    torch.manual_seed(0)
    for width in args.widths:
        params = sum(p.numel() for p in ResNetSmall(width=width).parameters())
        print(f"width {width}: {params:,} parameters, {images_per_second(width, args.seconds):.0f} training img/s")


if __name__ == "__main__":
    main()
