"""B1's study helpers on fixed logits and a tiny untrained model (seconds)."""
import pytest
import torch

from helpers.attacks.base import Attack
from helpers.attacks.fgsm import FGSM
from helpers.attacks.pgd import PGD
from helpers.core.layout import RunLayout
from helpers.robustness import AttackRun, load_adversarial_set, run_attack, statistics
from helpers.study import adversarial, adversarial_figures, attack_checks
from tests.conftest import model_and_own_labels

CLASSES = ["a", "b", "c"]
N = 6
LABELS = torch.tensor([0, 1, 2, 0, 1, 2])
IMAGES = torch.full((N, 3, 4, 4), 100, dtype=torch.uint8)


def onehot(preds):
    return torch.eye(3)[torch.tensor(preds)] * 5


class Wider(Attack):
    """An attack that claims to beat one that is not run."""
    name, title, at_least_as_strong_as = "wider", "WIDER", "bim"

    def __call__(self, model, x, y, eps, *, target=None, generator=None, stop_on_success=False):
        raise NotImplementedError


def fixed_grid(tmp_path=None, *, pgd_fooled=(1, 2, 0, 1, 2, 0), fgsm_fooled=(1, 1, 2, 0, 1, 2), delta=0.01,
               eps_grid=(0.03, 0.1), clean=tuple(LABELS.tolist())):
    """A Grid of fixed logits: the model gets every clean input right; PGD and FGSM predict the
    given classes on the adversarial inputs (untargeted and targeted at class 1 alike)."""
    x_adv = IMAGES.float() / 255 + delta
    setup = adversarial.Setup({"M": None}, {}, {"fgsm": FGSM(), "pgd": PGD(steps=4)}, CLASSES, 1, IMAGES, LABELS,
                              list(eps_grid), sha256={"M": "0" * 64})
    runs, rows = {}, []
    for attack, preds in (("fgsm", fgsm_fooled), ("pgd", pgd_fooled)):
        for goal, target in setup.goals.items():
            for eps in eps_grid:
                run = AttackRun(attack, eps, target, x_adv, onehot(list(clean)), onehot(list(preds)),
                                torch.full((N,), 2 if attack == "pgd" else 1), setup.attacks[attack].iterative)
                runs["M", attack, goal, eps] = run
                rows.append({"model": "M", "attack": attack, "goal": goal, "eps": eps,
                             **statistics(run, IMAGES, LABELS), "seconds": 0.0})
    return adversarial.Grid(setup, runs, rows, 1.0)


def test_parameters_are_checked_by_name():
    assert adversarial.check_parameters(CLASSES, "b", [0.03, 0.1], 0.03) == 1
    with pytest.raises(ValueError, match="'target_class' is 'z'"):
        adversarial.check_parameters(CLASSES, "z", [0.03], 0.03)
    with pytest.raises(ValueError, match="'attack_eps' must list budgets in \\(0, 1\\)"):
        adversarial.check_parameters(CLASSES, "a", [0.03, 1.0], 0.03)
    with pytest.raises(ValueError, match="'attack_eps'"):
        adversarial.check_parameters(CLASSES, "a", [], 0.03)
    with pytest.raises(ValueError, match="'example_eps' \\(0.05\\) must be one of attack_eps"):
        adversarial.check_parameters(CLASSES, "a", [0.03, 0.1], 0.05)


def test_sanity_checks_pass_and_name_what_they_checked():
    checks = attack_checks.sanity_checks(fixed_grid(), sanity_min_fooled=0.5)
    assert len(checks.passed) == 3 and checks.unmet == []
    assert checks.passed[0].startswith("‖δ‖∞ ≤ ε and x_adv ∈ [0, 1] for all 8 runs and 6 inputs each")
    assert checks.passed[1] == "PGD succeeds at least as often as FGSM for every model, goal and ε (4 comparisons)"
    # untargeted PGD fools all 6 inputs (each prediction differs from its label)
    assert checks.passed[2].endswith("of every model: M 6/6") and "at least 50%" in checks.passed[2]
    # without ε = 0.1 in the grid, that check is not made
    assert len(attack_checks.sanity_checks(fixed_grid(eps_grid=(0.03,)), 0.5).passed) == 2
    assert checks.text().startswith("- passed: ‖δ‖∞ ≤ ε")


def test_sanity_check_raises_when_a_run_exceeds_its_budget():
    with pytest.raises(AssertionError, match="M fgsm untargeted ε=0.03: ‖δ‖∞ > ε"):
        attack_checks.sanity_checks(fixed_grid(delta=0.05), 0.5)


def test_a_stronger_attack_that_fools_fewer_is_reported_not_asserted():
    # PGD leaves every prediction right (no success), FGSM fools some inputs: healthy code can do this
    # (a one-epoch model, 5 PGD steps), so the run goes on and the report says it
    checks = attack_checks.sanity_checks(fixed_grid(pgd_fooled=tuple(LABELS.tolist())), 0.5)
    assert len(checks.unmet) == 2 and "PGD fooled 0 inputs, FGSM" in checks.unmet[0]
    assert checks.unmet[0].startswith("PGD is expected to succeed at least as often as FGSM; it did not in")
    assert checks.text().startswith("- **expectation not met**: PGD is expected")


