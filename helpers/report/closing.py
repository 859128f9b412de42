"""Conclusions and limitations of the report, computed from the flat summary dict and the run's
parameters. The conclusions connect the three parts (accuracy and explanations, attacks and
defense, compression); each paragraph needs certain keys and is left out without them."""
from __future__ import annotations

import re
from typing import Any

from ..evaluation.intervals import wilson
from . import facts
from .facts import Summary, number, rate
from .findings import findings_by_name


def _untargeted(s: Summary, model: str, attack: str, eps: float) -> tuple[str, int | None]:
    """B1's untargeted success-rate key of `model` at `eps`, and its denominator (eligible images)."""
    key = f"B1.{model}.{attack}.untargeted.{facts.eps_key(eps)}"
    eligible = number(s, f"{key}.n_eligible")
    return f"{key}.success_rate", int(eligible) if eligible else None


def _vulnerability(s: Summary, attack: str) -> str | None:
    """Is the more accurate model also the harder to fool? Robust accuracy under untargeted `attack`
    at the smallest ε, the two models compared image by image (B1's paired test)."""
    ms = facts.models(s)
    if len(ms) < 2:
        return None
    best = max(ms, key=lambda m: number(s, f"A2.{m}.val_acc") or 0)
    other = next(m for m in ms if m != best)
    eps = facts.smallest_eps(s, best, attack)
    if eps is None:
        return None
    pair, flipped = f"B1.paired.{best}_vs_{other}", False
    if facts.paired(s, f"{pair}.{attack}.{facts.eps_key(eps)}") is None:
        pair, flipped = f"B1.paired.{other}_vs_{best}", True
    test = facts.paired(s, f"{pair}.{attack}.{facts.eps_key(eps)}")
    if test is None:
        return None
    if flipped:  # state the difference as the more accurate model's minus the other's
        test = {**test, "difference": 0.0 - test["difference"], "diff_low": 0.0 - test["diff_high"],
                "diff_high": 0.0 - test["diff_low"], "only_a": test["only_b"], "only_b": test["only_a"],
                "resolved": {"a": "b", "b": "a"}.get(test["resolved"] or "", "")}
    side = facts.resolved_side(test)
    n = facts.n_valid(s)
    key = lambda m: f"B1.{m}.{attack}.untargeted.{facts.eps_key(eps)}.robust_acc"  # noqa: E731
    accurate = _accuracy_resolved(s, best, other)
    if accurate:
        head = {"a": "The more accurate model is also the harder to fool.",
                "b": "The more accurate model is the easier to fool."}.get(side, "Accuracy buys no measurable robustness.")
        who = f"the more accurate model, {best}"
    else:
        head = {"a": f"{best} is the harder to fool.", "b": f"{other} is the harder to fool."}.get(
            side, "Neither accuracy nor robustness separates the two models.")
        who = f"{best} (the higher validation accuracy, a difference not resolved)"
    return (f"**{head}** Under untargeted {facts.attack_title(attack)} at ε {eps:g}, {who} "
            f"keeps a robust accuracy of {rate(s, key(best), n)} against {rate(s, key(other), n)} for {other} "
            f"({facts.paired_words(test)})"
            + ("; the difference in robustness is not resolved." if not side else "."))


def _accuracy_resolved(s: Summary, best: str, other: str) -> bool:
    """Does A2's paired test on the validation split resolve `best` as the more accurate model?"""
    for a, b, side in ((best, other, "a"), (other, best, "b")):
        test = facts.paired(s, f"A2.paired.{a}_vs_{b}.valid")
        if test is not None:
            return facts.resolved_side(test) == side
    return False


