"""B2's study helpers on fixed sets and models with fixed logits (seconds)."""
import pytest
import torch
from torch import nn

from helpers.robustness import AttackRun, load_adversarial_set, save_adversarial_set
from helpers.study import transfer, transfer_reading

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
    result = transfer.transfer_grid(fixed(tmp_path), torch.device("cpu"), seed=0)
    rows = {(r["direction"], r["attack"], r["goal"]): r for r in result.rows}
    assert len(result.rows) == 8  # 2 directions x 2 attacks x 2 goals x 1 ε
    s_to_t = rows["S → T", "pgd", "untargeted"]
    # eligible: both right -> 0, 1, 2; the source fools all three, the target 0 and 1
    assert s_to_t["n_eligible"] == 3 and s_to_t["source success"] == "3/3" and s_to_t["target success"] == "2/3"
    assert s_to_t["transfer_rate"] == pytest.approx(2 / 3)  # unconditional: over the eligible inputs
    assert s_to_t["conditional_transfer_rate"] == pytest.approx(2 / 3) and s_to_t["n_both_success"] == 2
    targeted = rows["S → T", "pgd", "targeted"]  # target class 2: input 2 is not eligible; S sends 1 to 2, T sends 0
    assert targeted["n_eligible"] == 2 and targeted["n_source_success"] == 1 and targeted["n_target_success"] == 1
    # S sends input 1 to class 2, T sends input 0 there: nothing in common, though the old ratio was 1
    assert targeted["conditional_transfer_rate"] == 0.0 and targeted["success_ratio"] == 1.0
    table = transfer.transfer_table(result)
    assert table.direction.tolist()[:4] == ["S → T"] * 4 and table.attack.tolist()[:2] == ["FGSM untargeted", "FGSM targeted"]
    assert table.conditional.tolist()[3] == "0.00 [0.00, 0.79]"  # 0 of 1: the Wilson interval of 0/1
    metrics = transfer.metrics(result)
    assert metrics["summary"]["S_to_T"]["pgd"]["untargeted"]["eps0.03"] == {k: s_to_t[k] for k in transfer.SUMMARY_KEYS}
    assert metrics["denominators"]["S_to_T.pgd.untargeted.eps0.03.conditional_transfer_rate"] == 3
    assert metrics["denominators"]["S_to_T.pgd.targeted.eps0.03.transfer_rate"] == 2


def test_the_noise_baseline_is_measured_on_every_model(tmp_path):
    result = transfer.transfer_grid(fixed(tmp_path), torch.device("cpu"), seed=0)
    # the lookup models read pixel 0 only; noise moves it off the table's clean rows except by rounding
    assert [(r["model"], r["eps"]) for r in result.noise] == [("S", 0.03), ("T", 0.03)]
    assert [r["n_eligible"] for r in result.noise] == [4, 4]  # S is right on 0-3, T on 0, 1, 2, 4
    noise = transfer.metrics(result)["summary"]["noise"]
    assert set(noise) == {"S", "T"} and set(noise["S"]["eps0.03"]) == {"success_rate", "n_eligible", "n_success"}
    assert transfer.metrics(result)["denominators"]["noise.T.eps0.03.success_rate"] == 4
    assert transfer.noise_table(result).columns.tolist() == ["model", "ε", "fooled", "success rate"]


def row(a, conditional, n_src, iterative=True, target=None):
    k = round(conditional * n_src)
    return {"source": "S", "target": "T", "direction": "S → T", "attack": a, "goal": "untargeted", "eps": 0.1,
            "transfer_rate": k / 40, "target_success_rate": k / 40, "source_success_rate": n_src / 40,
            "conditional_transfer_rate": conditional, "n_source_success": n_src, "n_both_success": k,
            "n_target_success": k if target is None else target, "n_eligible": 40}


def synthetic(rates, iterative, n_src=40, noise=None):
    rows = [row(a, r, n_src) for a, r in rates.items()]
    return transfer.Transfer(rows, {a: a.upper() for a in rates}, iterative, noise or [])


def test_the_attack_comparison_states_a_difference_only_where_fishers_test_resolves_it():
    one_step_better = synthetic({"fgsm": 0.8, "pgd": 0.3}, {"fgsm": False, "pgd": True})
    assert transfer_reading.attack_comparison(one_step_better, 0.05, 0.1, 0.05) == [
        "- S → T, untargeted at ε = 0.1: FGSM's successes transfer at 0.80 [0.65, 0.90] and PGD's at "
        "0.30 [0.18, 0.45] (Fisher's exact p = 1.3e-05): PGD's many steps fit the source model's particular decision boundary, which a single FGSM step does not."]
    few = synthetic({"fgsm": 0.8, "pgd": 0.4}, {"fgsm": False, "pgd": True}, n_src=5)  # 4 of 5 against 2 of 5
    assert transfer_reading.attack_comparison(few, 0.05, 0.1, 0.05)[0].endswith(
        "(Fisher's exact p = 0.52): the difference is not resolved, so neither attack is shown to transfer better.")
    assert transfer_reading.attack_comparison(synthetic({"pgd": 0.4}, {"pgd": True}), 0.05, 0.1, 0.05) == []
    three = synthetic({"fgsm": 0.5, "pgd": 0.4, "bim": 0.3}, {"fgsm": False, "pgd": True, "bim": True})
    assert transfer_reading.attack_comparison(three, 0.05, 0.1, 0.05)[0].startswith("- S → T, untargeted at ε = 0.1: conditional "
                                                                     "transfer rates FGSM 0.50")


