"""The work of each stage of the study, counted from its parameters before anything runs.

A stage's work is a list of `Work` items in four kinds, each turned into seconds by the machine's
calibrated rates (`pipeline.calibration`): `train` (images through a training step), `attack`
(images through a PGD step), `eval` (images through an eval forward pass) and `batch1` (single-
image forward passes, for latency timing). What the rates do not cover (kernel start, figures,
decoding) is each stage's overhead in `plan.OVERHEAD_S`.

Attacks that stop on success (C2's white-box runs, the worst-case PGD of B3 and C2) do work that
depends on how robust the model is; it is estimated with a prior: of the inputs a model classifies
correctly (`PRIOR_CLEAN_ACC`), a fraction exp(-ε / ε₀) survives PGD, with ε₀ = `PRIOR_EPS0` for a
standard model and `PRIOR_EPS0_ROBUST` for an adversarially trained one (close to B1 and B3 of the
Sports-10 study); survivors run every step of every restart, the others `PRIOR_STEPS_TO_FOOL`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from ..config.model_overrides import for_model
from ..compression import targets

PRIOR_CLEAN_ACC = 0.75
PRIOR_EPS0, PRIOR_EPS0_ROBUST = 0.01, 0.03
PRIOR_STEPS_TO_FOOL = 3.0
GOALS = ("untargeted", "targeted")


@dataclass
class Work:
    """One line of a stage's work: `units` images (batch1: passes) of `kind` on `model`, each
    costing `factor` times the calibrated rate (a pruned model is cheaper, FGSM-RS dearer)."""
    what: str
    model: str
    kind: str
    units: float
    factor: float = 1.0

    def seconds(self, rates: dict[str, dict[str, float]]) -> float:
        r = rates[self.model]
        if self.kind == "batch1":
            return self.units * self.factor * r["batch1_ms"] / 1e3
        return self.units * self.factor / r[self.kind]


@dataclass
class Sizes:
    """Images per split (after the selection split is carved from train), the class count, and the
    images not yet in the decoded-image cache."""
    train: int
    selection: int
    valid: int
    test: int
    classes: int
    to_decode: int = 0
    attacked: int = -1  # validation images the attacks and split-wide maps read (attack_subset_per_class); -1: all

    def __post_init__(self):
        if self.attacked < 0:
            self.attacked = self.valid

    @property
    def all(self) -> int:
        return self.train + self.selection + self.valid + self.test


def stop_on_success_steps(eps: float, steps: int, restarts: int = 1, robust: bool = False) -> float:
    """Expected PGD steps per input when each input stops at its first success (the prior above)."""
    surviving = math.exp(-eps / (PRIOR_EPS0_ROBUST if robust else PRIOR_EPS0))
    return PRIOR_CLEAN_ACC * (surviving * steps * restarts + (1 - surviving) * min(steps, PRIOR_STEPS_TO_FOOL))


def _cost_factor(method, target: float) -> float:
    """Training and attack cost of a compressed model relative to its dense model: channel pruning
    removes MACs, though less than proportionally from the time (0.1 + 0.9 / reduction^0.9: fitted
    to ResNetSmall's channel-pruned fine-tunes, 0.42 of the dense epoch at 3x, 0.25 at 8x);
    unstructured pruning keeps them all."""
    return 0.1 + 0.9 / max(target, 1.0) ** 0.9 if method.family == "structured" else 1.0


def _training(model: str, what: str, epochs: int, s: Sizes, factor: float = 1.0) -> list[Work]:
    """`fit` for `epochs`: training steps on train, and a selection-split evaluation per epoch."""
    return [Work(f"{what}: {epochs} epochs × {s.train:,} images", model, "train", epochs * s.train, factor),
            Work(f"{what}: selection split after each epoch", model, "eval", epochs * s.selection, factor)]


def _model_training(m: str, p: dict[str, Any], s: Sizes) -> Callable[[str], list[Work]]:
    """A2's training of model m, labelled by the caller (one seed's or another's): with a frozen part,
    one pass of it over the training and selection images, then epochs at the cost of the trained
    rest (its share of the parameters, roughly). The model is built once, here."""
    from ..models.registry import model_names
    from ..study.model_setup import model_recipe

    if m not in model_names():  # a model the plan is only told of (its rates given, as in the tests)
        return lambda what: _training(m, what, p["epochs_by_model"].get(m, p["epochs"]), s)
    epochs, trained_share = model_recipe(m, p).epochs, _trained_share(m, s)
    if trained_share == 1.0:
        return lambda what: _training(m, what, epochs, s)
    return lambda what: ([Work(f"{what}: the frozen part's features, once", m, "eval", s.train + s.selection)]
                         + _training(m, f"{what} (trained part)", epochs, s, max(trained_share, 0.01)))


def _trained_share(model: str, s: Sizes) -> float:
    from ..models.registry import build_model, count_parameters, count_trained_parameters, get_spec

    spec = get_spec(model)
    built = build_model(model, **spec.arch_args(s.classes, [0.5] * 3, [0.25] * 3))
    if getattr(built, "frozen_split", lambda: None)() is None:
        return 1.0
    return count_trained_parameters(built) / count_parameters(built)


def a2(p: dict[str, Any], s: Sizes, rates: dict[str, dict[str, float]]) -> list[Work]:
    from ..study.model_setup import a2_models

    items = []
    for m in a2_models(p):
        training = _model_training(m, p, s)
        items += training(m) + [Work(f"{m}: predictions on every split", m, "eval", s.all)]
        for seed in for_model(p, m)["seed_sweep"]:
            items += training(f"{m}, seed {seed}") + [Work(f"{m}, seed {seed}: predictions", m, "eval", s.all)]
    return items


def a3(p: dict[str, Any], s: Sizes, rates: dict[str, dict[str, float]]) -> list[Work]:
    return [Work(f"{m}: predictions and maps", m, "eval", s.valid + s.train + s.attacked) for m in p["models"]]


def _attack_steps(p: dict[str, Any]) -> dict[str, int]:
    from ..attacks import build_attack
    return {a: (p["pgd_steps"] if build_attack(a, p).iterative else 1) for a in p["attacks"]}


def b1(p: dict[str, Any], s: Sizes, rates: dict[str, dict[str, float]]) -> list[Work]:
    strong = {p["example_eps"], p["robustness_eps"] or min(p["attack_eps"])}
    items = []
    for m in p["models"]:  # B1 runs every step (it records the iteration of first success)
        own = for_model(p, m)
        items += [Work(f"{m}: {a.upper()} ({n} step{'s' if n > 1 else ''}) × {len(p['attack_eps'])} ε × 2 goals × "
                       f"{s.attacked} images", m, "attack", s.attacked * n * len(p["attack_eps"]) * len(GOALS))
                  for a, n in _attack_steps(own).items()]
        items += [_apgd(m, own["apgd_steps"], len(strong), s.attacked)] if own["apgd_steps"] > 0 else []
    return items


def _apgd(model: str, steps: int, n_eps: int, n: int) -> Work:
    """APGD-CE and APGD-DLR (`strong_attacks`): every step, on the inputs the model classifies correctly."""
    return Work(f"{model}: APGD-CE and APGD-DLR ({steps} steps) × {n_eps} ε × {n} images", model, "attack",
                PRIOR_CLEAN_ACC * n * (steps + 1) * 2 * n_eps)


def b2(p: dict[str, Any], s: Sizes, rates: dict[str, dict[str, float]]) -> list[Work]:
    runs = len(p["attacks"]) * len(p["attack_eps"]) * len(GOALS)
    return [Work(f"{m}: every fixed set replayed, and the noise baseline", m, "eval",
                 s.attacked * (runs * len(p["models"]) + len(p["attack_eps"]))) for m in p["models"]]


def _worst_case(model: str, what: str, n: int, eps_grid, steps: int, restarts: int, robust: bool) -> Work:
    units = n * sum(stop_on_success_steps(e, steps, restarts, robust) for e in eps_grid)
    return Work(what, model, "attack", units)


def hardened_model(p: dict[str, Any], rates: dict[str, dict[str, float]]) -> str:
    """B3's model: `defense_model`, else A2's more accurate one, unknown before A2 ran: the slower
    model stands in for it, so the estimate errs long."""
    return p["defense_model"] or min(p["defense_among"] or p["models"], key=lambda name: rates[name]["train"])


def b3(p: dict[str, Any], s: Sizes, rates: dict[str, dict[str, float]]) -> list[Work]:
    m, e, eps = hardened_model(p, rates), p["defense_epochs"], p["defense_eps"]
    attack = f"PGD-{p['defense_eval_steps']} × {p['defense_restarts']} restarts at every ε"
    return (_training(m, f"{m} FGSM-RS fine-tuning", e, s)
            # the perturbation runs under the training autocast: about the cost of another training step
            + [Work(f"{m} FGSM-RS: one input-gradient step per training image", m, "train", e * s.train),
               _worst_case(m, f"{m}: PGD-10 on the selection split after each epoch", s.selection * e, [eps], 10, 1,
                           True),
               _worst_case(m, f"{m} standard: {attack}", s.attacked, p["attack_eps"], p["defense_eval_steps"],
                           p["defense_restarts"], False),
               _worst_case(m, f"{m} robust: {attack}", s.attacked, p["attack_eps"], p["defense_eval_steps"],
                           p["defense_restarts"], True)]
            + ([] if p["apgd_steps"] <= 0 else  # beside it, B3's PGD again at defense_eps, per image
               [_worst_case(m, f"{m} {v}: the same PGD again at ε {eps:g}", s.attacked, [eps], p["defense_eval_steps"],
                            p["defense_restarts"], v == "robust") for v in ("standard", "robust")]
               + [_apgd(m, p["apgd_steps"], 1, 2 * s.attacked)]))


def _points(p: dict[str, Any]):
    """(method object, target) of every compression point C1 makes, per the parameters."""
    from ..compression import build_method
    return [(build_method(name, p), t) for name in p["compression_methods"] for t in targets(name, p)]


def c1(p: dict[str, Any], s: Sizes, rates: dict[str, dict[str, float]]) -> list[Work]:
    items = []
    for m in p["models"]:
        distilled, own = set(), for_model(p, m)
        for method in {method.name: method for method, _ in _points(own)}.values():
            for what, epochs in method.shared_training(p["epochs_by_model"].get(m, p["epochs"]),
                                                       targets(method.name, own)):
                items += _training(m, f"{m} {method.name}: {what}", epochs, s)
        for method, t in _points(own):
            b, f, label = method.budget, _cost_factor(method, t), f"{m} {method.name} {method.label(t)}"
            items += (_training(m, label, method.training_epochs(), s, f)
                      + [Work(f"{label}: accuracy", m, "eval", 2 * s.valid + s.selection, f)])
            if b.distill_alpha > 0 and b.epochs not in distilled:  # the teacher's outputs are remembered
                distilled.add(b.epochs)
                items.append(Work(f"{m}: the dense teacher's outputs, {b.epochs} epochs", m, "eval", b.epochs * s.train))
        if p["dense_control_budget"] in {*p["compression_methods"], *own["compression_methods"]}:
            from ..compression import build_method
            control = build_method(p["dense_control_budget"], own)
            items += _training(m, f"{m} dense control", control.budget.epochs, s)
        layers, amounts = _prunable_layers(m, s), len(own["sensitivity_amounts"])
        items += [Work(f"{m}: layer sensitivity ({layers} layers × {amounts} fractions)", m, "eval",
                       s.valid * (layers + 1) * amounts)] if amounts else []
        variants = 2 + len(_points(own))
        items.append(Work(f"{m}: latency of {variants} models", m, "batch1",
                          variants * (p["latency_runs"] + p["latency_warmup"] + p["latency_rounds"])
                          + variants * p["latency_batch_runs"] * p["latency_batch"] / 4))
    return items


def _prunable_layers(model: str, s: Sizes) -> int:
    from ..models.registry import build_model, get_spec
    spec = get_spec(model)
    return len(spec.prunable(build_model(model, **spec.arch_args(s.classes, [0.5] * 3, [0.25] * 3))))


def c2(p: dict[str, Any], s: Sizes, rates: dict[str, dict[str, float]]) -> list[Work]:
    """The replay on every compressed model, the white-box attacks and the rule's attack on the
    selection split (counted for every point of `whitebox_methods`: which of them keep their
    accuracy is known only then), and B3's model pruned and attacked again."""
    eps_rule, runs = p["robustness_eps"] or min(p["attack_eps"]), len(p["attacks"]) * len(p["attack_eps"]) * len(GOALS)
    items = []
    for m in p["models"]:
        own = for_model(p, m)
        steps, points = _attack_steps(own), _points(own)
        per_image = sum(stop_on_success_steps(e, n) if n > 1 else 1 for e in p["attack_eps"] for n in steps.values())
        items.append(Work(f"{m}: fixed sets replayed on {len(points) + 1} models", m, "eval",
                          (len(points) + 1) * runs * s.attacked))
        attacked = [(None, 1.0)] + [(meth, t) for meth, t in points if meth.name in own["whitebox_methods"]]
        for meth, t in attacked:
            f, label = (1.0, f"{m} dense") if meth is None else (_cost_factor(meth, t), f"{m} {meth.name} {meth.label(t)}")
            items.append(Work(f"{label}: white-box, {len(p['whitebox_goals'])} goal(s), every ε", m, "attack",
                              s.attacked * per_image * len(p["whitebox_goals"]), f))
        # the rule attacks the dense model, then candidates until two qualify: counted as at most three
        items.append(Work(f"{m}: the rule's attacks on the selection split", m, "attack",
                          min(len(attacked), 4) * s.selection * stop_on_success_steps(eps_rule, steps[p["robustness_attack"]])))
    m, eps = hardened_model(p, rates), p["defense_eps"]
    for meth, t in _robust_points(p):
        items += _training(m, f"{m} robust, {meth.name} {meth.label(t)}", meth.budget.epochs, s, _cost_factor(meth, t))
        items.append(_worst_case(m, f"{m} robust, {meth.name} {meth.label(t)}: worst-case PGD", s.attacked, [eps],
                                 p["defense_eval_steps"], p["defense_restarts"], True))
    if _robust_points(p):
        items.append(_worst_case(m, f"{m} robust, unpruned: worst-case PGD", s.attacked, [eps], p["defense_eval_steps"],
                                 p["defense_restarts"], True))
    return items


def _robust_points(p: dict[str, Any]):
    """(method object, target) of each pruning of B3's model that C2 makes (`robust_prune_targets`)."""
    from ..compression import build_method
    return [(build_method(name, p), t) for name, ts in p["robust_prune_targets"].items() for t in ts]
