"""Key findings of the executive summary: sentences computed from a flat summary dict.

Each finding needs certain keys and returns None without them (the summary then leaves it out);
a sentence that compares two proportions says whether their 95 % Wilson intervals overlap,
deciding with `overlap`, never by eye.
"""
from __future__ import annotations

import re
from typing import Any

from . import facts
from .facts import Summary, number, rate

DENSE = "dense"  # C2's name of the uncompressed model, recommended when no compressed one qualifies
# A finding quotes at most this many models by name; more make the sentence unreadable.
MAX_MODELS_IN_SENTENCE = 4


def _accuracy_finding(s: Summary) -> str | None:
    ms, n = facts.models(s), facts.n_valid(s)
    if len(ms) < 2:
        return None
    ranked = sorted(ms, key=lambda m: -(number(s, f"A2.{m}.val_acc") or 0))
    best, worst = ranked[0], ranked[-1]
    a, b = f"A2.{best}.val_acc", f"A2.{worst}.val_acc"
    same = facts.overlapping(s, a, b, n)
    verdict = ("the intervals overlap, so this validation split does not separate the two" if same
               else "the intervals do not overlap" if same is False else "")
    return (f"{best} reaches the highest validation accuracy, {rate(s, a, n)}, and {worst} the lowest, "
            f"{rate(s, b, n)}" + (f"; {verdict}." if verdict else "."))


def _seed_finding(s: Summary) -> str | None:
    parts = []
    for m in facts.models(s):
        mean, std, seeds = (number(s, f"A2.{m}.{k}") for k in ("val_acc_seed_mean", "val_acc_seed_std", "n_seeds"))
        if mean is not None and std is not None:
            parts.append(f"{m} {mean:.2f} ± {std:.2f}" + (f" over {int(seeds)} seeds" if seeds else ""))
    if not parts:
        return None
    return ("Retrained with other seeds, the validation accuracies are (mean ± standard deviation) "
            + ", ".join(parts[:MAX_MODELS_IN_SENTENCE]) + "; the rest of the study uses the seed-0 models.")


def _attack_finding(s: Summary, attack: str) -> str | None:
    parts = []
    for m in facts.models(s)[:MAX_MODELS_IN_SENTENCE]:
        eps = facts.smallest_eps(s, m, attack)
        if eps is None:
            continue
        key = f"B1.{m}.{attack}.untargeted.{facts.eps_key(eps)}.success_rate"
        n = number(s, f"B1.{m}.{attack}.untargeted.{facts.eps_key(eps)}.n_eligible")
        parts.append(f"{facts.count(s, key, int(n) if n else None) or ''} correctly classified images of {m} "
                     f"at ε {eps:g} (success rate {rate(s, key, int(n) if n else None)})")
    if not parts:
        return None
    return (f"Small perturbations suffice: untargeted {facts.attack_title(attack)} changes the prediction of "
            + "; ".join(p.strip() for p in parts) + ", a change of at most "
            f"{min(facts.eps_grid(s, facts.models(s)[0], attack) or [0]) * 255:.1f} of 255 grey levels per pixel.")


def _transfer_finding(s: Summary, attack: str) -> str | None:
    ms = facts.models(s)
    if len(ms) < 2:
        return None
    src, dst = ms[0], ms[1]
    eps = facts.smallest_eps(s, src, attack)
    if eps is None:
        return None
    pairs = [(a, b, f"B2.{a}_to_{b}.{attack}.untargeted.{facts.eps_key(eps)}.conditional_transfer_rate")
             for a, b in ((src, dst), (dst, src))]
    pairs = [(a, b, k) for a, b, k in pairs if number(s, k) is not None]
    if not pairs:
        return None
    text = "; ".join(f"of the examples that fool {a}, a share of {rate(s, k)} also fools {b}" for a, b, k in pairs)
    return f"Transfer at ε {eps:g} ({facts.attack_title(attack)}): {text}."


def _defense_finding(s: Summary) -> str | None:
    hardened = [k.split(".")[2] for k in s if re.fullmatch(r"B1\.defense\.[^.]+\.clean_acc", k)]
    if not hardened or hardened[0] == "standard":
        return None
    m, n = hardened[0], facts.n_valid(s)
    pat = re.compile(rf"B1\.defense\.{re.escape(m)}\.pgd_robust_acc\.eps([0-9.]+)")
    grid = sorted(float(g.group(1)) for k in s if (g := pat.fullmatch(k)))
    if not grid:
        return None
    eps = facts.eps_key(grid[0])
    robust, standard = f"B1.defense.{m}.pgd_robust_acc.{eps}", f"B1.defense.standard.{m}.pgd_robust_acc.{eps}"
    clean, clean_std = f"B1.defense.{m}.clean_acc", f"B1.defense.standard.{m}.clean_acc"
    if number(s, robust) is None or number(s, standard) is None:
        return None
    same = facts.overlapping(s, robust, standard, n)
    verdict = (" The two robust-accuracy intervals overlap, so the gain is not resolved on this split." if same
               else " The two robust-accuracy intervals do not overlap." if same is False else "")
    return (f"Adversarial fine-tuning of {m} changes its robust accuracy under PGD at ε {grid[0]:g} from "
            f"{rate(s, standard, n)} to {rate(s, robust, n)}, while its clean accuracy goes from "
            f"{rate(s, clean_std, n)} to {rate(s, clean, n)}.{verdict}")


def _control(s: Summary, model: str, acc: str, n: int | None) -> str:
    """The dense model fine-tuned with the extra budget of the compressed one, where C1 ran it."""
    control = f"C1.{model}.dense_control.acc"
    if number(s, control) is None:
        return ""
    same = facts.overlapping(s, acc, control, n)
    return (f" The dense model fine-tuned with the same extra budget reaches {rate(s, control, n)}"
            + ("; the intervals overlap." if same else "; the intervals do not overlap." if same is False else "."))


