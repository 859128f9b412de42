"""Training loop: Adam(W), warm-up + cosine schedule, early stopping, bf16 autocast, resumable.

Every epoch the whole training state (weights, optimizer, schedule, history, RNG) is saved
atomically, so an interrupted run resumes where it stopped instead of starting over.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from .augment import augment
from .data import batches
from .io import atomic_path, sha256_text
from .runtime import autocast, eval_mode


# the modules whose code shapes a trained model: a change to any of them invalidates cached checkpoints
TRAINING_CODE = ("augment", "data", "models", "runtime", "train")


@dataclass
class TrainConfig:
    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 5e-4      # decoupled (AdamW); 0 gives plain Adam
    label_smoothing: float = 0.1
    warmup_epochs: int = 2
    patience: int = 10              # epochs without a better validation loss before stopping
    amp: str = "bf16"               # "bf16" autocast or "off" (fp32)
    seed: int = 0
    augment: bool = True
    rotation_deg: float = 15.0
    scale: float = 0.0              # random zoom in [1 - scale, 1 + scale]
    translate: float = 0.0          # random shift, fraction of the image size
    jitter: float = 0.2

    def key(self) -> str:
        return sha256_text(repr(sorted(asdict(self).items())))


@torch.no_grad()
def evaluate_loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                  device: torch.device, batch_size: int = 256) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in eval mode, fp32; images uint8 [N, 3, H, W]."""
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
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, x, y) -> loss


