"""Per-model settings: `model_overrides` gives a model of `models` its own value of a few
parameters of its later work, and `for_model` merges them over the study's.

Why: one study holds models whose costs per image differ thirtyfold (a pretrained EfficientNet
computing at 128 px against a CNN at 32 px), and the attack and compression grids sized for the
small ones would give the large one most of the study's time. The override names what it changes,
and `differences` words each change for the report, so unequal budgets are always stated beside the
results they shape.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .schema import ParameterError, validate

# The parameters one model may set for itself: how hard it is attacked, whether its seed variance is
# measured, and how it is compressed. ε, the images and the target class stay the study's, so every
# model is attacked on the same inputs and B2 can transfer between any two.
OVERRIDABLE = ("seed_sweep", "pgd_steps", "apgd_steps", "compression_methods", "compression_targets",
               "compression_budgets", "compression_settings", "sensitivity_amounts", "whitebox_methods")


MERGED = ("compression_targets", "compression_budgets", "compression_settings")  # per method, over the study's


def for_model(params: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The study's parameters with model `name`'s overrides applied (the same mapping when it has
    none). The per-method mappings (targets, budgets, settings) merge method by method over the
    study's, so a model that sets the targets of one method keeps the study's for the others."""
    own = params.get("model_overrides", {}).get(name, {})
    if not own:
        return params
    merged = {k: ({**params.get(k, {}), **v} if k in MERGED else v) for k, v in own.items()}
    return {**params, **merged}


def _listed(values) -> str:
    """'a', 'a and b', 'a, b and c' (as report.wording.joined, which config must not import: the
    training code's reuse key would then follow the report's modules)."""
    words = [_words(v) for v in values]
    return (f"{', '.join(words[:-1])} and {words[-1]}" if len(words) > 1 else words[0]) if words else "none"


def _phrase(key: str, own: Any, study: Any) -> str:
    """One changed setting in the report's words (parameter names stay out of the prose)."""
    if key == "seed_sweep":
        return "no extra training seed" if not own else f"extra seeds {_listed(own)}"
    if key in ("pgd_steps", "apgd_steps"):
        attack = "PGD" if key == "pgd_steps" else "APGD"
        return f"no {attack}" if own <= 0 else f"{own} {attack} steps (the study's {study})"
    if key == "sensitivity_amounts":
        return "no per-layer sensitivity scan" if not own else f"per-layer sensitivity at {_listed(own)}"
    if key in MERGED:
        what = {"compression_targets": "targets", "compression_budgets": "fine-tuning",
                "compression_settings": "settings"}[key]
        return f"{what} " + "; ".join(f"{m} {_words(v)}" for m, v in own.items() if study.get(m) != v)
    what = {"compression_methods": "compression methods", "whitebox_methods": "methods attacked white-box again:"}[key]
    return f"{what} {_listed(own)} (the study's {_listed(study)})"


def differences(params: Mapping[str, Any], keys: tuple[str, ...] = OVERRIDABLE) -> list[str]:
    """One phrase per model of `models` whose overrides change one of `keys`: 'EffNetL0-full: 10
    PGD steps (the study's 40), ...'; [] when every model runs the study's settings."""
    phrases = []
    for model, own in params.get("model_overrides", {}).items():
        if model not in params.get("models", [model]):
            continue
        changed = [_phrase(k, own[k], params[k]) for k in OVERRIDABLE  # a fixed order, whatever the file's
                   if k in own and k in keys and k in params and for_model(params, model)[k] != params[k]]
        if changed:
            phrases.append(f"{model}: " + ", ".join(changed))
    return phrases


def differences_sentence(params: Mapping[str, Any], keys: tuple[str, ...] = OVERRIDABLE) -> str:
    """A sentence stating the unequal settings, or '' when there are none."""
    phrases = differences(params, keys)
    if not phrases:
        return ""
    return ("Not every model gets the same settings here (chosen for time, in the parameter file): "
            + "; ".join(phrases) + ". Compare these models' figures with that in mind.")


def _words(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_words(v)}" for k, v in value.items())
    if isinstance(value, list):
        return _listed(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def check(value: Any, source: str) -> None:
    """Each entry maps a model to overrides of OVERRIDABLE parameters, each valid as that parameter;
    (a per-model `seed_sweep` is [] or the study's: `training_seeds.swept_models` checks it)."""
    for model, own in value.items():
        where = f"{source}: model_overrides['{model}']"
        if not isinstance(own, dict):
            raise ParameterError(f"{where} must be a mapping of parameter names to values, not {own!r}")
        wrong = [k for k in own if k not in OVERRIDABLE]
        if wrong:
            raise ParameterError(f"{where} sets {wrong}, which no model may set for itself; "
                                 f"allowed: {list(OVERRIDABLE)}")
        validate(own, where)
