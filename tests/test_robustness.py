import pytest
import torch

from helpers import robustness
from helpers.attacks.fgsm import FGSM
from helpers.attacks.pgd import PGD

PGD5 = PGD(steps=5, step_divisor=5.0)  # α = 0.01 at ε = 0.05
from helpers.models import build_model
from tests.conftest import model_and_own_labels


def test_denominators_follow_the_definitions():
    labels = torch.tensor([0, 1, 2, 2, 1])
    images = torch.zeros(5, 3, 4, 4, dtype=torch.uint8)
    # clean predictions: correct, correct, correct, wrong, correct; adversarial: see below
    clean = torch.eye(3)[torch.tensor([0, 1, 2, 0, 1])] * 5
    adv = torch.eye(3)[torch.tensor([2, 1, 1, 0, 2])] * 5
    run = robustness.AttackRun("pgd", 0.03, None, images.float() / 255, clean, adv,
                               torch.tensor([3, -1, 7, 0, 1]), iterative=True)
    s = robustness.statistics(run, images, labels)
    assert s["n_eligible"] == 4 and s["n_success"] == 3 and s["success_rate"] == 0.75
    assert s["robust_acc"] == 0.2 and s["clean_acc"] == 0.8
    assert s["iterations"] == [3, 7, 1] and s["l2"] == 0.0
    # confidence of the wrong predictions: eligible inputs 0, 2, 4 are wrong, each at softmax([5, 0, 0])
    assert s["confidence_wrong"] == pytest.approx(torch.softmax(torch.tensor([5.0, 0, 0]), 0)[0].item())
    # image 3 is wrong clean and right under attack: not robust (robust = correct clean and attacked)
    lucky = robustness.AttackRun("pgd", 0.03, None, images.float() / 255, clean,
                                 torch.eye(3)[torch.tensor([2, 1, 1, 2, 2])] * 5, torch.tensor([3, -1, 7, 0, 1]))
    assert robustness.statistics(lucky, images, labels)["robust"] == "01000"
    targeted = robustness.AttackRun("fgsm", 0.03, 2, images.float() / 255, clean, adv, torch.zeros(5).long())
    t = robustness.statistics(targeted, images, labels)
    # eligible: correct and label != 2 -> images 0, 1, 4; success = predicted 2 -> images 0 and 4
    assert t["n_eligible"] == 3 and t["n_success"] == 2 and "iterations" not in t
    assert 0 < t["target_confidence"] <= 1


def test_run_attack_over_a_split_respects_the_budget():
    torch.manual_seed(0)
    model = build_model("SimpleCNN", num_classes=3).eval()
    images = torch.randint(0, 255, (10, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 3, (10,))
    run = robustness.run_attack(model, images, labels, PGD5, 0.05, batch_size=4)
    assert run.x_adv.shape == (10, 3, 32, 32) and run.adv_logits.shape == (10, 3)
    assert (run.x_adv - images.float() / 255).abs().max() <= 0.05 + 1e-6
    s = robustness.statistics(run, images, labels)
    assert s["linf"] is None or s["linf"] <= 0.05 + 1e-6
    again = robustness.run_attack(model, images, labels, PGD5, 0.05, batch_size=4)
    assert torch.equal(run.x_adv, again.x_adv)  # the seeded random start makes it reproducible


def test_transfer_counts_only_inputs_both_models_get_right():
    labels = torch.tensor([0, 1, 2, 1, 0])
    onehot = lambda p: torch.eye(3)[torch.tensor(p)] * 5  # noqa: E731
    src = robustness.AttackRun("pgd", 0.03, None, torch.zeros(5, 3, 4, 4), onehot([0, 1, 2, 1, 1]),
                               onehot([1, 2, 0, 1, 2]), torch.zeros(5).long())
    # target model: clean correct on 0, 1, 2, 4 (wrong on 3) -> eligible 0, 1, 2, 4 (input 3 is wrong on target)
    s = robustness.transfer_statistics(src, onehot([0, 1, 2, 0, 0]), onehot([0, 2, 1, 2, 0]), labels)
    # source fools 0, 1, 2, and 4 is already wrong on source -> not eligible; eligible = 0, 1, 2
    assert s["n_eligible"] == 3 and s["n_source_success"] == 3 and s["n_target_success"] == 2
    assert s["transfer_rate"] == 2 / 3 and s["transfer_given_source"] == 2 / 3
    tgt = robustness.AttackRun("pgd", 0.03, 2, src.x_adv, src.clean_logits, onehot([2, 2, 0, 1, 2]), src.first_success)
    t = robustness.transfer_statistics(tgt, onehot([0, 1, 2, 0, 0]), onehot([2, 0, 2, 2, 0]), labels)
    # eligible: 0 and 1 (2 has the target label); source hits the target on both, the target model on 0
    assert t["n_eligible"] == 2 and t["n_source_success"] == 2 and t["n_target_success"] == 1
    assert t["transfer_rate"] == 0.5


def test_the_conditional_rate_counts_only_successes_in_common():
    """The old ratio target successes / source successes is 1 here though no input fools both."""
    labels = torch.tensor([0, 1, 2, 0])
    onehot = lambda p: torch.eye(3)[torch.tensor(p)] * 5  # noqa: E731
    src = robustness.AttackRun("pgd", 0.03, None, torch.zeros(4, 3, 4, 4), onehot([0, 1, 2, 0]), onehot([1, 1, 2, 0]),
                               torch.zeros(4).long())
    s = robustness.transfer_statistics(src, onehot([0, 1, 2, 0]), onehot([0, 2, 2, 0]), labels)
    assert s["n_eligible"] == 4 and s["n_source_success"] == 1 and s["n_target_success"] == 1
    assert s["success_ratio"] == 1.0 and s["conditional_transfer_rate"] == 0.0 and s["n_both_success"] == 0
    assert s["transfer_rate"] == s["target_success_rate"] == 0.25  # unconditional: over the eligible inputs


def test_random_sign_noise_is_seeded_clipped_and_of_size_eps():
    images = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 8, 8).clone()
    noisy = robustness.random_sign_noise(images, 0.05, seed=3)
    assert torch.equal(noisy, robustness.random_sign_noise(images, 0.05, seed=3))
    assert not torch.equal(noisy, robustness.random_sign_noise(images, 0.05, seed=4))
    assert noisy.min() >= 0 and noisy.max() <= 1
    mid = noisy[:, 1] - 128 / 255  # the grey channel is never clipped: every pixel moved by exactly ±ε
    assert torch.allclose(mid.abs(), torch.full_like(mid, 0.05))
    assert 0.3 < float((mid > 0).float().mean()) < 0.7  # both signs, about half each
    # the same signs at every ε: only the size differs
    assert torch.equal(robustness.random_sign_noise(images, 0.1, 3)[:, 1] > 0.5, mid > 0)


