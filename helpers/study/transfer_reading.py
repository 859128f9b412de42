"""B2's reading of the transfer results: per direction, per attack and against noise, each
difference stated only where Fisher's exact test resolves it (the compared rates count different
sets of inputs, so there is no image-by-image pairing)."""
from __future__ import annotations

import pandas as pd

from ..evaluation.intervals import format_rate, rates_differ
from .transfer import DENOMINATOR, Transfer, primary_attack, rate_with_interval


def _row(transfer: Transfer, direction: str, attack: str, goal: str, eps: float) -> pd.Series | None:
    t = transfer.table
    sub = t[(t.direction == direction) & (t.attack == attack) & (t.goal == goal) & (t.eps == eps)]
    return sub.iloc[0] if len(sub) else None


def _successes(row, key: str) -> int:
    return int(row[{"conditional_transfer_rate": "n_both_success", "transfer_rate": "n_target_success"}[key]])


def _fisher(ra, rb, key: str) -> float:
    """Fisher's exact p of two rows' rates `key` (different input sets, so no pairing)."""
    return rates_differ(_successes(ra, key), int(ra[DENOMINATOR[key]]), _successes(rb, key), int(rb[DENOMINATOR[key]]))


def _count(k: int, one: str, many: str) -> str:
    return f"{k} {one if k == 1 else many}"


def direction_lines(transfer: Transfer, eps: float, alpha: float) -> list[str]:
    """Per direction, the conditional transfer of the leading attack at `eps`, untargeted and
    targeted; then whether the two directions' untargeted rates differ (Fisher's exact test at
    `alpha`: the directions count different inputs)."""
    main, lines, rows = primary_attack(transfer), [], {}
    title = transfer.titles[main]
    for d in dict.fromkeys(transfer.table.direction):
        u, g = _row(transfer, d, main, "untargeted", eps), _row(transfer, d, main, "targeted", eps)
        if u is None or not u.n_source_success:
            lines.append(f"- {d}: " + (f"untargeted {title} at ε = {eps:g} fools none of the {u.n_eligible} eligible "
                                       "inputs on the source" if u is not None and u.n_eligible else
                                       "no input is classified correctly by both models") + ", so nothing can transfer.")
            continue
        rows[d] = u
        text = (f"- {d}: of the {u.n_source_success} eligible inputs whose untargeted {title} input (ε = {eps:g}) fools "
                f"{u.source}, {_count(u.n_both_success, 'also fools', 'also fool')} {u.target} (conditional transfer rate "
                f"{rate_with_interval(u, 'conditional_transfer_rate')})")
        if g is not None and g.n_source_success:
            text += (f"; of the {g.n_source_success} sent to the target class on {g.source}, "
                     f"{_count(g.n_both_success, 'is', 'are')} sent there on {g.target} too "
                     f"({rate_with_interval(g, 'conditional_transfer_rate')})")
        lines.append(text + ".")
    if len(rows) == 2:
        (a, ra), (b, rb) = rows.items()
        p = _fisher(ra, rb, "conditional_transfer_rate")
        hi = a if ra.conditional_transfer_rate >= rb.conditional_transfer_rate else b
        lines.append(f"- The two directions differ by {abs(ra.conditional_transfer_rate - rb.conditional_transfer_rate):.2f} "
                     f"(Fisher's exact test over the two sets of inputs, p = {p:.2g}): "
                     + ("not resolved, so these inputs do not show that one direction transfers better than the other."
                        if p >= alpha else f"adversarial inputs transfer more readily {hi.replace(' → ', ' to ')}."))
    return lines


def _attack_rows(transfer: Transfer, eps: float) -> dict[str, dict]:
    """Per direction, the untargeted rows at `eps` of the attacks whose inputs fool the source at all."""
    out = {}
    for d in dict.fromkeys(transfer.table.direction):
        rows = {a: _row(transfer, d, a, "untargeted", eps) for a in transfer.titles}
        out[d] = {a: r for a, r in rows.items() if r is not None and r.n_source_success}
    return out


def _attack_verdict(transfer: Transfer, ra, rb, a: str, b: str, transfer_margin: float, alpha: float
                    ) -> tuple[str, str, float]:
    """(kind, better attack, Fisher's p) of two attacks' conditional transfer rates in one direction;
    kind is 'not resolved', 'small' (resolved, under `transfer_margin`), 'fits' (the iterative attack
    transfers resolvably worse than the one-step one) or 'better'."""
    better, worse = (a, b) if ra.conditional_transfer_rate >= rb.conditional_transfer_rate else (b, a)
    p = _fisher(ra, rb, "conditional_transfer_rate")
    if p >= alpha:
        return "not resolved", better, p
    if abs(ra.conditional_transfer_rate - rb.conditional_transfer_rate) < transfer_margin:
        return "small", better, p
    return ("fits" if transfer.iterative[worse] and not transfer.iterative[better] else "better"), better, p


