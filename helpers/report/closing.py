"""Conclusions and limitations of the report, computed from the flat summary dict and the run's
parameters. The conclusions connect the three parts (accuracy and explanations, attacks and
defense, compression); each paragraph needs certain keys and is left out without them."""
from __future__ import annotations

import re
from typing import Any

from ..evaluation.intervals import overlap, wilson
from . import facts
from .facts import Summary, number, rate
from .findings import findings_by_name


def _untargeted(s: Summary, model: str, attack: str, eps: float) -> tuple[str, int | None]:
    """B1's untargeted success-rate key of `model` at `eps`, and its denominator (eligible images)."""
    key = f"B1.{model}.{attack}.untargeted.{facts.eps_key(eps)}"
    eligible = number(s, f"{key}.n_eligible")
    return f"{key}.success_rate", int(eligible) if eligible else None


def _vulnerability(s: Summary, attack: str) -> str | None:
    ms = facts.models(s)
    if len(ms) < 2:
        return None
    best = max(ms, key=lambda m: number(s, f"A2.{m}.val_acc") or 0)
    other = next(m for m in ms if m != best)
    eps = facts.smallest_eps(s, best, attack)
    if eps is None:
        return None
    (ka, na), (kb, nb) = _untargeted(s, best, attack, eps), _untargeted(s, other, attack, eps)
    ia, ib = facts.interval(s, ka, na), facts.interval(s, kb, nb)
    if ia is None or ib is None:
        return None
    if overlap(ia, ib):
        head = "Accuracy is not robustness."
        verdict = "their intervals overlap, so the higher accuracy buys no measurable robustness here"
    elif number(s, ka) < number(s, kb):
        head, verdict = "The more accurate model is also the harder to fool.", "the intervals do not overlap"
    else:
        head, verdict = "The more accurate model is the easier to fool.", "the intervals do not overlap"
    return (f"**{head}** The more accurate model, {best}, is fooled by untargeted "
            f"{facts.attack_title(attack)} at ε {eps:g} at a rate of {rate(s, ka, na)}, against "
            f"{rate(s, kb, nb)} for {other}; {verdict}.")


def conclusions_markdown(s: Summary, params: dict[str, Any]) -> str:
    """The conclusions section (markdown)."""
    attack = params.get("robustness_attack") or "pgd"
    named = findings_by_name(s, params)
    paras = [_vulnerability(s, attack)]
    if named.get("transfer"):
        paras.append("**Attacks carry over between models.** " + named["transfer"])
    if named.get("defense"):
        paras.append("**A defense has a price.** " + named["defense"])
    if named.get("still_fooled"):
        paras.append("**Compression does not remove the vulnerability.** " + named["still_fooled"]
                     + " A model chosen for speed and size inherits the weakness of the dense one.")
    if named.get("robust_compressed"):
        paras.append("**Robustness under compression.** " + named["robust_compressed"])
    elif any(k.startswith("B1.defense.") for k in s):
        paras.append("**Robustness under compression was not measured.** The adversarially fine-tuned model of "
                     "the defense was not compressed in this run, so whether its robustness survives pruning is open.")
    if named.get("compression"):
        paras.append("**What compression buys.** " + named["compression"])
    body = "\n\n".join(p for p in paras if p)
    return "# Conclusions\n\n" + (body or "The run holds too few results to draw conclusions across the parts.")


def limitations_markdown(s: Summary, params: dict[str, Any]) -> str:
    """The limitations section (markdown), with the numbers that bound each claim."""
    n = facts.n_valid(s)
    items = []
    accs = {m: number(s, f"A2.{m}.val_acc") for m in facts.models(s) if number(s, f"A2.{m}.val_acc") is not None}
    if n and accs:
        best = max(accs, key=accs.get)
        low, high = wilson(round(accs[best] * n), n)
        items.append(f"The validation split has {n} images, so even {best}'s accuracy of {accs[best]:.2f} has the "
                     f"95\u00a0% interval [{low:.2f}, {high:.2f}], {high - low:.2f} wide: differences of a few images "
                     "between models or compressed variants are within noise, and every comparison whose intervals "
                     "overlap is reported as not resolved.")
    held = number(s, "A1.n_selection")
    if held:
        items.append(f"Every choice (kept epochs, the hardened model, the compressed models examined, the deployment "
                     f"rule) is made on a selection split of {int(held)} training images, so the validation split "
                     f"stays unbiased; but one selection image is {100 / held:.2g} points, and a choice between close "
                     "candidates is itself noisy.")
    seeded = [m for m in facts.models(s) if number(s, f"A2.{m}.val_acc_seed_std") is not None]
    seeded = [m + (f" ({int(number(s, f'A2.{m}.n_seeds'))} seeds)" if number(s, f"A2.{m}.n_seeds") else "")
              for m in seeded]
    items.append("Seed variance was measured for the headline accuracies of " + ", ".join(seeded) + " only; every "
                 "other result (attacks, defense, compression) comes from one training seed." if seeded else
                 "Every result comes from one training seed; the spread over seeds is not measured.")
    ratios = [number(s, f"A2.{m}.latency_b1_std_ms") / number(s, f"A2.{m}.latency_b1_ms")
              for m in facts.models(s) if number(s, f"A2.{m}.latency_b1_std_ms") and number(s, f"A2.{m}.latency_b1_ms")]
    noise = params.get("latency_noise")
    if ratios:
        low, high = f"{min(ratios):.0%}", f"{max(ratios):.0%}"
        spread = f"about {low}" if low == high else f"{low} to {high}"
        where = "GPU" if params.get("device") == "cuda" else "CPU"
        items.append(f"Latencies are {where} wall-clock times of a shared machine: the standard deviation of one batch-1 "
                     f"forward pass is {spread} of its mean" + (
                         f", and speedups within ±{noise:.0%} are called no change" if noise else "")
                     + "; the numbers do not carry over to other hardware or to a GPU.")
    size = params.get("image_size")
    if size:
        items.append(f"Images are resized to {size} × {size} pixels; accuracies and robustness at full resolution "
                     "may differ.")
    steps = params.get("pgd_steps")
    items.append("The attacks are white-box L∞ attacks on the validation split (FGSM, and PGD"
                 + (f" with {steps} steps" if steps else "") + "); stronger attacks (more steps or random restarts, "
                 "other norms) can only lower the robust accuracies reported here.")
    budgets = [k for k in s if re.fullmatch(r"C1\.[^.]+\.dense_control\.acc", k)]
    control = ("; the dense control fine-tuned with the same extra budget is reported in C1." if budgets
               else "; no dense control with the same budget was run.")
    items.append("The compression methods fine-tune with different budgets (C1 states each one)" + control)
    return "# Limitations\n\n" + "\n".join(f"- {i}" for i in items)
