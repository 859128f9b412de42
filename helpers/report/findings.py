"""Key findings of the executive summary: sentences computed from a flat summary dict.

Each finding needs certain keys and returns None without them (the summary then leaves it out).
Two models evaluated on the same images are compared by the paired test their stage recorded
(McNemar's exact test with the paired bootstrap interval of the difference, `facts.paired`); a
finding calls a difference real only where that test resolves it, and says so where it does not.
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
    test = facts.paired(s, f"A2.paired.{best}_vs_{worst}.valid")
    text = f"{best} reaches a validation accuracy of {rate(s, a, n)}, {worst} {rate(s, b, n)}"
    if test is None:
        return text + "."
    return text + (f"; on the same images ({facts.paired_words(test)}) " + (
        "the difference is resolved." if facts.resolved_side(test) else
        "the difference is not resolved: the study calls neither the more accurate (which is not evidence of equality)."))


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
    parts, all_fooled = [], True
    for m in facts.models(s)[:MAX_MODELS_IN_SENTENCE]:
        eps = facts.smallest_eps(s, m, attack)
        if eps is None:
            continue
        key = f"B1.{m}.{attack}.untargeted.{facts.eps_key(eps)}.success_rate"
        n = number(s, f"B1.{m}.{attack}.untargeted.{facts.eps_key(eps)}.n_eligible")
        ci = facts.interval(s, key, int(n) if n else None)
        all_fooled &= ci is not None and ci[0] > 0  # the interval excludes 0: some image is fooled
        parts.append(f"{facts.count(s, key, int(n) if n else None) or ''} correctly classified images of {m} "
                     f"at ε {eps:g} (success rate {rate(s, key, int(n) if n else None)})")
    if not parts:
        return None
    return (("Small perturbations suffice: " if all_fooled else "At the smallest budget, ")
            + f"untargeted {facts.attack_title(attack)} changes the prediction of "
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
    tests = {e: facts.paired(s, f"B1.defense.{m}.paired.{facts.eps_key(e)}") for e in grid}
    if not grid or any(t is None for t in tests.values()):
        return None
    resolved = [e for e in grid if facts.resolved_side(tests[e]) == "a"]
    clean = facts.paired(s, f"B1.defense.{m}.paired.clean")

    def change(e: float) -> str:
        key = facts.eps_key(e)
        return (f"from {rate(s, f'B1.defense.standard.{m}.pgd_robust_acc.{key}', n)} to "
                f"{rate(s, f'B1.defense.{m}.pgd_robust_acc.{key}', n)} at ε {e:g} ({facts.paired_words(tests[e])})")

    text = (f"Adversarial fine-tuning of {m} raises its robust accuracy under worst-case PGD (an upper bound) "
            + "; ".join(change(e) for e in resolved) + "." if resolved else
            f"Adversarial fine-tuning of {m} resolves no gain in robust accuracy under worst-case PGD at any ε of "
            f"the grid (it goes {change(grid[0])}).")
    if clean is not None:
        text += (f" Its clean accuracy goes from {rate(s, f'B1.defense.standard.{m}.clean_acc', n)} to "
                 f"{rate(s, f'B1.defense.{m}.clean_acc', n)} ({facts.paired_words(clean)}): "
                 + ("a resolved cost." if facts.resolved_side(clean) == "b" else
                    "a resolved gain." if facts.resolved_side(clean) == "a" else "a change that is not resolved."))
    return text


def _control(s: Summary, model: str, n: int | None) -> str:
    """The deployed model against the dense model fine-tuned with the same extra budget, paired."""
    control, test = f"C1.{model}.dense_control.acc", facts.paired(s, f"C2.{model}.recommended_vs_control")
    if number(s, control) is None or test is None:
        return ""
    return (f" The dense model fine-tuned with the same extra budget reaches {rate(s, control, n)} (the deployed model "
            f"against it: {facts.paired_words(test)}, " + ("resolved" if facts.resolved_side(test) else "not resolved")
            + ").")


def _compression_finding(s: Summary) -> str | None:
    parts, n, noise = [], facts.n_valid(s), number(s, "C1.latency_noise")
    for m in facts.models(s)[:MAX_MODELS_IN_SENTENCE]:
        rec = s.get(f"C2.{m}.recommended")
        if not isinstance(rec, str):
            continue
        if rec == DENSE:
            parts.append(f"For {m} no compressed model passes the deployment rule of C2; the dense model stays.")
            continue
        c = facts.compressed(s, m, facts.variant_key(rec))
        acc, dense, test = c["acc_key"], f"C1.{m}.dense.acc", facts.paired(s, f"C2.{m}.recommended_vs_dense")
        if number(s, acc) is None or number(s, dense) is None:
            continue
        speed = ""
        if c["speedup"]:
            real = noise is not None and abs(c["speedup"] - 1) > noise
            speed = (f", runs {c['speedup']:.2f}× as fast at batch 1 ("
                     + (f"beyond the ±{100 * noise:.0f} % latency noise)" if real else "within the latency noise)"))
        size = f" and is {c['size_reduction']:.1f}× smaller" if c["size_reduction"] else ""
        runner = s.get(f"C2.{m}.runner_up")
        runner = "the dense model" if runner == DENSE else runner if isinstance(runner, str) and runner.strip("–- ") else None
        verdict = ("" if test is None else f" ({facts.paired_words(test)}: "
                   + ("a resolved loss" if facts.resolved_side(test) == "b" else "no resolved loss") + ")")
        parts.append(f"For {m} the deployment rule of C2 recommends {rec}"
                     + (f" (the runner-up is {runner})" if runner else "")
                     + f": on validation it scores {rate(s, acc, n)} against the dense {rate(s, dense, n)}{verdict}"
                     + speed + size + "." + _control(s, m, n))
    return " ".join(parts) if parts else None


def _compressed_still_fooled(s: Summary, attack: str) -> str | None:
    parts, n = [], facts.n_valid(s)
    for m in facts.models(s)[:MAX_MODELS_IN_SENTENCE]:
        rec, eps = s.get(f"C2.{m}.recommended"), facts.smallest_eps(s, m, attack)
        if not isinstance(rec, str) or rec == DENSE or eps is None:
            continue
        base = f"C2.{m}.{facts.variant_key(rec)}.whitebox.{attack}.untargeted.{facts.eps_key(eps)}"
        dense = f"C2.{m}.dense.whitebox.{attack}.untargeted.{facts.eps_key(eps)}"
        if number(s, f"{base}.robust_acc") is None:
            continue
        test = facts.paired(s, f"{base}.vs_dense")
        parts.append(f"{m} {rec} keeps {rate(s, f'{base}.robust_acc', n)} (dense {rate(s, f'{dense}.robust_acc', n)}"
                     + ("" if test is None else f"; {facts.paired_words(test)}, "
                        + {"a": "resolved more robust", "b": "resolved less robust"}.get(
                            facts.resolved_side(test), "not resolved")) + ")")
    if not parts:
        return None
    eps = facts.smallest_eps(s, facts.models(s)[0], attack)
    return (f"Under white-box untargeted {facts.attack_title(attack)} at ε {eps:g}, the smallest budget, the robust "
            "accuracy (an upper bound) of the recommended compressed models: " + "; ".join(parts) + ".")


def _robust_compressed(s: Summary, attack: str) -> str | None:
    """C2.robust.<Model>.dense.robust_acc and C2.robust.<Model>.<method>.<point>.robust_acc: B3's
    robust model before and after pruning, under worst-case PGD at ε C2.robust.<Model>.eps, with
    the paired tests against the unpruned model (vs_unpruned) and the standard one (vs_standard)."""
    found = [g.group(1) for k in s if (g := re.fullmatch(r"C2\.robust\.([^.]+)\.dense\.robust_acc", k))]
    if not found:
        return None
    m, n = found[0], facts.n_valid(s)
    eps, dense = number(s, f"C2.robust.{m}.eps"), f"C2.robust.{m}.dense.robust_acc"
    variants = [g.group(1) for k in s if (g := re.fullmatch(rf"C2\.robust\.{re.escape(m)}\.(.+)\.robust_acc", k))
                and g.group(1) != "dense" and ".vs_" not in g.group(1)]
    if eps is None or not variants:
        return None
    standard = f"B1.defense.standard.{m}.pgd_robust_acc.{facts.eps_key(eps)}"
    parts = []
    for v in variants[:MAX_MODELS_IN_SENTENCE]:
        key = f"C2.robust.{m}.{v}"
        lost, above = facts.paired(s, f"{key}.vs_unpruned"), facts.paired(s, f"{key}.vs_standard")
        words = [("a resolved loss against the unpruned model" if facts.resolved_side(lost) == "b" else
                  "no resolved change from the unpruned model") + f" ({facts.paired_words(lost)})" if lost else ""]
        if above:
            words.append(("resolvably above the standard model" if facts.resolved_side(above) == "a" else
                          "no resolved difference from the standard model") + f" ({facts.paired_words(above)})")
        parts.append(f"{v.replace('.', ' ', 1)} keeps {rate(s, f'{key}.robust_acc', n)}: " + "; ".join(w for w in words if w))
    std_text = f", against {rate(s, standard, n)} for the standard {m}" if number(s, standard) is not None else ""
    return (f"Pruning the adversarially fine-tuned {m} of B3: unpruned, its robust accuracy under worst-case "
            f"{facts.attack_title(attack)} at ε {eps:g} is {rate(s, dense, n)}{std_text}; pruned, "
            + "; ".join(parts) + ".")


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