def attack_comparison(transfer: Transfer, transfer_margin: float, eps: float, alpha: float) -> list[str]:
    """Per direction, how the attacks' untargeted conditional transfer rates at `eps` compare (the
    old FGSM-against-PGD reading when one of two attacks is iterative and the other is not, made
    only when Fisher's exact test resolves the difference at `alpha` and it is at least
    `transfer_margin`)."""
    t, lines = transfer.titles, []
    for d, rows in _attack_rows(transfer, eps).items():
        if len(rows) < 2:
            continue
        listed = ", ".join(f"{t[a]} {rate_with_interval(r, 'conditional_transfer_rate')}" for a, r in rows.items())
        if len(rows) > 2:
            lines.append(f"- {d}, untargeted at ε = {eps:g}: conditional transfer rates {listed}.")
            continue
        (a, ra), (b, rb) = rows.items()
        kind, better, p = _attack_verdict(transfer, ra, rb, a, b, transfer_margin, alpha)
        worse = b if better == a else a
        head = (f"- {d}, untargeted at ε = {eps:g}: {t[a]}'s successes transfer at {rate_with_interval(ra, 'conditional_transfer_rate')} "
                f"and {t[b]}'s at {rate_with_interval(rb, 'conditional_transfer_rate')} (Fisher's exact p = {p:.2g})")
        lines.append(head + {
            "not resolved": ": the difference is not resolved, so neither attack is shown to transfer better.",
            "small": f": a resolved difference under {100 * transfer_margin:.0f} percentage points, small.",
            "fits": f": {t[worse]}'s many steps fit the source model's particular decision boundary, which a single "
                    f"{t[better]} step does not.",
            "better": f": {t[better]}'s transfer better."}[kind])
    return lines


def attack_summary(transfer: Transfer, transfer_margin: float, eps: float, alpha: float) -> list[str]:
    """The attack comparison of every direction in one bullet: in how many directions Fisher's exact
    test resolves which attack's successes transfer better, and which; the rates are in the details."""
    t, verdicts, compared = transfer.titles, {}, {}
    for d, rows in _attack_rows(transfer, eps).items():
        if len(rows) == 2:
            (a, ra), (b, rb) = rows.items()
            verdicts[d] = _attack_verdict(transfer, ra, rb, a, b, transfer_margin, alpha)[:2]
            compared.update(dict.fromkeys((t[a], t[b])))
    if not verdicts:
        return []
    pair = " and ".join(compared)
    resolved = {d: v for d, v in verdicts.items() if v[0] != "not resolved"}
    text = (f"- {pair}, untargeted at ε = {eps:g}, direction by direction (the rates and p-values are in the appendix): "
            "Fisher's exact test resolves which attack's successes transfer better in ")
    if not resolved:
        return [text + (f"none of the {len(verdicts)} directions." if len(verdicts) > 1 else "neither way.")]
    by_attack: dict[str, list[str]] = {}
    for d, (kind, better) in resolved.items():
        by_attack.setdefault(better, []).append(d + (f" (by under {100 * transfer_margin:.0f} points)" if kind == "small" else ""))
    text += (f"{len(resolved)} of {len(verdicts)} direction{'s' if len(verdicts) > 1 else ''} ("
             + "; ".join(f"{t[a]}'s in {', '.join(ds)}" for a, ds in by_attack.items()) + ")")
    if any(kind == "fits" for kind, _ in resolved.values()):
        text += (": where the one-step attack's transfer better, the iterative attack's many steps fit the source "
                 "model's particular decision boundary, which a single step does not")
    return [text + "."]


def _noise_verdicts(transfer: Transfer, substitute_threat_rate: float, alpha: float) -> list[tuple]:
    """Per direction at the largest ε: (direction, row, noise, Fisher's p, verdict) with verdict 'threat'
    (beats noise and fools more than `substitute_threat_rate`), 'limited' (beats noise only) or
    'noise' (not resolved from random-sign noise of the same size on the target)."""
    main, top, out = primary_attack(transfer), float(transfer.table.eps.max()), []
    for d in dict.fromkeys(transfer.table.direction):
        u, noise = _row(transfer, d, main, "untargeted", top), None
        if u is not None:
            noise = transfer.noise_on(u.target, top)
        if u is None or noise is None or not u.n_eligible or not noise["n_eligible"]:
            continue
        p = rates_differ(int(u.n_target_success), int(u.n_eligible), int(noise["n_success"]), int(noise["n_eligible"]))
        above = p < alpha and u.transfer_rate > noise["success_rate"]
        out.append((d, u, noise, p, "noise" if not above else "threat" if u.transfer_rate > substitute_threat_rate
                    else "limited"))
    return out