def _compression_finding(s: Summary) -> str | None:
    parts, n = [], facts.n_valid(s)
    for m in facts.models(s)[:MAX_MODELS_IN_SENTENCE]:
        rec = s.get(f"C2.{m}.recommended")
        if not isinstance(rec, str):
            continue
        c = facts.compressed(s, m, facts.variant_key(rec))
        acc, dense = c["acc_key"], f"C1.{m}.dense.acc"
        if number(s, acc) is None or number(s, dense) is None:
            continue
        same = facts.overlapping(s, acc, dense, n)
        speed = f", runs {c['speedup']:.2f}× as fast at batch 1" if c["speedup"] else ""
        size = f" and is {c['size_reduction']:.1f}× smaller" if c["size_reduction"] else ""
        if rec == DENSE:
            parts.append(f"For {m} no compressed model passes the deployment rule of C2; the dense model stays.")
            continue
        runner = s.get(f"C2.{m}.runner_up")
        runner = "the dense model" if runner == DENSE else runner if isinstance(runner, str) and runner.strip("–- ") else None
        parts.append(f"For {m} the deployment rule of C2 recommends {rec}"
                     + (f" (the runner-up is {runner})" if runner else "")
                     + f": it keeps an accuracy of {rate(s, acc, n)} against the dense {rate(s, dense, n)}"
                     + (" (the intervals overlap)" if same else " (the intervals do not overlap)" if same is False
                        else "") + speed + size + "." + _control(s, m, acc, n))
    return " ".join(parts) if parts else None


def _compressed_still_fooled(s: Summary, attack: str) -> str | None:
    parts = []
    for m in facts.models(s)[:MAX_MODELS_IN_SENTENCE]:
        rec, eps = s.get(f"C2.{m}.recommended"), facts.smallest_eps(s, m, attack)
        if not isinstance(rec, str) or rec == DENSE or eps is None:
            continue
        variant = facts.variant_key(rec)
        key = f"C2.{m}.{variant}.whitebox.{attack}.untargeted.{facts.eps_key(eps)}.success_rate"
        dense = f"C2.{m}.dense.whitebox.{attack}.untargeted.{facts.eps_key(eps)}.success_rate"
        if number(s, key) is None:
            continue
        same = facts.overlapping(s, key, dense)
        parts.append(f"{m} {rec} {rate(s, key)} (dense {rate(s, dense) or '–'}"
                     + ("; intervals overlap)" if same else "; intervals do not overlap)" if same is False else ")"))
    if not parts:
        return None
    eps = facts.smallest_eps(s, facts.models(s)[0], attack)
    return (f"The recommended compressed models are still fooled at ε {eps:g}, the smallest budget: white-box "
            f"untargeted {facts.attack_title(attack)} succeeds on " + ", ".join(parts) + ".")


def _robust_compressed(s: Summary, attack: str) -> str | None:
    """C2.robust.<Model>.dense.robust_acc and C2.robust.<Model>.<method>.<point>.robust_acc: B3's
    robust model before and after pruning, under worst-case PGD at ε C2.robust.<Model>.eps."""
    found = [g.group(1) for k in s if (g := re.fullmatch(r"C2\.robust\.([^.]+)\.dense\.robust_acc", k))]
    if not found:
        return None
    m, n = found[0], facts.n_valid(s)
    eps, dense = number(s, f"C2.robust.{m}.eps"), f"C2.robust.{m}.dense.robust_acc"
    variants = [g.group(1) for k in s if (g := re.fullmatch(rf"C2\.robust\.{re.escape(m)}\.(.+)\.robust_acc", k))
                and g.group(1) != "dense"]
    if eps is None or not variants:
        return None
    standard = f"B1.defense.standard.{m}.pgd_robust_acc.{facts.eps_key(eps)}"
    parts = []
    for v in variants[:MAX_MODELS_IN_SENTENCE]:
        key = f"C2.robust.{m}.{v}.robust_acc"
        same, as_standard = facts.overlapping(s, key, dense, n), facts.overlapping(s, key, standard, n)
        parts.append(f"{v.replace('.', ' ', 1)} keeps {rate(s, key, n)}"
                     + (" (within the unpruned interval" if same else " (outside the unpruned interval" if same is False
                        else " (") + ("; also within the standard model's" if as_standard else
                                      "; above the standard model's" if as_standard is False else "") + ")")
    std_text = f", against {rate(s, standard, n)} for the standard {m}" if number(s, standard) is not None else ""
    return (f"Pruning the adversarially fine-tuned {m} of B3: unpruned, its robust accuracy under worst-case "
            f"{facts.attack_title(attack)} at ε {eps:g} is {rate(s, dense, n)}{std_text}; pruned, "
            + "; ".join(parts).replace(" ()", "") + ".")


def findings_by_name(s: Summary, params: dict[str, Any]) -> dict[str, str]:
    """{name: sentence} of the findings that the keys of `s` support, in the order of the study."""
    attack = params.get("robustness_attack") or "pgd"
    candidates = {"accuracy": _accuracy_finding(s), "seeds": _seed_finding(s), "attack": _attack_finding(s, attack),
                  "transfer": _transfer_finding(s, attack), "defense": _defense_finding(s),
                  "compression": _compression_finding(s), "still_fooled": _compressed_still_fooled(s, attack),
                  "robust_compressed": _robust_compressed(s, attack)}
    return {k: v for k, v in candidates.items() if v}


def findings(s: Summary, params: dict[str, Any]) -> list[str]:
    """The key findings of the executive summary (five to eight on a complete run)."""
    return list(findings_by_name(s, params).values())