def test_the_substitute_threat_needs_the_threshold_and_more_than_noise():
    noise = [{"model": "T", "eps": 0.1, "n_eligible": 40, "n_success": 2, "success_rate": 0.05}]
    table = synthetic({"fgsm": 0.5, "pgd": 0.5}, {"fgsm": False, "pgd": True}, noise=noise)  # 20 of 40 fool T
    assert "a real threat" in transfer_reading.reading(table, 0.05, 0.3, 0.1)
    assert "a limited threat" in transfer_reading.reading(table, 0.05, 0.6, 0.1)
    noisy = [{**noise[0], "n_success": 18, "success_rate": 0.45}]
    text = transfer_reading.reading(synthetic({"fgsm": 0.5, "pgd": 0.5}, {"fgsm": False, "pgd": True}, noise=noisy), 0.05, 0.3, 0.1)
    assert "not shown to do better than noise in S → T (0.50)" in text
    detail = transfer_reading.details(synthetic({"fgsm": 0.5, "pgd": 0.5}, {"fgsm": False, "pgd": True}, noise=noisy),
                                      0.05, 0.3, 0.1)
    assert "18 of the 40 inputs it classifies correctly" in detail and "Fisher's exact p = 1)" in detail


def directions(rates_by_direction, noise=()):
    """A Transfer of FGSM (one step) and PGD rows at ε = 0.1, one pair per direction 'X → Y'."""
    rows = []
    for d, rates in rates_by_direction.items():
        source, target = d.split(" → ")
        rows += [{**row(a, r, 40), "direction": d, "source": source, "target": target} for a, r in rates.items()]
    return transfer.Transfer(rows, {"fgsm": "FGSM", "pgd": "PGD"}, {"fgsm": False, "pgd": True}, list(noise))


def test_the_main_text_summarises_the_attacks_and_the_noise_once_over_the_directions():
    noise = [{"model": m, "eps": 0.1, "n_eligible": 40, "n_success": 2, "success_rate": 0.05} for m in "ABC"]
    grid = directions({"A → B": {"fgsm": 0.8, "pgd": 0.3}, "B → C": {"fgsm": 0.5, "pgd": 0.45},
                       "C → A": {"fgsm": 0.1, "pgd": 0.1}}, noise)
    summary = transfer_reading.attack_summary(grid, 0.05, 0.1, 0.05)
    assert summary == ["- FGSM and PGD, untargeted at ε = 0.1, direction by direction (the rates and p-values are in the "
                       "appendix): Fisher's exact test resolves which attack's successes transfer better in 1 of 3 "
                       "directions (FGSM's in A → B): where the one-step attack's transfer better, the iterative "
                       "attack's many steps fit the source model's particular decision boundary, which a single step does not."]
    assert len(transfer_reading.attack_comparison(grid, 0.05, 0.1, 0.05)) == 3  # the appendix keeps every direction
    text = transfer_reading.reading(grid, 0.05, 0.3, 0.1)
    # PGD at the largest ε fools B on 12 of 40 (0.30, not above the 0.3 threshold), C on 18, A on 4 (noise: 2 of 40)
    assert ("a real threat from a substitute model (they beat noise and fool more than 30 % of the eligible inputs) in "
            "B → C (0.45); beat noise, a limited threat in A → B (0.30); not shown to do better than noise in C → A (0.10).") in text
    assert "Fisher's exact p" not in text and len(text.splitlines()) == 3 + 2
    none = directions({"A → B": {"fgsm": 0.5, "pgd": 0.45}, "B → A": {"fgsm": 0.5, "pgd": 0.5}})
    assert transfer_reading.attack_summary(none, 0.05, 0.1, 0.05)[0].endswith("transfer better in none of the 2 directions.")
    assert transfer_reading.noise_summary(none, 0.3, 0.05) == []  # no noise measured: nothing to compare


def test_transfer_needs_two_models():
    with pytest.raises(ValueError, match="'models' must name at least two models"):
        transfer.load_sets(None, ["S"])


def test_the_reading_leads_with_the_conditional_rate_and_its_denominator(tmp_path):
    result = transfer.transfer_grid(fixed(tmp_path), torch.device("cpu"), seed=0)
    lines = transfer_reading.direction_lines(result, 0.03, 0.05)
    assert lines[0] == ("- S → T: of the 3 eligible inputs whose untargeted PGD input (ε = 0.03) fools S, 2 also fool T "
                        "(conditional transfer rate 0.67 [0.21, 0.94]); of the 1 sent to the target class on S, 0 are "
                        "sent there on T too (0.00 [0.00, 0.79]).")
    assert lines[-1].startswith("- The two directions differ by") and lines[-1].endswith("not resolved, so these inputs do "
                                                                               "not show that one direction transfers better than the other.")
