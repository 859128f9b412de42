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


def attack_comparison(transfer: Transfer, transfer_margin: float, eps: float, alpha: float) -> list[str]:
    """Per direction, how the attacks' untargeted conditional transfer rates at `eps` compare (the
    old FGSM-against-PGD reading when one of two attacks is iterative and the other is not, made
    only when Fisher's exact test resolves the difference at `alpha` and it is at least
    `transfer_margin`)."""
    t, lines = transfer.titles, []
    for d in dict.fromkeys(transfer.table.direction):
        rows = {a: _row(transfer, d, a, "untargeted", eps) for a in t}
        rows = {a: r for a, r in rows.items() if r is not None and r.n_source_success}
        if len(rows) < 2:
            continue
        listed = ", ".join(f"{t[a]} {rate_with_interval(r, 'conditional_transfer_rate')}" for a, r in rows.items())
        if len(rows) > 2:
            lines.append(f"- {d}, untargeted at ε = {eps:g}: conditional transfer rates {listed}.")
            continue
        (a, ra), (b, rb) = rows.items()
        better, worse = (a, b) if ra.conditional_transfer_rate >= rb.conditional_transfer_rate else (b, a)
        gap = abs(ra.conditional_transfer_rate - rb.conditional_transfer_rate)
        head = (f"- {d}, untargeted at ε = {eps:g}: {t[a]}'s successes transfer at {rate_with_interval(ra, 'conditional_transfer_rate')} "
                f"and {t[b]}'s at {rate_with_interval(rb, 'conditional_transfer_rate')}")
        p = _fisher(ra, rb, "conditional_transfer_rate")
        head += f" (Fisher's exact p = {p:.2g})"
        if p >= alpha:
            lines.append(head + ": the difference is not resolved, so neither attack is shown to transfer better.")
        elif gap < transfer_margin:
            lines.append(head + f": a resolved difference under {100 * transfer_margin:.0f} percentage points, small.")
        elif transfer.iterative[worse] and not transfer.iterative[better]:
            lines.append(head + f": {t[worse]}'s many steps fit the source model's particular decision boundary, "
                         f"which a single {t[better]} step does not.")
        else:
            lines.append(head + f": {t[better]}'s transfer better.")
    return lines


def noise_lines(transfer: Transfer, substitute_threat_rate: float, alpha: float) -> list[str]:
    """At the largest ε, per direction, the unconditional transfer of the leading attack against
    random-sign noise of the same size on the target; a substitute model is called a real threat
    when transfer fools more than `substitute_threat_rate` of the eligible inputs and beats the
    noise by Fisher's exact test at `alpha`."""
    main, top, lines = primary_attack(transfer), float(transfer.table.eps.max()), []
    for d in dict.fromkeys(transfer.table.direction):
        u, noise = _row(transfer, d, main, "untargeted", top), None
        if u is not None:
            noise = transfer.noise_on(u.target, top)
        if u is None or noise is None or not u.n_eligible or not noise["n_eligible"]:
            continue
        p = rates_differ(int(u.n_target_success), int(u.n_eligible), int(noise["n_success"]), int(noise["n_eligible"]))
        above = p < alpha and u.transfer_rate > noise["success_rate"]
        threat = above and u.transfer_rate > substitute_threat_rate
        lines.append(
            f"- {d} at the largest budget, ε = {top:g}: untargeted {transfer.titles[main]} inputs made on {u.source} "
            f"fool {u.target} on {u.n_target_success} of {u.n_eligible} eligible inputs "
            f"({rate_with_interval(u, 'transfer_rate')}); random-sign noise of the same size fools it on {noise['n_success']} of the "
            f"{noise['n_eligible']} inputs it classifies correctly ({format_rate(noise['success_rate'], noise['n_eligible'])}; "
            f"Fisher's exact p = {p:.2g}). "
            + (("An attacker with only a substitute model is a real threat at this budget" if threat else
                "The transferred inputs beat noise, but fool no more than "
                f"{100 * substitute_threat_rate:.0f} % of the inputs: a limited threat") if above else
               "The difference is not resolved: at this budget the transferred inputs are not shown to do better than noise")
            + ".")
    return lines


def reading(transfer: Transfer, transfer_margin: float, substitute_threat_rate: float, example_eps: float,
            alpha: float = 0.05) -> str:
    """The bullet points that read the transfer results (every number computed from `transfer`):
    conditional transfer per direction at `example_eps`, the attacks compared, noise at the largest ε;
    a difference is stated where Fisher's exact test resolves it at `alpha`."""
    eps = example_eps if example_eps in set(transfer.table.eps) else float(transfer.table.eps.min())
    return "\n".join(direction_lines(transfer, eps, alpha) + attack_comparison(transfer, transfer_margin, eps, alpha)
                     + noise_lines(transfer, substitute_threat_rate, alpha))
