"""Training throughput, and the course's PIL input pipeline as its baseline."""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from ..core.device import autocast, synchronize


def train_throughput(model: nn.Module, image_size: int, device: torch.device, *, channels: int = 3,
                     batch_size: int = 64, min_seconds: float = 2.0, warmup: int = 2, precision: str = "fp32") -> float:
    """Images per second of forward + backward + Adam step on random batches (as in `fit`, in the
    autocast `precision`: 'bf16', 'fp16' or 'fp32'), timed over at least `min_seconds` (and two
    steps), so fast and slow models are measured alike."""
    model.to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(batch_size, channels, image_size, image_size, device=device).contiguous(
        memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch_size,), device=device)

    def step():
        with autocast(device, precision):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    synchronize(device)
    steps, t0 = 0, time.perf_counter()
    while steps < 2 or time.perf_counter() - t0 < min_seconds:
        step()
        synchronize(device)
        steps += 1
    return batch_size * steps / (time.perf_counter() - t0)


def course_pipeline_throughput(model: nn.Module, data_root: str, image_size: int, *,
                               min_seconds: float = 3.0, batch_size: int = 32, workers: int = 2) -> float:
    """The course's training input pipeline as baseline: ImageFolder JPEGs decoded and augmented
    with PIL every epoch in a 2-worker DataLoader, fp32 forward + backward, timed over at least
    `min_seconds` after two warm-up batches. Images per second."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    tf = transforms.Compose([
        transforms.Resize((image_size, image_size)), transforms.RandomHorizontalFlip(),
        transforms.RandomRotation(15), transforms.ColorJitter(0.2, 0.2, 0.2), transforms.ToTensor()])
    ds = datasets.ImageFolder(f"{data_root}/train", transform=tf)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                        generator=torch.Generator().manual_seed(0))
    model.train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    seen, t0 = 0, None
    for i, (x, y) in enumerate(loader):
        if i == 2:  # worker start-up and first batches are warm-up
            t0, seen = time.perf_counter(), 0
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(y)
        if t0 is not None and time.perf_counter() - t0 >= min_seconds:
            break
    return seen / (time.perf_counter() - t0)