def distillation_loss(teacher: nn.Module, *, temperature: float = 4.0, alpha: float = 0.9,
                      label_smoothing: float = 0.0) -> LossFn:
    """Knowledge distillation (Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural
    Network", arXiv:1503.02531, 2015) as a `fit` loss_fn: alpha · T² · KL(softmax(teacher/T) ‖ softmax(student/T))
    + (1 − alpha) · cross-entropy with the labels, T = `temperature`.

    The teacher sees the student's own augmented batch x [B, 3, H, W] in [0, 1], in eval mode and
    without gradients; logits are [B, classes]. The T² keeps the soft term's gradients on the scale
    of the hard one. A pruned model distilled from the dense model it came from recovers more of
    its accuracy than one fine-tuned on labels alone.
    """
    if not 0 <= alpha <= 1 or temperature <= 0:
        raise ValueError(f"distillation needs 0 ≤ alpha ≤ 1 and temperature > 0, not {alpha}, {temperature}")

    def loss(logits: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad(), eval_mode(teacher):
            soft = F.log_softmax(teacher(x).float() / temperature, 1)
        kl = F.kl_div(F.log_softmax(logits.float() / temperature, 1), soft, log_target=True, reduction="batchmean")
        return alpha * temperature ** 2 * kl + (1 - alpha) * F.cross_entropy(logits, y, label_smoothing=label_smoothing)

    return loss


def fit(model: nn.Module, train_images: torch.Tensor, train_labels: torch.Tensor,
        valid_images: torch.Tensor, valid_labels: torch.Tensor, cfg: TrainConfig, *,
        device: torch.device, state_path: Path | None = None, resume_key: str = "",
        log_dir: Path | None = None, progress: bool = False,
        perturb: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        select_by: Callable[[nn.Module], float] | None = None,
        loss_fn: LossFn | None = None) -> dict[str, Any]:
    """Train `model` in place and load its best weights (lowest validation loss).

    Adversarial training hooks: `perturb(model, x, y)` replaces each augmented batch x float
    [B, 3, H, W] in [0, 1] by the inputs to train on (under the same autocast); `select_by(model)`
    scores the model after each epoch (higher is better, e.g. robust validation accuracy) and then
    chooses the kept epoch and drives early stopping instead of the validation loss.
    `loss_fn(logits, x, y)` replaces the label-smoothed cross-entropy (e.g. distillation from a
    teacher that sees the same inputs x); it runs under the same autocast.

    images: uint8 [N, 3, H, W]; labels: int64 [N]. Returns {history: [per-epoch dicts],
    best_epoch, stopped_early, epoch_s (mean seconds per training epoch), total_train_s}.
    If `state_path` holds the state of an interrupted run with the same config and `resume_key`
    (give one that also covers the data and code), training resumes from it.
    """
    run_key = sha256_text(cfg.key() + resume_key)
    torch.manual_seed(cfg.seed)  # dropout draws from the global generator
    gen = torch.Generator().manual_seed(cfg.seed)  # shuffling and augmentation
    model.to(device).to(memory_format=torch.channels_last)
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.ndim > 1 else no_decay).append(p)  # no weight decay on BN and biases
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    steps_per_epoch = math.ceil(len(train_labels) / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: _lr_factor(s, cfg.warmup_epochs * steps_per_epoch, total))
    st: dict[str, Any] = {"epoch": 0, "history": [], "best_score": -float("inf"), "best_epoch": 0,
                          "best_state": None, "bad_epochs": 0}
    if state_path is not None and state_path.exists():
        saved = torch.load(state_path, map_location="cpu", weights_only=True)
        if saved.get("run_key") == run_key:
            model.load_state_dict(saved["model"])
            opt.load_state_dict(saved["optimizer"])
            sched.load_state_dict(saved["scheduler"])
            gen.set_state(saved["generator"])
            torch.set_rng_state(saved["torch_rng"])
            st = saved["loop"]
    writer = None
    if log_dir is not None:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(log_dir))
    use_amp = cfg.amp == "bf16"
    epochs = tqdm(range(st["epoch"], cfg.epochs), desc="epochs", disable=not progress)
    for epoch in epochs:
        model.train()
        t0 = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y in batches(train_images, train_labels, cfg.batch_size, shuffle=True, generator=gen):
            if cfg.augment:
                x = augment(x, rotation_deg=cfg.rotation_deg, scale=cfg.scale, translate=cfg.translate,
                            brightness=cfg.jitter,
                            contrast=cfg.jitter, saturation=cfg.jitter, generator=gen)
            x = x.to(device).contiguous(memory_format=torch.channels_last)
            y = y.to(device)
            with autocast(device, use_amp):
                if perturb is not None:
                    x = perturb(model, x, y).detach()
                logits = model(x)
                loss = (F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing) if loss_fn is None
                        else loss_fn(logits, x, y))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        epoch_s = time.perf_counter() - t0
        val_loss, val_acc = evaluate_loss(model, valid_images, valid_labels, device)
        row = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
               "val_loss": val_loss, "val_acc": val_acc, "lr": opt.param_groups[0]["lr"],
               "epoch_s": epoch_s}
        if select_by is not None:
            row["val_selection_score"] = select_by(model)
        st["history"].append(row)
        if writer is not None:
            for k in ("train_loss", "val_loss"):
                writer.add_scalar(f"loss/{k.split('_')[0]}", row[k], epoch + 1)
            for k in ("train_acc", "val_acc"):
                writer.add_scalar(f"accuracy/{k.split('_')[0]}", row[k], epoch + 1)
            writer.add_scalar("lr", row["lr"], epoch + 1)
        score = row["val_selection_score"] if select_by is not None else -val_loss
        if score > st["best_score"]:
            st.update(best_score=score, best_epoch=epoch + 1, bad_epochs=0,
                      best_state=copy.deepcopy({k: v.cpu() for k, v in model.state_dict().items()}))
        else:
            st["bad_epochs"] += 1
        st["epoch"] = epoch + 1
        stop = st["bad_epochs"] >= cfg.patience
        st["stopped_early"] = stop and epoch + 1 < cfg.epochs
        if state_path is not None:
            with atomic_path(state_path) as tmp:
                torch.save({"run_key": run_key, "model": model.state_dict(),
                            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                            "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
                            "loop": st}, tmp)
        epochs.set_postfix(val_acc=f"{val_acc:.3f}", val_loss=f"{val_loss:.3f}")
        if stop:
            break
    if writer is not None:
        writer.close()
    model.load_state_dict(st["best_state"])
    model.eval()
    times = [r["epoch_s"] for r in st["history"]]
    return {"history": st["history"], "best_epoch": st["best_epoch"],
            "stopped_early": bool(st.get("stopped_early", False)),
            "epoch_s": sum(times) / len(times), "total_train_s": sum(times)}


