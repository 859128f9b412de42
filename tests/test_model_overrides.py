"""model_overrides: one model's own settings, merged over the study's, checked, worded and planned."""
import pytest

import helpers.compression  # noqa: F401 (registers the compression parameters' checks)
import helpers.models  # noqa: F401 (registers the model-name checks)
from helpers.config import defaults
from helpers.config.model_overrides import differences, differences_sentence, for_model
from helpers.config.schema import ParameterError, validate
from helpers.pipeline import stage_work
from helpers.study.training_seeds import swept_models

OWN = {"EffNetL0-full": {"pgd_steps": 10, "seed_sweep": [], "compression_targets": {"global": [0.5]}}}


def test_per_method_settings_merge_method_by_method_over_the_studys():
    params = {**defaults(), "models": ["SimpleCNN", "EffNetL0-full"], "model_overrides": OWN,
              "compression_targets": {"global": [0.5, 0.9], "channel": [2.0, 4.0]}}
    assert for_model(params, "EffNetL0-full")["compression_targets"] == {"global": [0.5], "channel": [2.0, 4.0]}


def test_for_model_merges_a_models_own_settings_and_leaves_the_others():
    params = {**defaults(), "models": ["SimpleCNN", "EffNetL0-full"], "model_overrides": OWN}
    assert for_model(params, "SimpleCNN") is params
    own = for_model(params, "EffNetL0-full")
    assert own["pgd_steps"] == 10 and own["seed_sweep"] == [] and own["apgd_steps"] == params["apgd_steps"]
    assert params["pgd_steps"] == defaults()["pgd_steps"]  # the study's own value is untouched


def test_differences_name_each_changed_setting_with_the_studys_value():
    params = {**defaults(), "models": ["SimpleCNN", "EffNetL0-full"], "pgd_steps": 40, "model_overrides": OWN}
    assert differences(params, ("pgd_steps",)) == ["EffNetL0-full: 10 PGD steps (the study's 40)"]
    assert differences(params)[0] == ("EffNetL0-full: no extra training seed, 10 PGD steps (the study's 40), "
                                      "targets global 0.5")
    assert differences_sentence(params, ("apgd_steps",)) == ""
    same = {**params, "model_overrides": {"EffNetL0-full": {"pgd_steps": 40}}}
    assert differences(same) == []  # an override equal to the study's value is no difference


@pytest.mark.parametrize("value, message", [
    ({"NoSuchNet": {"pgd_steps": 1}}, "unknown models \\['NoSuchNet'\\]"),
    ({"SimpleCNN": {"epochs": 3}}, "sets \\['epochs'\\], which no model may set for itself"),
    ({"SimpleCNN": {"pgd_steps": "ten"}}, "'pgd_steps' in x: model_overrides\\['SimpleCNN'\\] is 'ten'"),
    ({"SimpleCNN": {"compression_methods": ["no_such_method"]}}, "unknown compression methods"),
    ({"SimpleCNN": [1]}, "must be a mapping"),
])
def test_bad_overrides_are_refused_naming_the_model_and_parameter(value, message):
    with pytest.raises(ParameterError, match=message):
        validate({"model_overrides": value}, "x")


def test_the_seed_sweep_leaves_out_a_model_that_opts_out_and_refuses_other_seeds():
    params = {**defaults(), "models": ["SimpleCNN", "EffNetL0-full"], "training_only_models": ["TwoConvCNN"],
              "seed_sweep": [1], "model_overrides": OWN}
    assert swept_models(params) == ["SimpleCNN", "TwoConvCNN"]
    with pytest.raises(ParameterError, match="a model's own seed_sweep is \\[\\] or the study's \\[1\\]"):
        swept_models({**params, "model_overrides": {"SimpleCNN": {"seed_sweep": [2]}}})


def test_the_plan_counts_each_models_own_attack_steps_and_compression_points():
    params = {**defaults(), "models": ["SimpleCNN", "ResNetSmall"], "attacks": ["pgd"], "pgd_steps": 40,
              "apgd_steps": 0, "compression_methods": ["global"], "compression_targets": {"global": [0.5, 0.9]},
              "model_overrides": {"ResNetSmall": {"pgd_steps": 10, "compression_targets": {"global": [0.5]},
                                                  "sensitivity_amounts": []}}}
    sizes = stage_work.Sizes(train=100, selection=20, valid=50, attacked=50, classes=10, test=0)
    units = {w.model: w.units for w in stage_work.b1(params, sizes, {})}
    assert units["SimpleCNN"] == 4 * units["ResNetSmall"]
    c1 = [w.what for w in stage_work.c1(params, sizes, {})]
    assert sum("ResNetSmall global" in w and "accuracy" in w for w in c1) == 1
    assert sum("SimpleCNN global" in w and "accuracy" in w for w in c1) == 2
    assert not any("ResNetSmall: layer sensitivity" in w for w in c1)
