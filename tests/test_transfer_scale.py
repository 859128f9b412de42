"""B2: what a target computing coarser than the grid sees of a perturbation (cell means)."""
import torch

import helpers.models  # noqa: F401 (registers the models)
from helpers.study.transfer import FixedSets
from helpers.study.transfer_scale import seen_perturbation, seen_sentence, with_seen

EPS = 0.03


def _blob(delta: torch.Tensor) -> dict:
    images = torch.full((2, 3, 128, 128), 128, dtype=torch.uint8)
    return {"images": images, "attacks": {"pgd.untargeted.eps0.03": {"x_adv": images.float() / 255 + delta}}}


def test_a_perturbation_alternating_within_cells_averages_away_for_a_32px_model():
    checker = (torch.arange(128)[:, None] + torch.arange(128)[None, :]) % 2 * 2 - 1  # ±1, alternating pixels
    fine = EPS * checker.float().expand(2, 3, 128, 128)
    coarse = torch.full((2, 3, 128, 128), -EPS)
    fixed = FixedSets({"SimpleCNN": None, "EffNetL0-full": None}, {"EffNetL0-full": _blob(fine), "SimpleCNN": _blob(coarse)},
                      None, None, [])
    seen = seen_perturbation(fixed, "pgd", EPS).set_index(["source", "target"]).linf_seen
    assert seen["EffNetL0-full", "SimpleCNN"] < 1e-5            # the 4×4 means cancel
    assert abs(seen["EffNetL0-full", "EffNetL0-full"] - 1) < 1e-4  # computed on the grid itself
    assert abs(seen["SimpleCNN", "SimpleCNN"] - 1) < 1e-4          # a constant shift survives the means
    text = seen_sentence(seen_perturbation(fixed, "pgd", EPS), "pgd", EPS)
    assert "SimpleCNN computes at 32 px, on the means of 4×4 cells of the 128 px grid" in text
    assert "0.00 ε from EffNetL0-full and 1.00 ε from SimpleCNN" in text
    assert with_seen({"a": 1}, seen_perturbation(fixed, "pgd", EPS))["seen_perturbation"][0]["source"] == "EffNetL0-full"


def test_nothing_is_said_when_every_model_computes_on_the_grid():
    fixed = FixedSets({"EffNetL0-full": None}, {"EffNetL0-full": _blob(torch.zeros(2, 3, 128, 128))}, None, None, [])
    assert seen_sentence(seen_perturbation(fixed, "pgd", EPS), "pgd", EPS) == ""
