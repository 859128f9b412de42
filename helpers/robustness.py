"""Attacks over a whole split, and the statistics the study reports for them.

Denominators (the science-hygiene rule that a success rate names what it divides by):
- untargeted: among inputs the model classifies correctly, the fraction whose adversarial
  prediction differs from the label;
- targeted at class t: among correctly classified inputs whose label is not t, the fraction whose
  adversarial prediction is t;
- robust accuracy: over all inputs, the fraction whose adversarial prediction is the label.
Perturbation norms, confidences and iterations are means over the eligible inputs (norms, in
pixel units of [0, 1]), over the successful ones (iterations to success, `l2_success`), or over
the eligible inputs the model gets wrong (`confidence_wrong`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .attacks import fgsm, pgd
from .data import batches


def eps_key(eps: float) -> str:
    """How an ε appears in metrics and summary keys: 0.03 -> 'eps0.03', 0.1 -> 'eps0.1'."""
    return f"eps{eps:g}"


@dataclass
class AttackRun:
    """Per-input results of one attack on a split; tensors are on the CPU.

    x_adv float [N, 3, H, W] in [0, 1]; clean_logits, adv_logits float [N, C];
    first_success int64 [N] (see attacks.AttackResult); target int or None.
    """
    attack: str
    eps: float
    target: int | None
    x_adv: torch.Tensor
    clean_logits: torch.Tensor
    adv_logits: torch.Tensor
    first_success: torch.Tensor


def run_attack(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, attack: str, eps: float, *,
               target: int | None = None, alpha: float = 0.01, steps: int = 40, seed: int = 0,
               device: torch.device = torch.device("cpu"), batch_size: int = 128,
               stop_on_success: bool = False) -> AttackRun:
    """Attack every image of a split. images uint8 [N, 3, H, W]; labels int64 [N].

    attack: "fgsm" or "pgd" (L∞, `steps` steps of size `alpha`, random start drawn from a
    generator seeded with `seed`); target: class index for a targeted attack, None for untargeted.
    stop_on_success: PGD keeps each input's first iterate that meets the goal (see attacks.pgd).
    """
    if attack not in ("fgsm", "pgd"):
        raise ValueError(f"attack must be 'fgsm' or 'pgd', not {attack!r}")
    gen = torch.Generator(device=device).manual_seed(seed)
    outs: dict[str, list[torch.Tensor]] = {"x": [], "clean": [], "adv": [], "first": []}
    for x, y in batches(images, labels, batch_size):
        x, y = x.to(device), y.to(device)
        t = torch.full_like(y, target) if target is not None else None
        if attack == "fgsm":
            r = fgsm(model, x, y, eps, target=t)
        else:
            r = pgd(model, x, y, eps, alpha, steps, target=t, generator=gen, stop_on_success=stop_on_success)
        outs["clean"].append(r.clean_logits.float().cpu())
        outs["adv"].append(r.adv_logits.float().cpu())
        outs["x"].append(r.x_adv.cpu())
        outs["first"].append(r.first_success.cpu())
    return AttackRun(attack, eps, target, torch.cat(outs["x"]), torch.cat(outs["clean"]),
                     torch.cat(outs["adv"]), torch.cat(outs["first"]))


def statistics(run: AttackRun, images: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
    """The reported figures of one attack run; images uint8 [N, 3, H, W] (the clean inputs)."""
    x = images.float().div(255)
    clean_pred, adv_pred = run.clean_logits.argmax(1), run.adv_logits.argmax(1)
    eligible = clean_pred == labels
    if run.target is not None:
        eligible &= labels != run.target
        success = adv_pred == run.target
    else:
        success = adv_pred != labels
    delta = (run.x_adv - x).flatten(1)
    probs = run.adv_logits.softmax(1)
    n_eligible = int(eligible.sum())
    won = eligible & success
    wrong = eligible & (adv_pred != labels)
    l2 = delta.norm(dim=1)
    p_pred = probs.gather(1, adv_pred.view(-1, 1)).flatten()  # confidence of the adversarial prediction
    iters = run.first_success[won & (run.first_success > 0)]

    def mean(v: torch.Tensor) -> float | None:
        return float(v.float().mean()) if len(v) else None

    out = {
        "n": len(labels), "n_eligible": n_eligible, "n_success": int(won.sum()),
        "success_rate": int(won.sum()) / n_eligible if n_eligible else None,
        "robust_acc": int((adv_pred == labels).sum()) / len(labels),
        "clean_acc": int((clean_pred == labels).sum()) / len(labels),
        "l2": mean(l2[eligible]), "linf": mean(delta.abs().amax(dim=1)[eligible]),
        "confidence": mean(p_pred[eligible]), "l2_success": mean(l2[won]), "confidence_wrong": mean(p_pred[wrong]),
    }
    if run.target is not None:
        out["target_confidence"] = mean(probs[:, run.target][eligible])
    if run.attack == "pgd":
        out["iterations_mean"] = mean(iters)
        out["iterations"] = iters.tolist()
    return out


def worst_case_pgd(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
                   alpha: float, steps: int, restarts: int, seed: int = 0,
                   device: torch.device = torch.device("cpu"), batch_size: int = 128) -> torch.Tensor:
    """Robustness under untargeted L∞ PGD with random restarts, counted as the worst case.

    Each restart (random start seeded with seed + restart) attacks only the inputs no earlier
    restart has fooled, and an input counts as fooled at the first iterate the model gets wrong
    (`attacks.pgd(stop_on_success=True)`), the criterion of robustness benchmarks such as
    AutoAttack. images uint8 [N, 3, H, W], labels int64 [N]; returns bool [N], True where the
    model classifies the input correctly and no iterate of any restart changes that.
    """
    robust = torch.ones(len(labels), dtype=torch.bool)
    for r in range(restarts):
        idx = robust.nonzero().flatten()
        if len(idx) == 0:
            break
        gen = torch.Generator(device=device).manual_seed(seed + r)
        for start in range(0, len(idx), batch_size):
            i = idx[start:start + batch_size]
            x, y = images[i].float().div(255).to(device), labels[i].to(device)
            res = pgd(model, x, y, eps, alpha, steps, generator=gen, stop_on_success=True)
            robust[i] = (res.first_success < 0).cpu()
    return robust


def transfer_statistics(source: AttackRun, target_clean_logits: torch.Tensor, target_adv_logits: torch.Tensor,
                        labels: torch.Tensor) -> dict[str, Any]:
    """Adversarial inputs crafted on a source model, fed unchanged to a target model.

    Eligible inputs: both models classify the clean input correctly (and, for a targeted attack,
    its label is not the target). source_success_rate and target_success_rate are over the
    eligible inputs; transfer_rate = target successes / source successes (None when the source
    has none); transfer_given_source is the fraction of the source's successes that also fool the
    target. Logits float [N, C] on the CPU.
    """
    eligible = (source.clean_logits.argmax(1) == labels) & (target_clean_logits.argmax(1) == labels)
    if source.target is not None:
        eligible &= labels != source.target

    def succeeded(logits: torch.Tensor) -> torch.Tensor:
        pred = logits.argmax(1)
        return (pred == source.target if source.target is not None else pred != labels) & eligible

    src, dst = succeeded(source.adv_logits), succeeded(target_adv_logits)
    n, n_src, n_dst = int(eligible.sum()), int(src.sum()), int(dst.sum())
    return {"n_eligible": n, "n_source_success": n_src, "n_target_success": n_dst,
            "source_success_rate": n_src / n if n else None,
            "target_success_rate": n_dst / n if n else None,
            "transfer_rate": n_dst / n_src if n_src else None,
            "transfer_given_source": int((src & dst).sum()) / n_src if n_src else None}


def replay(model: nn.Module, blob: dict[str, Any], device: torch.device) -> dict[str, AttackRun]:
    """Feed a fixed adversarial set (`load_adversarial_set`) unchanged to `model`: per attack key,
    an AttackRun whose logits are `model`'s on the clean and on the stored adversarial inputs (so
    `statistics` gives this model's success rates; first_success is −1, as nothing was iterated)."""
    from .evaluate import predict

    clean = predict(model, blob["images"], device).float().cpu()
    out = {}
    for key, a in blob["attacks"].items():
        adv = predict(model, a["x_adv"], device).float().cpu()
        out[key] = AttackRun(a["attack"], a["eps"], a["target"], a["x_adv"], clean, adv,
                             torch.full((len(clean),), -1, dtype=torch.int64))
    return out