def test_pgd_fooling_too_few_at_the_largest_budget_is_reported():
    grid = fixed_grid(pgd_fooled=(1, 2, 0, 0, 1, 2), fgsm_fooled=(0, 1, 2, 0, 1, 2))  # PGD fools 3 of 6
    checks = attack_checks.sanity_checks(grid, 0.9)
    assert checks.unmet == ["untargeted PGD at ε = 0.1 fools at least 90% of correctly classified inputs of every "
                            "model: M only 50% (M 3/6)"]


def test_strength_pairs_only_pair_attacks_with_a_registered_partner_that_ran():
    assert attack_checks.strength_pairs({"fgsm": FGSM(), "pgd": PGD()}) == [("pgd", "fgsm")]
    assert attack_checks.strength_pairs({"pgd": PGD()}) == []
    assert attack_checks.strength_pairs({"fgsm": FGSM(), "pgd": PGD(), "wider": Wider()}) == [("pgd", "fgsm")]


def test_run_grid_keeps_the_old_order_and_seeds():
    model, images, labels = model_and_own_labels(5)
    pgd = PGD(steps=2)
    setup = adversarial.Setup({"M": model}, {}, {"fgsm": FGSM(), "pgd": pgd}, CLASSES, 1, images, labels, [0.03, 0.1])
    grid = adversarial.run_grid(setup, seed=7)
    assert [(r["attack"], r["goal"], r["eps"]) for r in grid.rows] == [
        (a, g, e) for a in ("fgsm", "pgd") for g in ("untargeted", "targeted") for e in (0.03, 0.1)]
    alone = run_attack(model, images, labels, pgd, 0.1, target=1, seed=7)
    assert torch.equal(grid.runs["M", "pgd", "targeted", 0.1].x_adv, alone.x_adv)
    summary = adversarial.metrics(grid, adversarial_figures.settings_table(setup, 7, 0.03), attack_checks.Checks(), 0.05)["summary"]
    assert set(summary["M"]["pgd"]["targeted"]["eps0.1"]) == set(adversarial.SUMMARY_KEYS)
    assert "iterations_mean" not in summary["M"]["fgsm"]["untargeted"]["eps0.03"]
    assert summary["attack_s"] == grid.seconds > 0


def test_settings_describe_each_attack_and_the_checkpoints():
    settings = dict(zip(*adversarial_figures.settings_table(fixed_grid().setup, 0, 0.03).T.values))
    assert settings["FGSM"] == FGSM().describe() and settings["PGD"] == PGD(steps=4).describe()
    assert settings["PGD step α"] == "ε / 3 (α = 0.01 at ε = 0.03)"
    assert settings["target class"] == "b (index 1)"


def test_reading_compares_the_attacks_that_ran():
    text = adversarial.reading(fixed_grid(), 0.03, 0.2, 0.05)
    assert ("PGD fools 6/6 (1.00 [0.61, 1.00]) of the correctly classified inputs and sends 2/4 (0.50 [0.15, 0.85]) of "
            "the eligible inputs to b; FGSM manages 1/6 and 1/4.") in text
    assert "robust accuracy under untargeted PGD at ε = 0.03, over all 6 validation images, is 0.00 [0.00, 0.39]" in text
    # 6 inputs: 5 fooled by PGD only is the most a pair can show, and McNemar's p = 0.0625 resolves nothing
    assert "Iterating pays" not in text
    # 6 fooled against 2 sent to b: 4 discordant images, p = 0.125, so the claim that targeted attacks are harder is not made
    assert "image by image (McNemar), none of the 2 comparisons is resolved, so no single difference is established." in text
    assert "Targeted attacks are harder" not in text
    only_pgd = fixed_grid()
    only_pgd.setup.attacks.pop("fgsm")
    assert "FGSM" not in adversarial.reading(only_pgd, 0.03, 0.2, 0.05)


def test_tables_give_each_rate_with_its_interval_and_denominator():
    success = adversarial_figures.success_table(fixed_grid()).set_index("attack")
    assert success.loc["PGD targeted", "n"] == 4 and success.loc["PGD targeted", "ε = 0.1"] == "0.50 [0.15, 0.85]"
    robust = adversarial_figures.robust_table(fixed_grid()).set_index("attack")
    assert robust.loc["FGSM untargeted", "n"] == 6 and "clean" not in robust.columns
    assert adversarial_figures.clean_accuracies(fixed_grid()) == "M 1.00 [0.61, 1.00]"
    metrics = adversarial.metrics(fixed_grid(), adversarial_figures.settings_table(fixed_grid().setup, 0, 0.03), attack_checks.Checks(), 0.05)
    assert metrics["denominators"]["M.pgd.targeted.eps0.1.success_rate"] == 4
    assert metrics["denominators"]["M.pgd.targeted.eps0.1.robust_acc"] == 6 and metrics["summary"]["M"]["clean_acc"] == 1.0


