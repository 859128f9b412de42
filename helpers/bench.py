"""`make bench`: training throughput in fp32 and in the precision `amp: auto` picks on this
machine, side by side, and batch-1 latency of the registered models.

    python -m helpers.bench [--models ...] [--sizes 32 64] [--no-course]
    python -m helpers.bench --levers [--precision fp32]   # channels-last, torch.compile, threads, eval batch

Figures from one run are comparable with each other (same machine load); compare ratios, not
absolute numbers from different runs. The two precisions of a model are timed alternately, in
`--rounds` rounds, so that a drift of the machine's speed falls on both alike.
"""
from __future__ import annotations

import argparse

import torch

from .config.schema import defaults
from .core.device import cpu_name, native_bf16, pick_device, resolve_precision, set_threads
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


def _compare_precisions(name: str, px: int, device, auto: str, seconds: float, rounds: int) -> None:
    """Training img/s of `name` at `px` in fp32 and in `auto`, alternating, median over the rounds."""
    import statistics

    precisions = ["fp32"] + ([auto] if auto != "fp32" else [])
    found: dict[str, list[float]] = {p: [] for p in precisions}
    for _ in range(rounds):
        for precision in precisions:
            torch.manual_seed(0)
            found[precision].append(train_throughput(build_model(name), px, device, min_seconds=seconds / rounds,
                                                     precision=precision))
    ips = {p: statistics.median(v) for p, v in found.items()}
    text = f"{name} {px} px train: fp32 {ips['fp32']:.0f} img/s ({1593 / ips['fp32']:.2f} s per Sports-10 epoch)"
    if auto != "fp32":
        text += f"; {auto} (auto) {ips[auto]:.0f} img/s, {ips[auto] / ips['fp32']:.2f}x fp32"
    else:
        text += "; auto is fp32 here"
    print(text, flush=True)


def _levers(names: list[str], sizes: list[int], device, precision: str, seconds: float) -> int:
    from .evaluation.levers import lever_lines

    print(f"efficiency levers on {device} ({cpu_name()}, {torch.backends.cpu.get_cpu_capability()}), "
          f"{torch.get_num_threads()} threads, training in {precision}; each pair timed alternately, medians")
    for name in names:
        for px in sizes:
            for line in lever_lines(name, lambda: build_model(name), (3, px, px), device, precision, seconds / 2):
                print(line, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m helpers.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=None, help="registered models (default: all)")
    ap.add_argument("--sizes", nargs="+", type=int, default=[32, 64])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = torch default)")
    ap.add_argument("--runs", type=int, default=defaults()["latency_runs"])
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum timed seconds of training per model")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of the fp32 and auto measurements")
    ap.add_argument("--no-course", action="store_true", help="skip the course-pipeline baseline")
    ap.add_argument("--levers", action="store_true", help="measure the efficiency levers (evaluation.levers) instead")
    ap.add_argument("--precision", default="fp32", help="training precision of the lever measurements (default fp32)")
    args = ap.parse_args(argv)
    names = args.models or model_names()
    device = pick_device(args.device)
    threads = set_threads(args.threads)
    if args.levers:
        return _levers(names, args.sizes, device, args.precision, args.seconds)
    auto = resolve_precision("auto", device)
    print(f"device {device} ({cpu_name()}, {torch.backends.cpu.get_cpu_capability()}, native bf16: "
          f"{'yes' if native_bf16(device) else 'no'}), {threads} threads, torch {torch.__version__}; amp: auto trains "
          f"in {auto} here. Training: channels_last, batch 64, fp32 and {auto} timed alternately; latency is fp32, "
          f"batch 1, {args.runs} runs after {defaults()['latency_warmup']} warm-up")
    for name in names:
        for px in args.sizes:
            _compare_precisions(name, px, device, auto, args.seconds, args.rounds)
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
