"""Compare the trained models of two run directories on the same images, pairwise.

    python -m helpers.compare runs/a runs/b [--models SimpleCNN ResNetSmall] [--splits selection valid]

For each model both runs trained, its accuracy in each run on each split, McNemar's exact test
on the images where the two disagree and the paired bootstrap interval of the accuracy difference
(`evaluation.paired`). Each run's data is loaded with its own
parameters (from its A2 metrics), so two runs with different selection splits are compared only
on the splits they share image for image; a split whose images differ is refused by name.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .core.files import load_json


def _run(run_dir: Path):
    """(parameters of its A2, its data) of a run directory."""
    from .core.plugins import load_plugins
    from .data import load_dataset

    metrics = run_dir / "metrics" / "A2.json"
    if not metrics.exists():
        raise SystemExit(f"error: {metrics} does not exist: run A2 in {run_dir} first")
    params = load_json(metrics)["params"]
    load_plugins(params.get("plugins", []))
    return params, load_dataset(params)


def _correct(run_dir: Path, model: str, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    from .evaluation.predict import predict
    from .models.checkpoints import load_model

    net, _ = load_model(run_dir / "checkpoints" / f"{model}-original.pt", model)
    return predict(net, images, torch.device("cpu")).argmax(1) == labels


def main(argv: list[str] | None = None) -> int:
    from .evaluation.paired import describe, mcnemar, paired_bootstrap

    ap = argparse.ArgumentParser(prog="python -m helpers.compare", description=__doc__.splitlines()[0])
    ap.add_argument("run_a", type=Path)
    ap.add_argument("run_b", type=Path)
    ap.add_argument("--models", nargs="+", default=None)
    ap.add_argument("--splits", nargs="+", default=["valid"])
    args = ap.parse_args(argv)
    (pa, da), (pb, db) = _run(args.run_a), _run(args.run_b)
    from .study.model_setup import a2_models

    models = args.models or [m for m in a2_models(pa) if m in a2_models(pb)]  # every model A2 trained
    for split in args.splits:
        sa, sb = da.splits()[split], db.splits()[split]
        if sa.files != sb.files:
            print(f"{split}: the two runs hold different images in this split; not compared")
            continue
        for m in models:
            a, b = _correct(args.run_a, m, sa.images, sa.labels), _correct(args.run_b, m, sb.images, sb.labels)
            print(f"{split} {m}: " + describe(mcnemar(a, b), args.run_a.name, args.run_b.name,
                                              interval=paired_bootstrap(a, b)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
