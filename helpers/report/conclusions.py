"""The conclusions: what the three parts say together, computed from the flat summary dict.

The executive summary lists the findings one by one; the conclusions answer the study's questions
across them (is accuracy robustness, what buys robustness, what compression costs), each heading
chosen by what the paired tests resolved, so the two sections never repeat each other's sentences.
"""
from __future__ import annotations

import re

from . import facts
from .facts import Summary, number, rate


def _hardened(s: Summary) -> str | None:
    found = [k.split(".")[2] for k in s if re.fullmatch(r"B1\.defense\.[^.]+\.clean_acc", k)]
    return next((m for m in found if m != "standard"), None)


def defense(s: Summary) -> str | None:
    """What buys robustness: the resolved gains of adversarial fine-tuning, and its clean-accuracy cost."""
    m = _hardened(s)
    if m is None:
        return None
    pat = re.compile(rf"B1\.defense\.{re.escape(m)}\.paired\.(eps[0-9.]+)\.p_value")
    tests = {g.group(1): facts.paired(s, f"B1.defense.{m}.paired.{g.group(1)}") for k in s if (g := pat.fullmatch(k))}
    gains = {e: t for e, t in tests.items() if facts.resolved_side(t) == "a"}
    clean = facts.paired(s, f"B1.defense.{m}.paired.clean")
    cost = ("" if clean is None else
            f" It paid {-clean['difference']:.2f} of clean accuracy for it, a resolved cost (p = {clean['p_value']:.2g})."
            if facts.resolved_side(clean) == "b" else
            f" Its clean accuracy changed by {clean['difference']:+.2f}, which is not resolved (p = {clean['p_value']:.2g}).")
    if not gains:
        return (f"**No resolved gain from the defense.** Adversarial fine-tuning of {m} raised worst-case robust "
                f"accuracy at no ε by a difference the paired test resolves.{cost}")
    said = "; ".join(f"{t['difference']:+.2f} at ε {e[3:]} (p = {t['p_value']:.2g})" for e, t in gains.items())
    return (f"**Robustness is bought by training for it.** Adversarial fine-tuning of {m} is the intervention of this "
            f"study that raised robust accuracy by resolved amounts: {said}.{cost} Its robust accuracies remain upper "
            "bounds, measured with PGD and, in B3, beside APGD.")


def compression(s: Summary, attack: str) -> str | None:
    """What compression buys and whether it changes robustness, for the deployed models."""
    noise, parts, robust_parts, any_loss, any_less = number(s, "C1.latency_noise"), [], [], False, False
    real_speed = []
    for m in facts.models(s):
        rec = s.get(f"C2.{m}.recommended")
        if not isinstance(rec, str) or rec == "dense":
            continue
        c, test = facts.compressed(s, m, facts.variant_key(rec)), facts.paired(s, f"C2.{m}.recommended_vs_dense")
        any_loss |= facts.resolved_side(test) == "b"
        real = bool(noise is not None and c["speedup"] and abs(c["speedup"] - 1) > noise)
        real_speed.append(real)
        parts.append(f"{m} {rec}: {c['speedup']:.1f}× faster ({'beyond' if real else 'within'} the latency noise), "
                     f"{c['size_reduction']:.1f}× smaller" + (f", accuracy difference {test['difference']:+.2f} "
                                                              f"(p = {test['p_value']:.2g})" if test else ""))
        eps = facts.smallest_eps(s, m, attack)
        vs = facts.paired(s, f"C2.{m}.{facts.variant_key(rec)}.whitebox.{attack}.untargeted.{facts.eps_key(eps)}.vs_dense"
                          ) if eps is not None else None
        if vs is not None:
            any_less |= facts.resolved_side(vs) == "b"
            robust_parts.append(f"{m} {vs['difference']:+.2f} (p = {vs['p_value']:.2g})")
    if not parts:
        return None
    bought = ("speed and size" if all(real_speed) else "size, and for some models speed" if any(real_speed) else
              "size; no speedup is beyond the latency noise")
    head = (f"**The deployed compressed models buy {bought}, at no resolved cost in accuracy.**" if not any_loss else
            f"**The deployed compressed models buy {bought}, at a resolved cost in accuracy for some of them.**")
    text = f"{head} The deployed models: " + "; ".join(parts) + "."
    if robust_parts:
        text += (" Their robust accuracy under white-box attack differs from the dense models' by "
                 + ", ".join(robust_parts) + ": " + ("compression made a model resolvably less robust." if any_less else
                                                     "no change is resolved in either direction, so compression "
                                                     "neither removed nor measurably worsened the dense models' "
                                                     "vulnerability."))
    return text


def robust_pruning(s: Summary) -> str | None:
    """Does the robustness bought in B3 survive pruning?"""
    found = [g.group(1) for k in s if (g := re.fullmatch(r"C2\.robust\.([^.]+)\.dense\.robust_acc", k))]
    if not found:
        return None
    m, n = found[0], facts.n_valid(s)
    keys = [g.group(1) for k in s if (g := re.fullmatch(rf"C2\.robust\.{re.escape(m)}\.(.+)\.vs_unpruned\.p_value", k))]
    if not keys:
        return None
    lost = [v for v in keys if facts.resolved_side(facts.paired(s, f"C2.robust.{m}.{v}.vs_unpruned")) == "b"]
    above = [v for v in keys if facts.resolved_side(facts.paired(s, f"C2.robust.{m}.{v}.vs_standard")) == "a"]
    head = ("**Pruning costs the robust model robustness.**" if lost else
            "**Pruned, the robust model stays more robust than the standard one.**" if len(above) == len(keys) else
            "**Whether robustness survives pruning is not resolved.**")
    said = "; ".join(f"{v.replace('.', ' ', 1)} keeps {rate(s, f'C2.robust.{m}.{v}.robust_acc', n)} against the "
                     f"unpruned {rate(s, f'C2.robust.{m}.dense.robust_acc', n)} "
                     f"({facts.paired_words(facts.paired(s, f'C2.robust.{m}.{v}.vs_unpruned'))})" for v in keys)
    every = "the pruned version stays" if len(keys) == 1 else "every pruned version stays"
    standard = (f"{every} resolvably above the standard model." if len(above) == len(keys) else
                "not every pruned version stays resolvably above the standard model.")
    return (f"{head} B3's {m}, pruned and fine-tuned on clean images: {said}. "
            + (standard[0].upper() + standard[1:] if lost else
               "The change from the unpruned robust model is not resolved; " + standard))
