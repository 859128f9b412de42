"""A2's reading of the transfer-learning regimes and of the pixel grid, from given results."""
import helpers.models  # noqa: F401 (registers the models)
from helpers.study.transfer_learning import grid_text, pretrained, regimes_text

N = {"train": 1443, "selection": 150, "valid": 50}


def _row(select, val, params, trained, seconds, features=None):
    return {"select_acc": select, "val_acc": val, "params": params, "trained_params": trained,
            "total_train_s": seconds, **({"features_s": features} if features else {})}


HEADLINE = {"SimpleCNN": _row(108 / 150, 35 / 50, 620_362, 620_362, 50),
            "EffNetL0-full": _row(144 / 150, 49 / 50, 3_383_818, 3_383_818, 236),
            "EffNetL0-frozen": _row(133 / 150, 47 / 50, 3_383_818, 12_810, 24, 23),
            "EffNetL0-frozen-32px": _row(110 / 150, 39 / 50, 3_383_818, 12_810, 25, 24)}


def _test(only_a, only_b, p, resolved):
    diff = (only_a - only_b) / 150
    return {"selection": {"only_a": only_a, "only_b": only_b, "p_value": p, "resolved": resolved,
                          "difference": diff, "diff_low": diff - 0.03, "diff_high": diff + 0.03}}


PAIRS = {"EffNetL0-full_vs_EffNetL0-frozen": _test(14, 3, 0.013, True),
         "EffNetL0-full_vs_SimpleCNN": _test(40, 4, 1e-8, True),
         "EffNetL0-frozen_vs_SimpleCNN": _test(30, 5, 1e-5, True),
         "EffNetL0-frozen_vs_EffNetL0-frozen-32px": _test(28, 5, 6.6e-5, True)}


def test_regimes_are_read_fewest_trained_parameters_first_with_paired_verdicts():
    text = regimes_text(HEADLINE, PAIRS, N)
    assert text.index("**EffNetL0-frozen**") < text.index("**EffNetL0-full**")
    assert "trains 12,810 of its 3,383,818 parameters, 24 s of training (23 s of it computing" in text
    assert "EffNetL0-full is resolved more accurate than EffNetL0-frozen (14 selection images right only for " \
           "EffNetL0-full, 3 only for EffNetL0-frozen" in text
    assert "EffNetL0-frozen is resolved more accurate than SimpleCNN" in text
    assert "EffNetL0-frozen-32px**" not in text  # the grid's control is read in grid_text
    unresolved = {**PAIRS, "EffNetL0-full_vs_EffNetL0-frozen": _test(5, 3, 0.73, False)}
    assert "EffNetL0-full against EffNetL0-frozen: not resolved" in regimes_text(HEADLINE, unresolved, N)


def test_a_study_without_pretrained_models_or_resizing_has_nothing_to_say():
    """Empty texts, so that the report leaves the section out (`report.pdf.drop_empty_sections`)."""
    assert pretrained(["SimpleCNN", "LeNet5"]) == []
    assert regimes_text({"SimpleCNN": HEADLINE["SimpleCNN"]}, {}, N) == ""
    assert grid_text({"SimpleCNN": HEADLINE["SimpleCNN"]}, {}, N, 32) == ""  # computes at the grid's size
    assert "SimpleCNN 32 px" in grid_text({"SimpleCNN": HEADLINE["SimpleCNN"]}, {}, N, 64)


def test_the_grid_control_is_compared_with_the_same_regime_on_the_full_grid():
    text = grid_text(HEADLINE, PAIRS, N, 128)
    assert "same 128 px grid" in text and "EffNetL0-full 128 px" in text and "SimpleCNN 32 px" in text
    assert "**EffNetL0-frozen-32px** is EffNetL0-frozen shown the grid shrunk to 32 px" in text
    assert "EffNetL0-frozen is resolved more accurate than EffNetL0-frozen-32px (28 selection images" in text
    assert "coarser than" in grid_text({"SimpleCNN": HEADLINE["SimpleCNN"], "EffNetL0-full": HEADLINE["EffNetL0-full"]},
                                       {}, N, 32)
