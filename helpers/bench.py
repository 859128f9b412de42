"""Benchmarks: batch-1 latency, training throughput, and the course's PIL pipeline as baseline.

`make bench` runs `python -m helpers.bench`. Figures from one run are comparable with each
other (same machine load); compare ratios, not absolute numbers from different runs.
"""
from __future__ import annotations

import argparse
import copy
import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from .models import MODELS, build_model
from .runtime import autocast, pick_device, set_threads, synchronize


@torch.no_grad()
def latencies_ms(models: dict[str, nn.Module], shape: tuple[int, ...], device: torch.device, *, runs: int = 100,
                 warmup: int = 10, rounds: int = 10) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation in ms of one forward pass of each model on a random input of
    `shape`, timed round-robin so that they can be compared.

    A shared machine's speed drifts by tens of percent within a minute, so timing one model after
    another would compare moments, not models. Here each model runs `warmup` untimed passes, then
    `rounds` rounds each time every model for runs / rounds passes (the order rotating from round to
    round), and every model's statistics pool its passes (at least `runs`). Each model's block in a
    round starts with one untimed pass: the model timed before it has evicted its weights from the
    caches, and a larger predecessor evicts more, which would bias the comparison.
    Eval mode, fp32, time.perf_counter around each pass, synchronised on GPU. Images
    ([B, C, H, W]) are timed in channels-last memory format on copies of the models: a freshly
    trained model is channels-last (`train.fit`) and one loaded from a checkpoint is not, and the
    kernels' speed differs, so a comparison would measure the format.
    """
    if not models:
        return {}
    copies = {k: copy.deepcopy(m).eval() for k, m in models.items()}
    x = torch.rand(shape, device=device)
    if x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
        for m in copies.values():
            m.to(memory_format=torch.channels_last)
    per_round = max(1, runs // rounds)
    names = list(copies)
    times: dict[str, list[float]] = {k: [] for k in names}
    for k in names:
        for _ in range(warmup):
            copies[k](x)
    synchronize(device)
    for r in range(math.ceil(runs / per_round)):
        for k in names[r % len(names):] + names[:r % len(names)]:
            copies[k](x)  # untimed: brings the model's weights back into the caches
            for _ in range(per_round):
                t0 = time.perf_counter()
                copies[k](x)
                synchronize(device)
                times[k].append((time.perf_counter() - t0) * 1e3)
    return {k: (statistics.fmean(t), statistics.stdev(t) if len(t) > 1 else 0.0) for k, t in times.items()}


def latency_ms(model: nn.Module, shape: tuple[int, ...], device: torch.device, *, runs: int = 100,
               warmup: int = 10) -> tuple[float, float]:
    """Mean and standard deviation in ms of one forward pass of one model (see `latencies_ms`)."""
    return latencies_ms({"model": model}, shape, device, runs=runs, warmup=warmup, rounds=1)["model"]


def train_throughput(model: nn.Module, image_size: int, device: torch.device, *, batch_size: int = 64,
                     steps: int = 10, warmup: int = 2, amp: bool = True) -> float:
    """Images per second of forward + backward + Adam step on random batches (as in `train.fit`)."""
    model.to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x = torch.rand(batch_size, 3, image_size, image_size, device=device).contiguous(
        memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch_size,), device=device)

    def step():
        with autocast(device, amp):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    synchronize(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return batch_size * steps / (time.perf_counter() - t0)


def course_pipeline_throughput(model: nn.Module, data_root: str, image_size: int, *,
                               batches_: int = 10, batch_size: int = 32, workers: int = 2) -> float:
    """The course's training input pipeline as baseline: ImageFolder JPEGs decoded and augmented
    with PIL every epoch in a 2-worker DataLoader, fp32 forward + backward. Images per second."""
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
        if i == batches_ + 1:
            break
    return seen / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--sizes", nargs="+", type=int, default=[32, 64])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = torch default)")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--no-course", action="store_true", help="skip the course-pipeline baseline")
    args = ap.parse_args(argv)
    device = pick_device(args.device)
    threads = set_threads(args.threads)
    print(f"device {device}, {threads} threads, torch {torch.__version__}; training is bf16 autocast, "
          f"channels_last, batch 64; latency is fp32, batch 1, {args.runs} runs after 10 warm-up")
    for name in args.models:
        for px in args.sizes:
            torch.manual_seed(0)
            steps = 20 if name == "SimpleCNN" else 4
            ips = train_throughput(build_model(name), px, device, steps=steps)
            print(f"{name} {px} px train: {ips:.0f} img/s ({1593 / ips:.2f} s per Sports-10 epoch)", flush=True)
    for px in args.sizes:  # the models timed round-robin, so their ratio is not the machine's drift
        timed = latencies_ms({name: build_model(name).to(device) for name in args.models}, (1, 3, px, px), device,
                             runs=args.runs)
        for name, (mean, std) in timed.items():
            print(f"{name} {px} px batch-1 latency: {mean:.2f} ± {std:.2f} ms", flush=True)
    if not args.no_course:
        from .data import DataError, find_data_dir
        try:
            root = str(find_data_dir(None))
        except DataError:
            print("course baseline skipped: Sports-10 not found")
            return 0
        for name in args.models:
            torch.manual_seed(0)
            ips = course_pipeline_throughput(build_model(name), root, 32, batches_=10 if name == "SimpleCNN" else 3)
            print(f"{name} 32 px train, course pipeline (PIL, 2 workers, fp32): {ips:.0f} img/s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
