"""B2's study helpers on fixed sets and models with fixed logits (seconds)."""
import pytest
import torch
from torch import nn

from helpers.robustness import AttackRun, load_adversarial_set, save_adversarial_set
from helpers.study import transfer

LABELS = torch.tensor([0, 1, 2, 1, 0])
CLASSES = ["a", "b", "c"]


class Lookup(nn.Module):
    """A 'model' whose logits are a fixed table row: input i is an image filled with the value i
    (clean) or 100 + i (adversarial)."""

    def __init__(self, clean, adv):
        super().__init__()
        self.table = torch.zeros(256, 3)
        for i, (c, a) in enumerate(zip(clean, adv)):
            self.table[i, c] = self.table[100 + i, a] = 5.0

    def forward(self, x):
        return self.table[(x[:, 0, 0, 0] * 255).round().long()]


def write_set(path, attacks=("fgsm", "pgd")):
    images = torch.arange(5, dtype=torch.uint8).view(5, 1, 1, 1).expand(5, 3, 2, 2).clone()
    x_adv = (images.float() + 100) / 255
    runs = {f"{a}.{g}.eps0.03": AttackRun(a, 0.03, t, x_adv, torch.zeros(5, 3), torch.zeros(5, 3), torch.zeros(5).long())
            for a in attacks for g, t in (("untargeted", None), ("targeted", 2))}
    save_adversarial_set(path, images, LABELS, CLASSES, runs, pgd_steps=3, pgd_step_divisor=3.0)
    return load_adversarial_set(path)


def fixed(tmp_path, attacks=("fgsm", "pgd")):
    # source S: right on 0-3 (wrong on 4); its adversarial inputs fool 0, 1, 2 (untargeted)
    # target T: right on 0, 1, 2, 4 (wrong on 3); the transferred inputs fool 0 and 1
    models = {"S": Lookup([0, 1, 2, 1, 1], [1, 2, 0, 1, 2]), "T": Lookup([0, 1, 2, 0, 0], [2, 0, 2, 2, 0])}
    sets = {"S": write_set(tmp_path / "S.pt", attacks), "T": write_set(tmp_path / "T.pt", attacks)}
    return transfer.FixedSets(models, sets, *transfer.check_same_inputs(sets))


def test_sets_made_from_other_inputs_are_refused(tmp_path):
    a = write_set(tmp_path / "a.pt")
    b = write_set(tmp_path / "b.pt")
    b["images"] = b["images"].flip(0)
    with pytest.raises(ValueError, match="adversarial sets of A and B were made from different inputs"):
        transfer.check_same_inputs({"A": a, "B": b})
    images, labels, classes = transfer.check_same_inputs({"A": a, "A2": write_set(tmp_path / "c.pt")})
    assert torch.equal(labels, LABELS) and classes == CLASSES


def test_transfer_counts_only_inputs_both_models_get_right(tmp_path):
    result = transfer.transfer_grid(fixed(tmp_path), torch.device("cpu"))
    rows = {(r["direction"], r["attack"], r["goal"]): r for r in result.rows}
    assert len(result.rows) == 8  # 2 directions x 2 attacks x 2 goals x 1 ε
    s_to_t = rows["S → T", "pgd", "untargeted"]
    # eligible: both right -> 0, 1, 2; the source fools all three, the target 0 and 1
    assert s_to_t["n_eligible"] == 3 and s_to_t["source success"] == "3/3" and s_to_t["target success"] == "2/3"
    assert s_to_t["transfer_rate"] == pytest.approx(2 / 3)
    targeted = rows["S → T", "pgd", "targeted"]  # target class 2: input 2 is not eligible; S sends 1 to 2, T sends 0
    assert targeted["n_eligible"] == 2 and targeted["n_source_success"] == 1 and targeted["n_target_success"] == 1
    tables = transfer.direction_tables(result)
    assert [caption.split(":")[0] for caption, _ in tables] == ["S → T", "T → S"]
    assert tables[0][1]["attack"].tolist()[:2] == ["FGSM untargeted", "FGSM targeted"]
    summary = transfer.metrics(result)["summary"]
    assert summary["S_to_T"]["pgd"]["untargeted"]["eps0.03"] == {k: s_to_t[k] for k in transfer.SUMMARY_KEYS}


def synthetic(rates, iterative):
    rows = [{"source": "S", "target": "T", "direction": "S → T", "attack": a, "goal": "untargeted", "eps": 0.1,
             "transfer_rate": r, "target_success_rate": r / 2, "source_success_rate": 0.5, "n_target_success": 1,
             "n_eligible": 4} for a, r in rates.items()]
    return transfer.Transfer(rows, {a: a.upper() for a in rates}, iterative)


def test_the_attack_comparison_uses_the_attacks_that_ran():
    one_step_better = synthetic({"fgsm": 0.8, "pgd": 0.4}, {"fgsm": False, "pgd": True})
    assert transfer.attack_comparison(one_step_better, 0.05) == (
        "- FGSM transfers at a mean rate of 0.80 and PGD at 0.40: PGD's many steps fit the source model's particular "
        "decision boundary, which a single FGSM step does not.")
    close = synthetic({"fgsm": 0.42, "pgd": 0.4}, {"fgsm": False, "pgd": True})
    assert transfer.attack_comparison(close, 0.05).endswith("about equally well.")
    assert "PGD's many steps" in transfer.attack_comparison(close, 0.01)
    assert "FGSM" not in transfer.attack_comparison(synthetic({"pgd": 0.4}, {"pgd": True}), 0.05)
    three = synthetic({"fgsm": 0.5, "pgd": 0.4, "bim": 0.3}, {"fgsm": False, "pgd": True, "bim": True})
    assert transfer.attack_comparison(three, 0.05) == "- Mean transfer rates: FGSM 0.50, PGD 0.40, BIM 0.30."


def test_the_substitute_threat_follows_its_parameter():
    table = synthetic({"fgsm": 0.8, "pgd": 0.4}, {"fgsm": False, "pgd": True})  # 2 of 8 eligible fooled: 25 %
    assert "a real threat" in transfer.reading(table, 0.05, substitute_threat_rate=0.2)
    assert "gains little" in transfer.reading(table, 0.05, substitute_threat_rate=0.3)


def test_transfer_needs_two_models():
    with pytest.raises(ValueError, match="'models' must name at least two models"):
        transfer.load_sets(None, ["S"])
