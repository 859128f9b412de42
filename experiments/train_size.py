"""What the smaller training set costs: the same recipe trained on all training images and on
those left after the selection split is carved out, each model's last epoch kept (no selection
at all), evaluated on the validation split and compared pairwise (McNemar)."""
import json
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch
from helpers.config.resolution import resolve
from helpers.data import load_dataset
from helpers.evaluation.paired import mcnemar, describe
from helpers.evaluation.predict import predict
from helpers.models.registry import get_spec
from helpers.training.config import TrainConfig
from helpers.training.loop import fit
from helpers.core.device import pick_device, resolve_precision

values = resolve("parameters/default.yaml", sys.argv[1:])
device = pick_device("auto")
data = load_dataset(values)
full_images = torch.cat([data.train.images, data.selection.images])
full_labels = torch.cat([data.train.labels, data.selection.labels])
out = {}
for name in values["models"]:
    epochs = values["epochs_by_model"].get(name, values["epochs"])
    cfg = TrainConfig.from_params({**values, "amp": resolve_precision(values["amp"], device)}, epochs=epochs, patience=epochs + 1)
    correct = {}
    for label, (x, y) in {"carved": (data.train.images, data.train.labels), "all": (full_images, full_labels)}.items():
        torch.manual_seed(cfg.seed)
        spec = get_spec(name)
        model = spec.build(**spec.arch_args(len(data.classes), data.mean, data.std))
        counter = iter(range(10 ** 6))
        fit(model, x, y, data.valid.images, data.valid.labels, cfg, device=device, name=f"{name} {label}",
            select_by=lambda m: next(counter))  # the last epoch is kept: nothing chosen on any split
        correct[label] = predict(model, data.valid.images, device).argmax(1).cpu() == data.valid.labels
        print(name, label, len(y), "images:", float(correct[label].float().mean()), flush=True)
    r = mcnemar(correct["carved"], correct["all"])
    out[name] = r
    print(name, describe(r, f"{len(data.train)} images", f"{len(full_labels)} images"), flush=True)
json.dump(out, open("runs/exp/train_size.json", "w"), indent=1)
