"""Training that is done once: a checkpoint is reused while its reuse key is unchanged.

The key (`core.reuse.reuse_key`) covers the recipe, the data, the model and the code of training
(this module and everything it imports, plus the module defining the model), so a rerun retrains
exactly the models whose inputs changed. A reused result says so, with the time of the run that
made it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from torch import nn

from ..core.layout import RunLayout
from ..core.reuse import reuse_key
from ..models.checkpoints import CheckpointError, load_model, save_checkpoint
from ..models.registry import build_model, get_spec
from .config import TrainConfig
from .inputs import prepare
from .loop import LossFn, Perturb, fit


@dataclass
class Trained:
    """A trained (or fine-tuned) model and how it came about.

    result: `fit`'s result (history, best_epoch, epoch_s, total_train_s ...) of the run that made
    the checkpoint; reused: True when this call loaded it instead of training; created_at: when
    the checkpoint was written ('YYYY-MM-DD HH:MM:SS').
    """
    model: nn.Module
    result: dict[str, Any]
    path: Path
    reused: bool
    created_at: str
    key: str = ""  # the reuse key the checkpoint was saved under


def fit_or_reuse(path: Path, key: str, start: Callable[[], tuple[nn.Module, str, dict[str, Any]]],
                 train_set, selection_set, cfg: TrainConfig, *, device, name: str = "training",
                 log_dir: Path | None = None, perturb: Perturb | None = None,
                 select_by: Callable[[nn.Module], Any] | None = None, select_alpha: float | None = None,
                 finish: Callable[[nn.Module], nn.Module] | None = None, loss_fn: LossFn | None = None,
                 keep_step: int | None = None, **metadata: Any) -> Trained:
    """The checkpoint at `path` when it was saved under `key`; otherwise `start()` gives
    (model, arch, arch_args), `fit` trains it (resuming from `RunLayout.train_state(path)`, which is
    removed once the checkpoint is written; `perturb`, `select_by` and `loss_fn` go to `fit`),
    `finish` (e.g. folding pruning masks in) prepares it for saving, and it is saved with the key,
    the fit result, the config and `metadata`. train_set/selection_set: `data.ImageSet` (the model
    trains on the first; the second chooses the kept epoch). With `keep_step` the checkpoint also
    holds `kept_state`, the weights after that many optimizer steps (`fit`).
    """
    if path.exists():
        try:
            model, ckpt = load_model(path, metadata.get("expected_arch"))
            if ckpt.get("run_key") == key:
                return Trained(model.to(device), ckpt["training"], path, True, ckpt.get("created_at", "unknown"), key)
        except CheckpointError:
            pass  # stale or foreign file: train anew and overwrite it
    metadata.pop("expected_arch", None)
    model, arch, arch_args = start()
    state_path = RunLayout.train_state(path)
    inputs = prepare(model, train_set.images, selection_set.images, augment=cfg.augment, device=device,
                     whole_model=perturb is not None or select_by is not None or loss_fn is not None)
    result = fit(inputs.module, inputs.train, train_set.labels, inputs.selection, selection_set.labels, cfg,
                 device=device, state_path=state_path, resume_key=key, log_dir=log_dir, name=name,
                 perturb=perturb, select_by=select_by, select_alpha=select_alpha,
                 loss_fn=loss_fn, keep_step=keep_step)
    if keep_step is not None:  # the early weights go into the checkpoint beside the kept ones
        metadata.update(kept_state=result.pop("kept_state"), kept_step=keep_step)
    # the inputs' time is training time: a frozen backbone's features are most of that training's arithmetic
    result.update(inputs_s=inputs.seconds, cached_features=inputs.cached_features,
                  total_train_s=result["total_train_s"] + inputs.seconds)
    if finish is not None:
        model = finish(model)
    save_checkpoint(path, model, arch, arch_args, run_key=key, training=result, train_config=cfg.as_dict(), **metadata)
    state_path.unlink(missing_ok=True)
    return Trained(model.eval(), result, path, False, load_model(path)[1]["created_at"], key)


def train_or_load(name: str, arch_args: dict[str, Any], data, cfg: TrainConfig, *, path: Path, device,
                  log_dir: Path | None = None, **metadata: Any) -> Trained:
    """Train registered model `name` from scratch and save it at `path`, or reuse that file when it
    was made by the same recipe, data, model and code. data: `data.StudyData` (trains on train,
    chooses the kept epoch on selection)."""
    import torch

    key = reuse_key(code=[__name__, get_spec(name).module], kind="trained", config=cfg, data=data.content_key(),
                    model=name, arch_args=arch_args)

    def start():
        torch.manual_seed(cfg.seed)
        return build_model(name, **arch_args), name, arch_args

    return fit_or_reuse(path, key, start, data.train, data.selection, cfg, device=device, name=name, log_dir=log_dir,
                        expected_arch=name, classes=data.classes, **metadata)
