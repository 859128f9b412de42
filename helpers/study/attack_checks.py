"""B1's checks of the attack runs: invariants are asserted, expectations are reported.

What must hold for any correct attack is asserted, so a run whose attacks are broken stops: every
perturbation stays within its ε-ball (‖δ‖∞ ≤ ε) and every adversarial image is valid pixels in
[0, 1]. What a healthy attack only usually achieves is checked and reported, never asserted: an
attack that declares itself at least as strong as another (PGD against FGSM) fools at least as
many inputs at the same ε (a one-epoch model attacked with 5 PGD steps can break this without any
fault: PGD's small steps may not reach the corner FGSM's single full step lands on), and at a budget
far beyond any semantic change each iterative attack, untargeted, fools nearly every correctly
classified input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

GOALS = ("untargeted", "targeted")
SANITY_EPS = 0.1  # the budget of the "fools nearly everything" expectation (the meaning of sanity_min_fooled)


@dataclass
class Checks:
    """Sentences: invariants that held (asserted), expectations met, and expectations not met."""
    passed: list[str] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The checks as a markdown list, the unmet expectations first and marked."""
        return "\n".join([f"- **expectation not met**: {c}" for c in self.unmet] + [f"- passed: {c}" for c in self.passed])


def strength_pairs(attacks: dict) -> list[tuple[str, str]]:
    """(stronger, weaker) for each attack that declares `at_least_as_strong_as` a partner also run."""
    return [(a, obj.at_least_as_strong_as) for a, obj in attacks.items() if obj.at_least_as_strong_as in attacks]


def _assert_invariants(grid) -> str:
    x01 = grid.setup.images.float() / 255
    for (n, attack, goal, eps), run in grid.runs.items():
        if float((run.x_adv - x01).abs().max()) > eps + 1e-6:
            raise AssertionError(f"{n} {attack} {goal} ε={eps}: ‖δ‖∞ > ε")
        if float(run.x_adv.min()) < 0 or float(run.x_adv.max()) > 1:
            raise AssertionError(f"{n} {attack} {goal} ε={eps}: x_adv outside [0, 1]")
    return f"‖δ‖∞ ≤ ε and x_adv ∈ [0, 1] for all {len(grid.runs)} runs and {len(grid.setup.labels)} inputs each"


def _strength(grid, checks: Checks) -> None:
    s = grid.setup
    for strong, weak in strength_pairs(s.attacks):
        failures = []
        for n in s.models:
            for goal in GOALS:
                for eps in s.attack_eps:
                    f, p = grid.value(n, weak, goal, eps, "n_success"), grid.value(n, strong, goal, eps, "n_success")
                    if p < f:
                        failures.append(f"{n} {goal} ε = {eps:g}: {s.title(strong)} fooled {p} inputs, "
                                        f"{s.title(weak)} {f}")
        total = len(s.models) * len(GOALS) * len(s.attack_eps)
        if failures:
            checks.unmet.append(f"{s.title(strong)} is expected to succeed at least as often as {s.title(weak)}; it "
                                f"did not in {len(failures)} of {total} comparisons ({'; '.join(failures)})")
        else:
            checks.passed.append(f"{s.title(strong)} succeeds at least as often as {s.title(weak)} for every model, "
                                 f"goal and ε ({total} comparisons)")


def _fools_nearly_all(grid, sanity_min_fooled: float, checks: Checks) -> None:
    s = grid.setup
    if SANITY_EPS not in s.attack_eps:
        return
    for attack in s.iterative():
        rates = {n: grid.value(n, attack, "untargeted", SANITY_EPS, "success_rate") for n in s.models}
        low = [n for n, r in rates.items() if not (r is None or math.isnan(r) or r >= sanity_min_fooled)]
        counts = ", ".join(f"{n} {grid.value(n, attack, 'untargeted', SANITY_EPS, 'success')}" for n in s.models)
        sentence = (f"untargeted {s.title(attack)} at ε = {SANITY_EPS:g} fools at least {sanity_min_fooled:.0%} of "
                    "correctly classified inputs of every model")
        if low:
            checks.unmet.append(f"{sentence}: " + ", ".join(f"{n} only {rates[n]:.0%}" for n in low) + f" ({counts})")
        else:
            checks.passed.append(f"{sentence}: {counts}")


def sanity_checks(grid, sanity_min_fooled: float) -> Checks:
    """Assert the ε-ball and the pixel range of every run (AssertionError naming the run); check
    and report the declared strength order and, at ε = SANITY_EPS, that each iterative attack
    untargeted fools at least `sanity_min_fooled` of the eligible inputs. grid: `adversarial.Grid`."""
    checks = Checks(passed=[_assert_invariants(grid)])
    _strength(grid, checks)
    _fools_nearly_all(grid, sanity_min_fooled, checks)
    return checks
