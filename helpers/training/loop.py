"""Training loop: AdamW, warm-up + cosine schedule, early stopping on the selection split, autocast
(bf16, or fp16 with a gradient scaler) where the hardware runs it natively, resumable.

Every epoch the whole training state (weights, optimizer, schedule, history, RNG) is saved
atomically, so an interrupted run resumes where it stopped instead of starting over. Each epoch
writes a progress line (epoch k/n, time elapsed and left).
"""
from __future__ import annotations

import copy
import math
import warnings
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..core import progress
from ..core.device import autocast, eval_mode, grad_scaler, resolve_precision
from ..core.files import atomic_path, sha256_text
from ..data.augment import augment
from ..data.splits import batches
from ..evaluation.paired import encode
from .config import TrainConfig
from .selection import earliest_unresolved

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, x, y) -> loss
Perturb = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]    # (model, x, y) -> x'


@torch.no_grad()
def evaluate_loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  device: torch.device, batch_size: int = 256) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in eval mode, fp32; images uint8 [N, C, H, W]."""
    loss_sum, correct = 0.0, 0
    with eval_mode(model):
        for x, y in batches(images, labels, batch_size):
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
    return loss_sum / len(labels), correct / len(labels)


def _lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress_ = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress_)))


class _Run:
    """The mutable state of one `fit`: model, optimizer, schedule, generator and loop record."""

    def __init__(self, model: nn.Module, n_train: int, cfg: TrainConfig, device: torch.device, run_key: str,
                 keep_step: int | None = None):
        torch.manual_seed(cfg.seed)  # dropout draws from the global generator
        self.keep_step = keep_step
        self.gen = torch.Generator().manual_seed(cfg.seed)  # shuffling and augmentation
        self.model, self.cfg, self.device, self.run_key = model, cfg, device, run_key
        self.precision = resolve_precision(cfg.amp, device)
        self.scaler = grad_scaler(device, self.precision)
        model.to(device).to(memory_format=torch.channels_last)
        decay = [p for p in model.parameters() if p.ndim > 1]  # no weight decay on BN and biases
        no_decay = [p for p in model.parameters() if p.ndim <= 1]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                      {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
        steps_per_epoch = math.ceil(n_train / cfg.batch_size)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: _lr_factor(
            s, cfg.warmup_epochs * steps_per_epoch, cfg.epochs * steps_per_epoch))
        self.loop: dict[str, Any] = {"epoch": 0, "history": [], "best_score": -float("inf"), "best_epoch": 0,
                                     "best_state": None, "bad_epochs": 0}

    def restore(self, state_path: Path | None, name: str = "training") -> None:
        """Continue an interrupted training from its last finished epoch (a line says so)."""
        if state_path is None or not state_path.exists():
            return
        try:
            saved = torch.load(state_path, map_location="cpu", weights_only=True)
        except Exception as e:  # truncated or zeroed by a crash outside atomic_path: lose the epochs, not the run
            warnings.warn(f"training state {state_path} is damaged ({type(e).__name__}: {e}); training from the "
                          "start and overwriting it", stacklevel=2)
            return
        if not isinstance(saved, dict) or saved.get("run_key") != self.run_key:
            return  # the state of another training: start afresh (and overwrite it)
        self.model.load_state_dict(saved["model"])
        self.opt.load_state_dict(saved["optimizer"])
        self.sched.load_state_dict(saved["scheduler"])
        if saved.get("scaler"):
            self.scaler.load_state_dict(saved["scaler"])
        self.gen.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
        self.loop = saved["loop"]
        progress.emit(f"{name}: resuming after epoch {self.loop['epoch']} of {self.cfg.epochs} (from {state_path})")

    def save(self, state_path: Path | None) -> None:
        if state_path is None:
            return
        with atomic_path(state_path) as tmp:
            torch.save({"run_key": self.run_key, "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                        "scheduler": self.sched.state_dict(), "scaler": self.scaler.state_dict(), "generator": self.gen.get_state(),
                        "torch_rng": torch.get_rng_state(), "loop": self.loop}, tmp)

    def train_epoch(self, images: torch.Tensor, labels: torch.Tensor, perturb: Perturb | None,
                    loss_fn: LossFn | None) -> tuple[float, float]:
        """One pass over the training set; returns mean loss and accuracy over its batches."""
        cfg, model = self.cfg, self.model
        model.train()
        self.keep_early_weights()
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y in batches(images, labels, cfg.batch_size, shuffle=True, generator=self.gen):
            if cfg.augment:
                x = augment(x, generator=self.gen, **cfg.augmentation())
            x = x.to(self.device)
            if x.ndim == 4:  # images or feature maps (a frozen backbone's cached outputs may be vectors)
                x = x.contiguous(memory_format=torch.channels_last)
            y = y.to(self.device)
            with autocast(self.device, self.precision):
                if perturb is not None:
                    x = perturb(model, x, y).detach()
                logits = model(x)
                loss = (F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing) if loss_fn is None
                        else loss_fn(logits, x, y))
            self.opt.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()  # the scaler is the identity unless fp16 on CUDA
            self.scaler.step(self.opt)
            self.scaler.update()
            self.sched.step()
            self.keep_early_weights()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        return loss_sum / seen, correct / seen

    def keep_early_weights(self) -> None:
        """Once `keep_step` optimizer steps are done (0: before the first), keep a copy of the weights
        (lottery-ticket rewinding, Frankle et al. 2020); it is saved with the resumable state."""
        if self.keep_step is not None and "kept_state" not in self.loop and self.sched.last_epoch >= self.keep_step:
            self.loop["kept_state"] = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}

    def choose_epoch(self, alpha: float | None) -> None:
        """With every epoch's weights kept (per-image selection scores), keep the epoch the paired rule
        chooses (`selection.earliest_unresolved`) instead of the highest-scoring one."""
        if self.loop.get("epoch_states"):
            self.loop["best_epoch"] = earliest_unresolved(self.loop["history"], alpha)
            self.loop["best_state"] = self.loop["epoch_states"][str(self.loop["best_epoch"])]

    def end_epoch(self, row: dict[str, Any], score: float, keep_state: bool = False) -> bool:
        """Record an epoch, keep the best weights (and, with `keep_state`, every epoch's weights, for
        a choice made after training); True when early stopping says stop."""
        st = self.loop
        st["history"].append(row)
        if keep_state:
            st.setdefault("epoch_states", {})[str(row["epoch"])] = copy.deepcopy(
                {k: v.cpu() for k, v in self.model.state_dict().items()})
        if score > st["best_score"]:
            st.update(best_score=score, best_epoch=row["epoch"], bad_epochs=0,
                      best_state=copy.deepcopy({k: v.cpu() for k, v in self.model.state_dict().items()}))
        else:
            st["bad_epochs"] += 1
        st["epoch"] = row["epoch"]
        stop = st["bad_epochs"] >= self.cfg.patience
        st["stopped_early"] = stop and row["epoch"] < self.cfg.epochs
        return stop


def _log(writer, row: dict[str, Any]) -> None:
    if writer is None:
        return
    for split in ("train", "select"):
        writer.add_scalar(f"loss/{split}", row[f"{split}_loss"], row["epoch"])
        writer.add_scalar(f"accuracy/{split}", row[f"{split}_acc"], row["epoch"])
    writer.add_scalar("lr", row["lr"], row["epoch"])


def _score_epoch(select_by: Callable[[nn.Module], Any] | None, model: nn.Module, row: dict[str, Any]) -> bool:
    """Put `select_by`'s score of the epoch in `row` (select_score; with per-image outcomes, bool [N],
    also select_outcome); True when the score came per image."""
    if select_by is None:
        return False
    score = select_by(model)
    if isinstance(score, torch.Tensor):
        row["select_outcome"], row["select_score"] = encode(score), float(score.float().mean())
        return True
    row["select_score"] = score
    return False


def fit(model: nn.Module, train_images: torch.Tensor, train_labels: torch.Tensor,
        select_images: torch.Tensor, select_labels: torch.Tensor, cfg: TrainConfig, *,
        device: torch.device, state_path: Path | None = None, resume_key: str = "",
        log_dir: Path | None = None, name: str = "training", perturb: Perturb | None = None,
        select_by: Callable[[nn.Module], Any] | None = None, select_alpha: float | None = None,
        loss_fn: LossFn | None = None, keep_step: int | None = None) -> dict[str, Any]:
    """Train `model` in place and load its best weights (lowest loss on the selection split, which
    the model never trains on; the split the report evaluates is not seen here).

    Adversarial training hooks: `perturb(model, x, y)` replaces each augmented batch x float
    [B, C, H, W] in [0, 1] by the inputs to train on (under the same autocast); `select_by(model)`
    scores the model after each epoch (higher is better, e.g. robust accuracy on the selection split)
    and then chooses the kept epoch and drives early stopping instead of the selection loss. When it
    returns per-image outcomes (bool [N], e.g. robust or not) and `select_alpha` is given, the kept
    epoch is chosen on resolved differences only (`selection.earliest_unresolved`): the earliest
    epoch that McNemar's test does not resolve below the best one.
    `loss_fn(logits, x, y)` replaces the label-smoothed cross-entropy (e.g. distillation from a
    teacher that sees the same inputs x); it runs under the same autocast. With `keep_step`, the
    weights after that many optimizer steps (0: the initial ones) come back as `kept_state`.

    images: uint8 [N, C, H, W]; labels: int64 [N]. Returns {history: [per-epoch dicts],
    best_epoch, stopped_early, epoch_s (mean seconds per training epoch), total_train_s, precision
    (the autocast precision `cfg.amp` resolved to on `device`)}.
    If `state_path` holds the state of an interrupted run with the same config and `resume_key`
    (give one that also covers the data and code), training resumes from it. `name` labels the
    progress lines.
    """
    run = _Run(model, len(train_labels), cfg, device, sha256_text(resume_key + repr(sorted(asdict(cfg).items()))),
               keep_step)
    run.restore(state_path, name)
    writer = None
    if log_dir is not None:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(log_dir))
    ticker = progress.task(name, cfg.epochs - run.loop["epoch"])
    for epoch in range(run.loop["epoch"], cfg.epochs):
        t0 = time.perf_counter()
        train_loss, train_acc = run.train_epoch(train_images, train_labels, perturb, loss_fn)
        epoch_s = time.perf_counter() - t0
        select_loss, select_acc = evaluate_loss(model, select_images, select_labels, device)
        row = {"epoch": epoch + 1, "train_loss": train_loss, "train_acc": train_acc, "select_loss": select_loss,
               "select_acc": select_acc, "lr": run.opt.param_groups[0]["lr"], "epoch_s": epoch_s}
        paired = _score_epoch(select_by, model, row) and select_alpha is not None
        _log(writer, row)
        stop = run.end_epoch(row, row["select_score"] if select_by is not None else -select_loss, keep_state=paired)
        run.save(state_path)
        ticker.step(f"epoch {epoch + 1} of {cfg.epochs}, selection accuracy {select_acc:.2f}")
        if stop:
            break
    if writer is not None:
        writer.close()
    run.choose_epoch(select_alpha)
    if run.loop["best_state"] is not None:  # None only when there was no epoch to train
        model.load_state_dict(run.loop["best_state"])
    # the last batch's gradients belong to no kept weights; left in place, a later structural change
    # (pruning a chained point) would keep their old shapes and corrupt the next backward pass
    model.zero_grad(set_to_none=True)
    model.eval()
    return _result(run, keep_step)


def _result(run: _Run, keep_step: int | None) -> dict[str, Any]:
    """What `fit` returns (see there)."""
    times = [r["epoch_s"] for r in run.loop["history"]]
    return {"history": run.loop["history"], "best_epoch": run.loop["best_epoch"],
            "stopped_early": bool(run.loop.get("stopped_early", False)),
            "epoch_s": sum(times) / len(times) if times else 0.0, "total_train_s": sum(times), "precision": run.precision,
            **({"kept_state": run.loop.get("kept_state")} if keep_step is not None else {})}
