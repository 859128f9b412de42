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
