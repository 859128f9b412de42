"""McNemar's exact test on the discordant images of two models."""
import pytest
import torch

from helpers.evaluation.paired import describe, mcnemar


def test_mcnemar_counts_the_discordant_images_and_gives_the_exact_binomial_p():
    a = torch.tensor([True] * 10 + [False] * 10)
    b = torch.tensor([True] * 9 + [False] + [True] * 9 + [False])  # A alone right on 1, B alone on 9
    r = mcnemar(a, b)
    assert (r["n"], r["only_a"], r["only_b"]) == (20, 1, 9) and r["acc_a"] == 0.5 and r["acc_b"] == 0.9
    assert r["p_value"] == pytest.approx(2 * (1 + 10) / 2 ** 10)  # two-sided, Binomial(10, 1/2) at <= 1
    assert "resolved at the 0.05 level" in describe(r, "A", "B")
    same = mcnemar(a, a)
    assert same["p_value"] == 1.0 and "not resolved" in describe(same, "A", "A")


def test_mcnemar_refuses_different_images():
    with pytest.raises(ValueError, match="the same images"):
        mcnemar(torch.ones(3, dtype=torch.bool), torch.ones(4, dtype=torch.bool))


def test_paired_bootstrap_interval_of_the_difference_is_resolved_only_when_it_excludes_zero():
    from helpers.evaluation.paired import paired_bootstrap

    a = torch.tensor([True] * 10 + [False] * 10)
    b = torch.tensor([True] * 9 + [False] + [True] * 9 + [False])  # B alone right on 9 images, A on 1
    r = paired_bootstrap(a, b, n_resamples=2000)
    assert r["difference"] == pytest.approx(-0.4) and r["ci_low"] < -0.4 < r["ci_high"] < 0 and r["resolved"]
    assert paired_bootstrap(a, b, n_resamples=2000) == r  # seeded: the same interval again
    swapped = paired_bootstrap(b, a, n_resamples=2000)
    assert swapped["difference"] == pytest.approx(0.4) and swapped["ci_low"] > 0
    tie = paired_bootstrap(a, torch.cat([a[10:], a[:10]]), n_resamples=2000)  # 10 discordant each way
    assert tie["difference"] == 0 and tie["ci_low"] < 0 < tie["ci_high"] and not tie["resolved"]
    same = paired_bootstrap(a, a)
    assert (same["ci_low"], same["ci_high"], same["resolved"]) == (0.0, 0.0, False)
    with pytest.raises(ValueError, match="same images"):
        paired_bootstrap(a, a[:5])


def test_outcomes_travel_as_strings_and_compare_names_the_resolved_side():
    from helpers.evaluation.paired import as_summary, compare, decode, encode, evidence, verdict

    a = torch.tensor([True] * 12 + [False] * 8)
    assert encode(a) == "1" * 12 + "0" * 8 and torch.equal(decode(encode(a)), a)
    with pytest.raises(ValueError, match="only '0' and '1'"):
        decode("01x")
    r = compare(encode(a), "0" * 20)  # 12 images right only for A: p = 0.0005
    assert r["better"] == "a" and verdict(r, "better", "worse") == "better"
    assert evidence(r) == "difference +0.60 [+0.40, +0.80], 12 against 0 discordant images, McNemar p = 0.00049"
    assert compare("0" * 20, encode(a))["better"] == "b"
    close = compare("1" * 3 + "0" * 17, "0" * 20)  # 3 discordant: p = 0.25
    assert close["better"] is None and verdict(close, "better", "worse") == "not resolved"
    assert compare(encode(a), "0" * 20, alpha=0.0)["better"] is None  # alpha 0 resolves nothing
    assert as_summary(r)["resolved"] == "a" and as_summary(close)["resolved"] == ""


def test_choices_act_on_resolved_differences_and_fall_back_to_the_tie_break():
    from helpers.evaluation.paired import best_resolved
    from helpers.training.selection import earliest_unresolved

    outcomes = {"big": "1" * 16 + "0" * 4, "small": "1" * 13 + "0" * 7, "bad": "1" * 2 + "0" * 18}
    size = {"big": 10, "small": 1, "bad": 0}
    choice, tied, tests = best_resolved(outcomes, 0.05, lambda k: size[k])
    assert choice == "small" and tied == ["big", "small"] and tests["bad"]["better"] == "b"
    history = [{"epoch": 1, "select_score": 0.65, "select_outcome": outcomes["small"]},
               {"epoch": 2, "select_score": 0.8, "select_outcome": outcomes["big"]},
               {"epoch": 3, "select_score": 0.1, "select_outcome": outcomes["bad"]}]
    assert earliest_unresolved(history, 0.05) == 1  # 3 images apart from the best: the earliest epoch is kept
    assert earliest_unresolved(history[1:], 0.05) == 2
    assert earliest_unresolved(history, 0.0) == 1


def test_the_outcome_bootstrap_draws_the_same_interval_as_resampling_images():
    """Multinomial counts of the three kinds of pair give the interval scipy's paired bootstrap gives
    (up to Monte Carlo error), without touching every image in every resample."""
    from helpers.evaluation.paired import paired_bootstrap, paired_bootstrap_outcomes
    g = torch.Generator().manual_seed(3)
    a = torch.rand(2000, generator=g) < 0.8
    b = torch.where(torch.rand(2000, generator=g) < 0.1, ~a, a)
    slow, fast = paired_bootstrap(a, b, n_resamples=4000), paired_bootstrap_outcomes(a, b, n_resamples=4000)
    assert fast["difference"] == pytest.approx(slow["difference"])
    assert fast["ci_low"] == pytest.approx(slow["ci_low"], abs=0.003)
    assert fast["ci_high"] == pytest.approx(slow["ci_high"], abs=0.003)
    assert paired_bootstrap_outcomes(a, a)["ci_low"] == 0.0
    assert paired_bootstrap_outcomes(a, ~a)["ci_low"] > 0  # A right on about 80 %, B on 20 %: resolved


def test_difference_words_show_a_tenth_of_a_point_where_the_interval_is_narrow():
    from helpers.evaluation.paired import difference_words

    assert difference_words(-0.0011, -0.0042, 0.0020) == "difference -0.001 [-0.004, +0.002]"
    assert difference_words(0.04, -0.06, 0.14) == "difference +0.04 [-0.06, +0.14]"


def test_what_one_image_is_worth_reads_right_on_a_large_split():
    from helpers.study.compression_analysis import paired_sentence

    large = paired_sentence({"M": (None, {"acc": 0.9147, "n": 10_000})}, 0.05)
    assert "the same 10,000 validation images (one image is 0.01 points;" in large
    assert "(one image is 2 points;" in paired_sentence({"M": (None, {"acc": 0.8, "n": 50})}, 0.05)
