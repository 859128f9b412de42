"""Channel criteria before any fine-tuning (Yeom et al.'s low-data regime), on A2's trained models.

For each model, MAC reduction and allocation (uniform, global), every criterion prunes the same
trained model; accuracy is measured on the selection split (what choices read) and the validation
split (shown), and each criterion is compared with L2 on the same selection images by McNemar's
exact test. Usage (after a study's A2 has run):
    .venv/bin/python experiments/criteria_before_finetuning.py parameters/default.yaml SimpleCNN ResNetSmall-w32
"""
from __future__ import annotations

import copy
import sys
import time

import torch

from helpers.compression.channel import prune_to_macs, reference
from helpers.compression.criteria import criterion
from helpers.config.resolution import resolve
from helpers.core.layout import RunLayout
from helpers.data import load_dataset
from helpers.evaluation.paired import mcnemar
from helpers.evaluation.predict import correct
from helpers.models.checkpoints import load_model

CRITERIA = ("l2", "bn_scale", "relevance", "random")


def main(param_file: str, models: list[str], reductions=(1.5, 2.0, 3.0), per_class: int = 10,
         allocations=("uniform", "global")) -> None:
    params = resolve(param_file)
    data, layout = load_dataset(params), RunLayout.from_params(params)
    shape = (data.channels, data.image_size, data.image_size)
    batch = lambda: reference(data.train, per_class, params["seed"])  # noqa: E731
    for name in models:
        model, _ = load_model(layout.trained(name), name)
        model.eval()
        dense_sel = correct(model, data.selection.images, data.selection.labels, "cpu")
        print(f"{name}: dense selection {dense_sel.float().mean():.3f}", flush=True)
        for target, allocation in [(t, a) for t in reductions for a in allocations]:
            base = None
            for crit in CRITERIA:
                t = time.time()
                ranking = criterion(crit, params["seed"], batch)
                pruned, _ = prune_to_macs(copy.deepcopy(model), target, shape, ranking=ranking, allocation=allocation)
                sel = correct(pruned, data.selection.images, data.selection.labels, "cpu")
                val = correct(pruned, data.valid.images, data.valid.labels, "cpu")
                base = sel if crit == "l2" else base
                p = mcnemar(base, sel)["p_value"] if crit != "l2" else float("nan")
                print(f"  {target:g}x {allocation:7s} {crit:10s} selection {sel.float().mean():.3f} valid {val.float().mean():.3f} "
                      f"vs l2 p={p:.3g} ({time.time() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