def conclusions_markdown(s: Summary, params: dict[str, Any]) -> str:
    """The conclusions section (markdown): the study's questions answered across its parts
    (`conclusions`), each paragraph left out where its keys are missing."""
    from . import conclusions
    attack = params.get("robustness_attack") or "pgd"
    named = findings_by_name(s, params)
    paras = [_vulnerability(s, attack), conclusions.defense(s), conclusions.compression(s, attack),
             conclusions.robust_pruning(s)]
    if named.get("transfer"):
        paras.insert(1, "**How far attacks carry over.** For a black-box attacker who crafts on one model and "
                     "deploys on the other: " + named["transfer"].replace("Transfer at", "at"))
    if not paras[-1] and any(k.startswith("B1.defense.") for k in s):
        paras.append("**Robustness under compression was not measured.** The adversarially fine-tuned model of "
                     "the defense was not compressed in this run, so whether its robustness survives pruning is open.")
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
                     f"95\u00a0% interval [{low:.2f}, {high:.2f}], {high - low:.2f} wide. Models are compared image "
                     "by image on the same images (McNemar's exact test), which resolves smaller differences than "
                     "two marginal intervals can, but a difference of a few images is still not resolved, and a "
                     "difference that is not resolved is not evidence of equality.")
    held = number(s, "A1.n_selection")
    defended = any(k.startswith("B1.defense.") for k in s)  # B3 ran
    if held:
        choices = ["kept epochs"] + (["the hardened model"] if defended else []) + (
            ["the compressed models examined, the deployment rule"] if any(k.startswith("C2.") for k in s) else [])
        items.append(f"Every choice ({', '.join(choices)}) is made on a selection split of {int(held)} training "
                     f"images, so the validation split stays unbiased; but one selection image is {100 / held:.2g} "
                     "points, and a choice between close candidates is itself noisy.")
    seeded = [m for m in facts.models(s) if number(s, f"A2.{m}.val_acc_seed_std") is not None]
    seeded = [m + (f" ({int(number(s, f'A2.{m}.n_seeds'))} seeds)" if number(s, f"A2.{m}.n_seeds") else "")
              for m in seeded]
    items.append("Seed variance was measured for the headline accuracies of " + ", ".join(seeded) + " only; every "
                 "other result (attacks, defense, compression) comes from one training seed." if seeded else
                 "Every result comes from one training seed; the spread over seeds is not measured.")
    noise = number(s, "C1.latency_noise")
    if noise is not None:
        where = "GPU" if params.get("device") == "cuda" else "CPU"
        items.append(f"Latencies are {where} wall-clock times of a shared machine. The latency noise measured in C1 (an "
                     f"identical copy of each dense model timed beside it) is ±{100 * noise:.0f} %, and a speedup is "
                     "called real only beyond it; the numbers do not carry over to other hardware or to a GPU.")
    size = params.get("image_size")
    if size:
        items.append(f"Images are resized to {size} × {size} pixels; accuracies and robustness at full resolution "
                     "may differ.")
    steps, apgd = params.get("pgd_steps"), params.get("apgd_steps")
    defense = (f", PGD-{params['defense_eval_steps']} with {params.get('defense_restarts', 1)} random starts for the "
               "defense" if params.get("defense_eval_steps") and defended else "")
    stronger = (f", and APGD-CE and APGD-DLR ({apgd} steps) at the headline ε" if apgd and
                any(k.startswith("B1.strong_attacks.") for k in s) else "")
    items.append("The attacks are white-box L∞ attacks on the validation split (FGSM, PGD"
                 + (f"-{steps}" if steps else "") + defense + stronger + "). Every robust accuracy is an upper bound: "
                 "an attack not run here (AutoAttack's full ensemble, more restarts, other norms) can only lower it.")
    budgets = [k for k in s if re.fullmatch(r"C1\.[^.]+\.dense_control\.acc", k)]
    control = ("; the dense control fine-tuned with the same extra budget is reported in C1." if budgets
               else "; no dense control with the same budget was run.")
    items.append("The compression methods fine-tune with different budgets (C1 states each one)" + control)
    return "# Limitations\n\n" + "\n".join(f"- {i}" for i in items)
