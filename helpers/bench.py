"""`make bench`: training throughput and batch-1 latency of the registered models.

    python -m helpers.bench [--models ...] [--sizes 32 64] [--no-course]

Figures from one run are comparable with each other (same machine load); compare ratios, not
absolute numbers from different runs.
"""
from __future__ import annotations

import argparse

import torch

from .config.schema import defaults
from .core.device import pick_device, set_threads
from .evaluation.latency import latencies_ms
from .evaluation.throughput import course_pipeline_throughput, train_throughput
from .models.registry import build_model, model_names


def _course_baseline(names: list[str]) -> None:
    from .data.image_folder import find_data_dir
    from .data.splits import DataError
    try:
        root = str(find_data_dir(None))
    except DataError:
        print("course baseline skipped: Sports-10 not found")
        return
    for name in names:
        torch.manual_seed(0)
        ips = course_pipeline_throughput(build_model(name), root, 32)
        print(f"{name} 32 px train, course pipeline (PIL, 2 workers, fp32): {ips:.0f} img/s", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=None, help="registered models (default: all)")
    ap.add_argument("--sizes", nargs="+", type=int, default=[32, 64])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = torch default)")
    ap.add_argument("--runs", type=int, default=defaults()["latency_runs"])
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum timed seconds of training per model")
    ap.add_argument("--no-course", action="store_true", help="skip the course-pipeline baseline")
    args = ap.parse_args(argv)
    names = args.models or model_names()
    device = pick_device(args.device)
    threads = set_threads(args.threads)
    print(f"device {device}, {threads} threads, torch {torch.__version__}; training is bf16 autocast, "
          f"channels_last, batch 64; latency is fp32, batch 1, {args.runs} runs after {defaults()['latency_warmup']} warm-up")
    for name in names:
        for px in args.sizes:
            torch.manual_seed(0)
            ips = train_throughput(build_model(name), px, device, min_seconds=args.seconds)
            print(f"{name} {px} px train: {ips:.0f} img/s ({1593 / ips:.2f} s per Sports-10 epoch)", flush=True)
    for px in args.sizes:  # the models timed round-robin, so their ratio is not the machine's drift
        timed = latencies_ms({name: build_model(name).to(device) for name in names}, (1, 3, px, px), device,
                             runs=args.runs, warmup=defaults()["latency_warmup"], rounds=defaults()["latency_rounds"])
        for name, (mean, std) in timed.items():
            print(f"{name} {px} px batch-1 latency: {mean:.2f} ± {std:.2f} ms", flush=True)
    if not args.no_course:
        _course_baseline(names)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