def test_noise_statistics_count_over_the_correctly_classified_inputs():
    model, images, labels = model_and_own_labels(6)
    labels = labels.clone()
    labels[0] = (labels[0] + 1) % 3  # one input the model gets wrong: not eligible
    st = robustness.noise_statistics(model, images, labels, 0.0, seed=0, device=torch.device("cpu"))
    assert st["n_eligible"] == 5 and st["n_success"] == 0 and st["success_rate"] == 0.0  # ε = 0 changes nothing
    big = robustness.noise_statistics(model, images, labels, 0.9, seed=0, device=torch.device("cpu"))
    assert big["n_eligible"] == 5 and big["success_rate"] == big["n_success"] / 5


def test_worst_case_pgd_is_never_more_robust_than_one_restart():
    torch.manual_seed(0)
    model = build_model("SimpleCNN", num_classes=3).eval()
    images = torch.randint(0, 255, (12, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        labels = model(images.float() / 255).argmax(1)  # all correct before the attack
    one = robustness.worst_case_pgd(model, images, labels, 0.004, alpha=0.001, steps=5, restarts=1)
    three = robustness.worst_case_pgd(model, images, labels, 0.004, alpha=0.001, steps=5, restarts=3)
    assert bool((three <= one).all())
    big = robustness.worst_case_pgd(model, images, labels, 0.2, alpha=0.05, steps=10, restarts=1)
    assert int(big.sum()) < len(labels)


def test_adversarial_set_round_trips_and_refuses_other_files(tmp_path):
    images = torch.randint(0, 255, (4, 3, 8, 8), dtype=torch.uint8)
    run = robustness.AttackRun("fgsm", 0.03, 2, torch.rand(4, 3, 8, 8), torch.zeros(4, 3), torch.zeros(4, 3),
                               torch.zeros(4).long())
    path = tmp_path / "set.pt"
    robustness.save_adversarial_set(path, images, torch.arange(4), ["a", "b", "c"], {"fgsm.targeted.eps0.03": run},
                                    model="SimpleCNN")
    blob = robustness.load_adversarial_set(path)
    assert torch.equal(blob["attacks"]["fgsm.targeted.eps0.03"]["x_adv"], run.x_adv)
    assert blob["metadata"]["model"] == "SimpleCNN" and blob["attacks"]["fgsm.targeted.eps0.03"]["target"] == 2
    with pytest.raises(FileNotFoundError, match="B1_attacks"):
        robustness.load_adversarial_set(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt is not an adversarial set"):
        robustness.load_adversarial_set(tmp_path / "other.pt")


def test_replay_gives_the_crafting_model_its_own_results_and_stops_pgd_at_success(tmp_path):
    torch.manual_seed(0)
    model = build_model("SimpleCNN", num_classes=3).eval()
    images = torch.randint(0, 255, (12, 3, 32, 32), dtype=torch.uint8)
    labels = model(images.float() / 255).argmax(1)  # every input correctly classified
    runs = {"fgsm.untargeted.eps0.05": robustness.run_attack(model, images, labels, FGSM(), 0.05),
            "pgd.targeted.eps0.05": robustness.run_attack(model, images, labels, PGD5, 0.05, target=1)}
    robustness.save_adversarial_set(tmp_path / "set.pt", images, labels, ["a", "b", "c"], runs)
    replayed = robustness.replay(model, robustness.load_adversarial_set(tmp_path / "set.pt"), torch.device("cpu"))
    for key, run in runs.items():
        mine, again = robustness.statistics(run, images, labels), robustness.statistics(replayed[key], images, labels)
        assert again["n_success"] == mine["n_success"] and again["n_eligible"] == mine["n_eligible"], key
        assert replayed[key].target == run.target and (replayed[key].first_success == -1).all()
    stopped = robustness.run_attack(model, images, labels, PGD5, 0.05, stop_on_success=True)
    last = robustness.run_attack(model, images, labels, PGD5, 0.05)
    won = stopped.first_success > 0
    assert torch.equal(won, last.first_success > 0)  # the same trajectories until success
    assert (stopped.adv_logits.argmax(1)[won] != labels[won]).all()  # each kept iterate is a success