def fit_or_reuse(ckpt_path: Path, run_key: str, start: Callable[[], tuple[nn.Module, str, dict[str, Any]]],
                 train_set, valid_set, cfg: TrainConfig, *, device: torch.device, state_path: Path,
                 expected_arch: str | None = None, log_dir: Path | None = None,
                 perturb: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 select_by: Callable[[nn.Module], float] | None = None,
                 finish: Callable[[nn.Module], nn.Module] | None = None,
                 loss_fn: LossFn | None = None,
                 **metadata: Any) -> tuple[nn.Module, dict[str, Any]]:
    """The checkpoint at `ckpt_path` when it was saved with `run_key`; otherwise `start()` gives
    (model, arch, arch_args), `fit` trains it (resuming from `state_path`, which is removed once
    the checkpoint is written; `perturb`, `select_by` and `loss_fn` go to `fit`), `finish` (e.g.
    folding pruning masks in) prepares it for saving, and it is saved with run_key, the fit
    result, the config and `metadata`.
    train_set/valid_set: `data.ImageSet`. Returns (model in eval mode, fit result).
    """
    from .checkpoints import CheckpointError, load_model, save_checkpoint

    if ckpt_path.exists():
        try:
            model, ckpt = load_model(ckpt_path, expected_arch)
            if ckpt.get("run_key") == run_key:
                return model.to(device), ckpt["training"]
        except CheckpointError:
            pass  # stale or foreign file: train anew and overwrite it
    model, arch, arch_args = start()
    result = fit(model, train_set.images, train_set.labels, valid_set.images, valid_set.labels, cfg,
                 device=device, state_path=state_path, resume_key=run_key, log_dir=log_dir,
                 perturb=perturb, select_by=select_by, loss_fn=loss_fn)
    if finish is not None:
        model = finish(model)
    save_checkpoint(ckpt_path, model, arch, arch_args, run_key=run_key, training=result,
                    train_config=asdict(cfg), **metadata)
    state_path.unlink(missing_ok=True)
    return model.eval(), result


def train_or_load(name: str, arch_args: dict[str, Any], train_set, valid_set, cfg: TrainConfig, *,
                  checkpoint_dir: Path, device: torch.device, data_key: str,
                  log_dir: Path | None = None, **metadata: Any) -> tuple[nn.Module, dict[str, Any]]:
    """Train model `name` and save `<checkpoint_dir>/<name>-original.pt`, or reuse that file when
    it was made by the same config, data, code and model. Returns (model in eval mode, fit result).

    train_set/valid_set: `data.ImageSet`. An interrupted training resumes from
    `<name>-train-state.pt`, which is removed once the checkpoint is written.
    """
    from .io import package_fingerprint
    from .models import build_model

    code = package_fingerprint(*TRAINING_CODE)
    run_key = sha256_text("|".join([cfg.key(), code, data_key, name,
                                    repr(sorted(arch_args.items()))]))

    def start():
        torch.manual_seed(cfg.seed)
        return build_model(name, **arch_args), name, arch_args

    return fit_or_reuse(checkpoint_dir / f"{name}-original.pt", run_key, start, train_set, valid_set, cfg,
                        device=device, state_path=checkpoint_dir / f"{name}-train-state.pt", expected_arch=name,
                        log_dir=log_dir, classes=train_set.classes, **metadata)
