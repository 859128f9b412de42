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

from typing import Any

import torch

from ..evaluation.paired import encode
from .attack_runs import AttackRun


def statistics(run: AttackRun, images: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
    """The reported figures of one attack run; images uint8 [N, C, H, W] (the clean inputs)."""
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
    robust = (clean_pred == labels) & (adv_pred == labels)
    wrong = eligible & (adv_pred != labels)
    l2 = delta.norm(dim=1)
    p_pred = probs.gather(1, adv_pred.view(-1, 1)).flatten()  # confidence of the adversarial prediction
    iters = run.first_success[won & (run.first_success > 0)]

    def mean(v: torch.Tensor) -> float | None:
        return float(v.float().mean()) if len(v) else None

    out = {
        "n": len(labels), "n_eligible": n_eligible, "n_success": int(won.sum()),
        "success_rate": int(won.sum()) / n_eligible if n_eligible else None,
        # robust: correct both clean and under attack (RobustBench's count), so never above clean accuracy
        "robust_acc": int(robust.sum()) / len(labels),
        "clean_acc": int((clean_pred == labels).sum()) / len(labels),
        "l2": mean(l2[eligible]), "linf": mean(delta.abs().amax(dim=1)[eligible]),
        "confidence": mean(p_pred[eligible]), "l2_success": mean(l2[won]), "confidence_wrong": mean(p_pred[wrong]),
        # per image, for paired tests between models on the same inputs (`evaluation.paired`)
        "correct": encode(clean_pred == labels), "robust": encode(robust), "fooled": encode(won),
    }
    if run.target is not None:
        out["target_confidence"] = mean(probs[:, run.target][eligible])
    if run.iterative:
        out["iterations_mean"] = mean(iters)
        out["iterations"] = iters.tolist()
    return out


def transfer_statistics(source: AttackRun, target_clean_logits: torch.Tensor, target_adv_logits: torch.Tensor,
                        labels: torch.Tensor) -> dict[str, Any]:
    """Adversarial inputs crafted on a source model, fed unchanged to a target model.

    Eligible inputs: both models classify the clean input correctly (and, for a targeted attack,
    its label is not the target). Three rates, each a proportion with its denominator:
    - conditional_transfer_rate (the headline): of the source's successes among the eligible
      inputs (n_source_success), the fraction that also fool the target;
    - transfer_rate, the *unconditional* transfer rate: of the eligible inputs (n_eligible), the
      fraction whose adversarial input fools the target, whether or not it fooled the source
      (equal to target_success_rate; the key keeps its old name for the readers of summary.json);
    - source_success_rate: of the eligible inputs, the fraction that fool the source.
    success_ratio = target successes / source successes is kept for reference only: it is not a
    proportion (it can exceed 1, and reach 1 with no success in common). Logits float [N, C] on the CPU.
    """
    eligible = (source.clean_logits.argmax(1) == labels) & (target_clean_logits.argmax(1) == labels)
    if source.target is not None:
        eligible &= labels != source.target

    def succeeded(logits: torch.Tensor) -> torch.Tensor:
        pred = logits.argmax(1)
        return (pred == source.target if source.target is not None else pred != labels) & eligible

    src, dst = succeeded(source.adv_logits), succeeded(target_adv_logits)
    n, n_src, n_dst, n_both = int(eligible.sum()), int(src.sum()), int(dst.sum()), int((src & dst).sum())
    conditional = n_both / n_src if n_src else None
    return {"n_eligible": n, "n_source_success": n_src, "n_target_success": n_dst, "n_both_success": n_both,
            "source_success_rate": n_src / n if n else None,
            "target_success_rate": n_dst / n if n else None,
            "transfer_rate": n_dst / n if n else None,
            "conditional_transfer_rate": conditional,
            "transfer_given_source": conditional,  # the old name of conditional_transfer_rate
            "success_ratio": n_dst / n_src if n_src else None}
