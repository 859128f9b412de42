import torch

from helpers import robustness
from helpers.models import build_model


def test_denominators_follow_the_definitions():
    labels = torch.tensor([0, 1, 2, 2, 1])
    images = torch.zeros(5, 3, 4, 4, dtype=torch.uint8)
    # clean predictions: correct, correct, correct, wrong, correct; adversarial: see below
    clean = torch.eye(3)[torch.tensor([0, 1, 2, 0, 1])] * 5
    adv = torch.eye(3)[torch.tensor([2, 1, 1, 0, 2])] * 5
    run = robustness.AttackRun("pgd", 0.03, None, images.float() / 255, clean, adv,
                               torch.tensor([3, -1, 7, 0, 1]))
    s = robustness.statistics(run, images, labels)
    assert s["n_eligible"] == 4 and s["n_success"] == 3 and s["success_rate"] == 0.75
    assert s["robust_acc"] == 0.2 and s["clean_acc"] == 0.8
    assert s["iterations"] == [3, 7, 1] and s["l2"] == 0.0
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
    run = robustness.run_attack(model, images, labels, "pgd", 0.05, alpha=0.01, steps=5, batch_size=4)
    assert run.x_adv.shape == (10, 3, 32, 32) and run.adv_logits.shape == (10, 3)
    assert (run.x_adv - images.float() / 255).abs().max() <= 0.05 + 1e-6
    s = robustness.statistics(run, images, labels)
    assert s["linf"] is None or s["linf"] <= 0.05 + 1e-6
    again = robustness.run_attack(model, images, labels, "pgd", 0.05, alpha=0.01, steps=5, batch_size=4)
    assert torch.equal(run.x_adv, again.x_adv)  # the seeded random start makes it reproducible