def save_adversarial_set(path, images: torch.Tensor, labels: torch.Tensor, classes: list[str],
                         runs: dict[str, AttackRun], **metadata: Any) -> None:
    """Write the fixed adversarial set: clean images uint8 [N, 3, H, W], labels [N], and per
    attack key (e.g. 'pgd.targeted.eps0.03') its x_adv float [N, 3, H, W], eps and target."""
    from .io import atomic_path

    blob = {"images": images, "labels": labels, "classes": list(classes), "metadata": metadata,
            "attacks": {k: {"attack": r.attack, "eps": r.eps, "target": r.target, "x_adv": r.x_adv}
                        for k, r in runs.items()}}
    with atomic_path(path) as tmp:
        torch.save(blob, tmp)


def load_adversarial_set(path) -> dict[str, Any]:
    """Read a set written by `save_adversarial_set` (weights_only: a file cannot run code)."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"adversarial set {path} does not exist; run the B1_attacks notebook first")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated file, or pickled objects weights_only refuses
        raise ValueError(f"adversarial set {path} cannot be read safely: {e}") from e
    missing = {"images", "labels", "classes", "attacks"} - set(blob) if isinstance(blob, dict) else {"images"}
    if missing:
        raise ValueError(f"{path} is not an adversarial set: missing {sorted(missing)}")
    return blob