def noise_lines(transfer: Transfer, substitute_threat_rate: float, alpha: float) -> list[str]:
    """At the largest ε, per direction, the unconditional transfer of the leading attack against
    random-sign noise of the same size on the target; a substitute model is called a real threat
    when transfer fools more than `substitute_threat_rate` of the eligible inputs and beats the
    noise by Fisher's exact test at `alpha`."""
    main, top, lines = primary_attack(transfer), float(transfer.table.eps.max()), []
    for d, u, noise, p, verdict in _noise_verdicts(transfer, substitute_threat_rate, alpha):
        lines.append(
            f"- {d} at the largest budget, ε = {top:g}: untargeted {transfer.titles[main]} inputs made on {u.source} "
            f"fool {u.target} on {u.n_target_success} of {u.n_eligible} eligible inputs "
            f"({rate_with_interval(u, 'transfer_rate')}); random-sign noise of the same size fools it on {noise['n_success']} of the "
            f"{noise['n_eligible']} inputs it classifies correctly ({format_rate(noise['success_rate'], noise['n_eligible'])}; "
            f"Fisher's exact p = {p:.2g}). " + {
                "threat": "An attacker with only a substitute model is a real threat at this budget",
                "limited": "The transferred inputs beat noise, but fool no more than "
                           f"{100 * substitute_threat_rate:.0f} % of the inputs: a limited threat",
                "noise": "The difference is not resolved: at this budget the transferred inputs are not shown to do "
                         "better than noise"}[verdict] + ".")
    return lines


def noise_summary(transfer: Transfer, substitute_threat_rate: float, alpha: float) -> list[str]:
    """The noise comparison of every direction in one bullet: where transferred inputs are a real
    threat, a limited one, or not shown to beat random-sign noise (the counts are in the details)."""
    verdicts = _noise_verdicts(transfer, substitute_threat_rate, alpha)
    if not verdicts:
        return []
    main, top = primary_attack(transfer), float(transfer.table.eps.max())
    groups = {"threat": [], "limited": [], "noise": []}
    for d, u, _, _, verdict in verdicts:
        groups[verdict].append(f"{d} ({u.transfer_rate:.2f})")
    words = {"threat": f"a real threat from a substitute model (they beat noise and fool more than "
                       f"{100 * substitute_threat_rate:.0f} % of the eligible inputs)",
             "limited": "beat noise, a limited threat", "noise": "not shown to do better than noise"}
    return [f"- At the largest budget, ε = {top:g}, untargeted {transfer.titles[main]} inputs made on the source against "
            "random-sign noise of the same size on the target (Fisher's exact test; the counts are in the appendix; "
            "in brackets the share of eligible inputs fooled): "
            + "; ".join(f"{words[k]} in {', '.join(v)}" for k, v in groups.items() if v) + "."]


def _eps(transfer: Transfer, example_eps: float) -> float:
    return example_eps if example_eps in set(transfer.table.eps) else float(transfer.table.eps.min())


def reading(transfer: Transfer, transfer_margin: float, substitute_threat_rate: float, example_eps: float,
            alpha: float = 0.05) -> str:
    """The bullet points that read the transfer results (every number computed from `transfer`):
    conditional transfer per direction at `example_eps`; the attacks compared there and noise at the
    largest ε, each summarised once over the directions (`details` gives them direction by direction); a
    difference is stated where Fisher's exact test resolves it at `alpha`."""
    eps = _eps(transfer, example_eps)
    return "\n".join(direction_lines(transfer, eps, alpha) + attack_summary(transfer, transfer_margin, eps, alpha)
                     + noise_summary(transfer, substitute_threat_rate, alpha))


def details(transfer: Transfer, transfer_margin: float, substitute_threat_rate: float, example_eps: float,
            alpha: float = 0.05) -> str:
    """For the appendix: the attack comparison and the noise comparison, direction by direction."""
    eps = _eps(transfer, example_eps)
    return "\n".join(attack_comparison(transfer, transfer_margin, eps, alpha)
                     + noise_lines(transfer, substitute_threat_rate, alpha))
