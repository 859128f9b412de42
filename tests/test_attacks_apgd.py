"""APGD-CE and APGD-DLR (helpers.attacks.apgd, through torchattacks) and the stronger evaluation
beside PGD (helpers.study.strong_attacks), on an untrained SimpleCNN with its own labels."""
import subprocess
import sys

import pytest
import torch

from helpers.attacks.apgd import apgd
from helpers.core.files import ROOT
from helpers.models import build_model
from helpers.report.summary import flatten, missing_intervals, with_intervals
from helpers.robustness import worst_case_pgd
from helpers.study import strong_attacks
from tests.conftest import model_and_own_labels

EPS = 0.01


@pytest.fixture(scope="module")
def setup():
    """16 images of 16 px that the model classifies correctly, 5 classes: at ε 0.01 PGD-10 leaves
    11 of them and APGD-DLR fools 3 of those (measured)."""
    model, images, labels = model_and_own_labels(16, classes=5, size=16)
    return model, images, labels, images.float() / 255


def _robust(result):
    return result.first_success < 0


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_apgd_stays_in_the_ball_and_the_pixel_range_and_leaves_the_model_alone(setup, loss):
    model, _, labels, x = setup
    model.train()  # the attack must switch to eval and back
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    result = apgd(model, x, labels, EPS, loss=loss, steps=10)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model.eval()
    assert torch.equal(torch.get_rng_state(), rng)  # torchattacks reseeds the global generator: restored
    assert (result.x_adv - x).abs().max() <= EPS + 1e-6 and result.x_adv.min() >= 0 and result.x_adv.max() <= 1
    fooled = result.first_success > 0
    assert (result.adv_logits[fooled].argmax(1) != labels[fooled]).all()  # a fooled input comes with its iterate
    assert torch.equal(result.x_adv[~fooled], x[~fooled])


def test_apgd_is_at_least_as_strong_as_pgd_here_and_never_calls_a_misclassified_input_robust(setup):
    model, images, labels, x = setup
    pgd_robust = worst_case_pgd(model, images, labels, EPS, alpha=EPS / 3, steps=10, restarts=1)
    ce, dlr = (_robust(apgd(model, x, labels, EPS, loss=loss, steps=10)) for loss in ("ce", "dlr"))
    assert not (ce & ~pgd_robust).any() and not (dlr & ~pgd_robust).any()
    assert int((pgd_robust & ~(ce & dlr)).sum()) >= 1  # images PGD leaves and APGD fools
    wrong = (labels + 1) % 5  # labels the model gets wrong on the clean inputs
    result = apgd(model, x, wrong, EPS, loss="ce", steps=5)
    assert (result.first_success == 0).all() and not _robust(result).any()


@pytest.mark.parametrize("loss", ["ce", "dlr"])
def test_apgd_is_reproducible_with_its_seed_and_runs_in_fp32_under_bf16_autocast(setup, loss):
    model, _, labels, x = setup
    first = apgd(model, x, labels, EPS, loss=loss, steps=10, seed=3)
    again = apgd(model, x, labels, EPS, loss=loss, steps=10, seed=3)
    assert torch.equal(first.x_adv, again.x_adv) and torch.equal(first.first_success, again.first_success)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = apgd(model, x, labels, EPS, loss=loss, steps=10, seed=3)
    assert under_autocast.adv_logits.dtype == torch.float32
    assert torch.equal(first.x_adv, under_autocast.x_adv)


def test_dlr_needs_three_classes_and_the_loss_must_be_known():
    torch.manual_seed(0)
    model = build_model("SimpleCNN", num_classes=2).eval()
    x, y = torch.rand(2, 3, 16, 16), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="at least 3 classes.*has 2"):
        apgd(model, x, y, EPS, loss="dlr", steps=2)
    apgd(model, x, y, EPS, loss="ce", steps=2)  # CE works on two classes
    with pytest.raises(ValueError, match="loss must be one of"):
        apgd(model, x, y, EPS, loss="hinge", steps=2)