def test_two_models_are_compared_only_where_the_paired_test_resolves_it():
    grid = fixed_grid()
    grid.setup.models = {"M": None, "N": None}
    grid.by = grid.by.copy()
    robust = {"M": "1" * 36 + "0" * 4, "N": "1" * 4 + "0" * 36}  # 32 images robust only for M
    grid.value = lambda m, a, g, e, c: {"robust_acc": robust[m].count("1") / len(robust[m]), "robust": robust[m]}.get(c, 0.5)  # noqa: E731
    grid.setup.labels = torch.zeros(40)
    assert ": M is the more robust of the two at this budget." in adversarial._two_models(grid, "pgd", 0.03, 0.2, 0.05)
    robust = {"M": "11" + "0" * 8, "N": "1" + "0" * 9}
    grid.setup.labels = torch.zeros(10)
    text = adversarial._two_models(grid, "pgd", 0.03, 0.3, 0.05)
    assert "(difference +0.10 [+0.00, +0.30], 1 against 0 discordant images, McNemar p = 1)" in text
    assert "the difference is not resolved, so the data do not show which model is more robust" in text
    assert text.endswith("Both stay below 30% robust accuracy: neither model is secure against a white-box attacker "
                         "at this budget.")


def test_examples_take_one_input_per_class_first():
    run = AttackRun("pgd", 0.03, None, IMAGES.float(), onehot([0, 1, 0, 0, 1, 2]), onehot([0] * 6), torch.zeros(6))
    # eligible (clean prediction right): 0, 1, 3, 4, 5 -> one per class first: 0 (a), 1 (b), 5 (c), then 3, 4
    assert adversarial_figures.example_indices(run, LABELS, "untargeted", 1) == [0, 1, 5, 3, 4]
    # targeted at b: inputs labelled b are not eligible
    assert adversarial_figures.example_indices(run, LABELS, "targeted", 1) == [0, 5, 3]


def test_fixed_sets_are_saved_with_every_run_and_their_attacks(tmp_path):
    grid = fixed_grid()
    params = {"seed": 0, "pgd_steps": 4, "pgd_step_divisor": 3.0}
    saved = adversarial.save_fixed_sets(grid, RunLayout(tmp_path, tmp_path / "figures"), params)
    assert saved["file"].tolist() == ["adversarial/M.pt"] and saved["attacks"].tolist() == [8]
    blob = load_adversarial_set(tmp_path / "adversarial" / "M.pt")
    assert list(blob["attacks"])[:2] == ["fgsm.untargeted.eps0.03", "fgsm.untargeted.eps0.1"]
    assert blob["metadata"]["attacks"] == ["fgsm", "pgd"] and blob["metadata"]["target_class"] == "b"


def test_iteration_figures_cover_the_iterative_attacks_only():
    grid = fixed_grid()
    shown = adversarial_figures.iteration_figures(grid, 0.03)
    assert [what for _, what, _ in shown] == ["pgd_iterations"]
    assert shown[0][2].endswith("ε = 0.03, 4 iterations.")
    tables = adversarial_figures.iteration_tables(grid)
    assert [(caption, label) for caption, _, label in tables] == [
        ("Mean PGD iteration of first success among the fooled inputs.", "pgd_iterations")]
    assert "[Figure](#fig:B1_pgd_iterations)" in adversarial_figures.iteration_text(grid, 0.03)
    # untargeted PGD fools every input at iteration 2
    assert tables[0][1].set_index("goal").loc["untargeted", "ε = 0.03"] == 2.0


def test_attack_types_without_an_eligible_input_are_named_instead_of_drawn():
    grid = fixed_grid(clean=(1, 2, 0, 1, 2, 0))  # every clean input wrong: nothing is eligible
    shown, missing = adversarial_figures.example_figures(grid, 0.03, 4)
    assert shown == [] and missing.split("\n") == [
        f"- {a} {g}: no eligible input, so no example to show." for a in ("FGSM", "PGD") for g in ("untargeted", "targeted")]


def test_examples_are_split_three_to_a_figure_and_referenced():
    model, images, labels = model_and_own_labels(7)
    setup = adversarial.Setup({"M": model}, {}, {"pgd": PGD(steps=2)}, CLASSES, 1, images, labels, [0.03])
    grid = adversarial.run_grid(setup, seed=0)
    shown, text = adversarial_figures.example_figures(grid, 0.03, 5)
    assert [what for _, what, _ in shown[:2]] == ["examples_pgd_untargeted_1", "examples_pgd_untargeted_2"]
    assert "examples 4 to 5 of 5" in shown[1][2] and ".png" not in shown[1][2]
    assert "- PGD untargeted: 5 examples, [Figure](#fig:B1_examples_pgd_untargeted_1), " in text
    width, height = shown[0][0].get_size_inches()
    assert width <= 6.1 and height <= 6.7  # printed at its natural size (at most 6.2 in): the text stays at 7.5 pt