def test_importing_the_study_does_not_import_torchattacks():
    code = ("import sys, helpers.attacks, helpers.study.strong_attacks; "
            "helpers.attacks.attack_names(); assert 'torchattacks' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_apgd_is_no_registered_attack_so_the_default_grids_keep_fgsm_and_pgd():
    from helpers.attacks import attack_names
    from helpers.config.schema import defaults
    assert not any("apgd" in name for name in attack_names())
    assert defaults()["attacks"] == ["fgsm", "pgd"]


def test_strong_evaluation_table_sentence_and_metrics(setup):
    model, images, labels, _ = setup
    params = {"defense_eps": EPS, "apgd_steps": 10, "seed": 0, "defense_eval_steps": 10, "defense_restarts": 1,
              "pgd_step_divisor": 3.0}
    ev = strong_attacks.for_defense("Net", {"standard": model}, images, labels, params, torch.device("cpu"))
    (o,) = ev.outcomes
    r = o.robust
    assert o.n == 16 and r["clean"].all() and torch.equal(r["worst"], r["pgd"] & r["apgd_ce"] & r["apgd_dlr"])
    k = int((r["pgd"] & ~r["worst"]).sum())
    assert k >= 1 and o.test["only_a"] == k and o.test["only_b"] == 0
    row = strong_attacks.table(ev).iloc[0]
    assert row["PGD-10"].startswith(f"{o.rate('pgd'):.2f} [") and row["only APGD"] == k
    text = strong_attacks.paragraph(ev)
    assert f"from {o.rate('pgd'):.2f}" in text and f"to {o.rate('worst'):.2f}" in text and f"({k} images fooled" in text
    merged = strong_attacks.merged({"summary": {"Net": {"clean_acc": 1.0}}, "denominators": {"*clean_acc": 16}}, ev)
    flat = with_intervals(flatten(merged["summary"]), merged["denominators"], "test")
    key = "strong_attacks.Net.standard.eps0.01"
    assert flat[f"{key}.worst.robust_acc"] == o.rate("worst") and flat[f"{key}.n"] == 16
    assert flat[f"{key}.apgd_dlr.robust_acc.n"] == 16 and flat["Net.clean_acc"] == 1.0
    assert not missing_intervals(flat)
    params["apgd_steps"] = 0
    skipped = strong_attacks.for_defense("Net", {"standard": model}, images, labels, params, torch.device("cpu"))
    assert not skipped.outcomes and strong_attacks.table(skipped).empty
    assert "skipped" in strong_attacks.paragraph(skipped)


def test_b1_reuses_the_grids_pgd_run(setup):
    from helpers.attacks.pgd import PGD
    from helpers.study import adversarial
    model, images, labels, _ = setup
    attack_setup = adversarial.Setup({"Net": model}, {}, {"pgd": PGD(steps=5, step_divisor=3.0)}, list("abcde"), 0,
                                     images, labels, [EPS, 0.03])
    grid = adversarial.run_grid(attack_setup, seed=0)
    params = {"example_eps": 0.03, "attack_eps": [EPS, 0.03], "robustness_eps": 0.0, "apgd_steps": 5, "seed": 0,
              "pgd_steps": 5, "pgd_step_divisor": 3.0}
    ev = strong_attacks.for_grid(grid, params)
    assert [o.eps for o in ev.outcomes] == [EPS, 0.03] and ev.pgd_title == "PGD-5"
    for o in ev.outcomes:
        assert o.rate("pgd") == grid.value("Net", "pgd", "untargeted", o.eps, "robust_acc")


@pytest.mark.parametrize("robustness_eps", [0.0, 0.05])
def test_b1_budgets_are_the_example_eps_and_c2s_robustness_eps(robustness_eps):
    from helpers.study.robustness_discussion import rule_eps
    params = {"example_eps": 0.03, "attack_eps": [0.01, 0.03, 0.05], "robustness_eps": robustness_eps}
    assert strong_attacks.strong_eps(params) == sorted({0.03, rule_eps(params)})
    with pytest.raises(ValueError, match="not in the attacked grid"):
        strong_attacks.strong_eps({**params, "robustness_eps": 0.02})
