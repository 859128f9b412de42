"""C2's steps: variants from C1's metrics, the robustness verdicts, the needed ε, the deployment
rule and the metrics, on fixed numbers whose answers are known."""
from pathlib import Path

import pandas as pd
import pytest

from helpers.core.layout import RunLayout
from helpers.evaluation.intervals import format_rate
from helpers.study import compressed_robustness, deployment, robustness_discussion
from helpers.study.compressed_robustness import Variant

EPS = [0.01, 0.03, 0.1]


def _whitebox(rates: dict[str, list[float]]) -> pd.DataFrame:
    rows = [{"model": "M", "name": name, "method": name.split()[0], "point": name.split()[-1], "attack": "pgd",
             "goal": "untargeted", "eps": e, "success_rate": r, "robust_acc": 1 - r, "iterations_mean": 2.0,
             "n_eligible": 10, "n_success": int(10 * r), "confidence_wrong": 0.5}
            for name, rs in rates.items() for e, r in zip(EPS, rs)]
    return pd.DataFrame(rows)


def test_verdicts_compare_success_at_the_robustness_eps_with_the_margin():
    attacked = _whitebox({"dense": [0.5, 0.8, 1.0], "global s0.5": [0.3, 0.6, 0.9], "global s0.8": [0.5, 0.8, 0.9],
                          "channel 2x": [0.7, 0.9, 1.0], "channel 8x": [0.6, 0.8, 1.0]})
    at_eps, verdict = robustness_discussion.verdicts(attacked, "pgd", 0.05, 0.01)
    assert at_eps["M"].success_rate["dense"] == 0.5 and at_eps["M"].n_eligible["dense"] == 10
    # channel 8x: its mean over the grid is within the margin of the dense model's (0.80 against 0.77),
    # but at the smallest ε, where the rates still differ, it is fooled 10 points more often
    assert verdict["M"] == {"global s0.5": "more robust", "global s0.8": "about as robust", "channel 2x": "less robust",
                            "channel 8x": "less robust"}
    need = robustness_discussion.needed_eps(attacked, EPS, 0.9)
    assert need == {"dense": 0.1, "global s0.5": 0.1, "global s0.8": 0.1, "channel 2x": 0.03, "channel 8x": 0.1}


def test_the_robustness_eps_is_the_smallest_of_the_grid_unless_set():
    assert robustness_discussion.rule_eps({"robustness_eps": 0.0, "attack_eps": [0.03, 0.01, 0.1]}) == 0.01
    assert robustness_discussion.rule_eps({"robustness_eps": 0.03, "attack_eps": EPS}) == 0.03
    with pytest.raises(ValueError, match="not in the attacked grid"):
        robustness_discussion.rule_eps({"robustness_eps": 0.02, "attack_eps": EPS})


def test_saturation_sentence_says_where_success_stops_telling_models_apart():
    attacked = _whitebox({"dense": [0.5, 1.0, 1.0], "global s0.5": [0.3, 1.0, 1.0]})
    text = robustness_discussion.saturation_sentence(attacked, "pgd", 0.01)
    assert "0.30–0.50 at ε = 0.01" in text and "From ε = 0.03 on, every model is fooled" in text


def _variant(method, point, acc, ms, mb):
    """A variant whose selection accuracy is `acc`; its validation accuracy is 1 - acc, so a rule that
    read the validation split would decide otherwise."""
    return Variant("M", method, point, 0.5, Path("x.pt"), 1 - acc, ms, mb, 50, acc, 150)


def test_deployment_picks_the_fastest_qualifying_model_shows_the_runner_up_or_keeps_the_dense_one():
    by_model = {"M": [_variant("dense", "–", 0.80, 10.0, 10.0), _variant("global", "s0.5", 0.78, 9.0, 5.0),
                      _variant("channel", "2x", 0.78, 4.0, 3.0), _variant("channel", "4x", 0.70, 2.0, 1.0),
                      _variant("global", "s0.8", 0.80, 5.0, 2.0)]}
    at_eps = {"M": pd.DataFrame({"success_rate": [0.5, 0.5, 0.7, 0.5, 0.4], "n_eligible": [40] * 5},
                                index=["dense", "global s0.5", "channel 2x", "channel 4x", "global s0.8"])}
    verdict = {"M": {"global s0.5": "about as robust", "channel 2x": "less robust", "channel 4x": "about as robust",
                     "global s0.8": "more robust"}}
    picks, runners, text = deployment.recommend(by_model, at_eps, verdict, 0.02, "pgd", 0.01)
    assert picks == {"M": "global s0.8"} and runners == {"M": "global s0.5"}  # 2x is less robust, 4x loses 10 points
    assert "the fastest of 2 qualifying models" in text and "2.0× faster than the dense 10.00 ms" in text
    assert "Runner-up: global s0.5, 9.00 ms" in text and "0.40 [0.26, 0.55]" in text
    assert f"selection accuracy {format_rate(0.80, 150)}" in text and f"it scores {format_rate(0.20, 50)}" in text
    table = deployment.deployment_table(by_model, at_eps, verdict, 0.02, picks, runners)
    assert list(table.qualifies) == ["–", "yes", "no: less robust", "no: loses 10 points", "yes"]
    assert list(table.role) == ["", "runner-up", "", "", "deployed"]
    verdict["M"]["global s0.5"] = verdict["M"]["global s0.8"] = "less robust"
    picks, runners, text = deployment.recommend(by_model, at_eps, verdict, 0.02, "pgd", 0.01)
    assert picks == {"M": "dense"} and runners == {"M": "–"} and "the dense model stays" in text
    rule = deployment.rule_sentence(0.02, 150, "pgd", 0.01, 0.05)
    assert "at most 2 points below the dense model's (3 of 150 images)" in rule and "ε = 0.01" in rule
    assert "reads only the selection split" in rule


def test_the_rule_attacks_in_its_order_of_preference_and_stops_once_two_qualify(monkeypatch):
    """Dense first (the reference), then the fastest examined models until two are not less robust:
    channel 8x is less robust, 4x and 2x qualify, so global s0.5 (slowest) is never attacked."""
    by_model = {"M": [_variant("dense", "–", 0.80, 10.0, 10.0), _variant("global", "s0.5", 0.80, 9.5, 5.0),
                      _variant("channel", "2x", 0.80, 6.0, 3.0), _variant("channel", "4x", 0.80, 4.0, 2.0),
                      _variant("channel", "8x", 0.80, 2.0, 1.0), _variant("channel", "16x", 0.50, 1.0, 0.5)]}
    rates = {"dense": 0.5, "channel 8x": 0.7, "channel 4x": 0.5, "channel 2x": 0.525, "global s0.5": 0.5}
    attacked = []

    def fake_attack(chosen, inputs, attacks, goals, eps_grid, params, device, what):
        attacked.extend(v.name for v in chosen)
        return pd.DataFrame([{"model": v.model, "name": v.name, "method": v.method, "attack": "pgd", "goal": "untargeted",
                              "eps": 0.01, "success_rate": rates[v.name], "n_eligible": 40} for v in chosen])

    monkeypatch.setattr(deployment, "attack_variants", fake_attack)
    params = {"robustness_attack": "pgd", "robustness_margin": 0.05, "whitebox_methods": ["global", "channel"],
              "max_acc_drop": 0.02}
    selection = type("Split", (), {"images": None, "labels": None, "classes": []})()
    rows = deployment.rule_attacks(by_model, selection, params, 0.01, None)
    assert attacked == ["dense", "channel 8x", "channel 4x", "channel 2x"]  # 16x loses accuracy, s0.5 is not needed
    at_eps, verdict = robustness_discussion.verdicts(rows, "pgd", 0.05, 0.01)
    picks, runners, _ = deployment.recommend(by_model, at_eps, verdict, 0.02, "pgd", 0.01)
    assert picks == {"M": "channel 4x"} and runners == {"M": "channel 2x"}
    table = deployment.deployment_table(by_model, at_eps, verdict, 0.02, picks, runners, ["global", "channel"])
    assert list(table.qualifies) == ["–", f"no: {deployment.NOT_NEEDED}", "yes", "yes", "no: less robust",
                                     "no: loses 30 points"]


def test_variants_come_from_c1_metrics_with_the_dense_model_first(tmp_path):
    c1 = {"summary": {"M": {"dense": {"acc": 0.8, "latency_b1_ms": 5.0, "size_mb": 10.0, "params": 100,
                                      "select_acc": 0.7, "n_select": 30}}},
          "records": [{"model": "M", "method": "global", "point": "s0.8", "nonzero": 20, "path": "checkpoints/global/M-s0.8.pt",
                       "acc": 0.78, "select_acc": 0.6, "latency_b1_ms": 5.1, "size_compressed_mb": 2.0},
                      {"model": "M", "method": "channel", "point": "2x", "nonzero": 50, "path": "c.pt", "acc": 0.8,
                       "select_acc": 0.69, "latency_b1_ms": 2.0, "size_compressed_mb": 1.0},
                      {"model": "N", "method": "global", "point": "s0.8", "nonzero": 20, "path": "n.pt", "acc": 0.5,
                       "select_acc": 0.5, "latency_b1_ms": 1.0, "size_compressed_mb": 1.0}]}
    layout = RunLayout(tmp_path, tmp_path / "figures")
    found = compressed_robustness.variants(c1, layout, ["M"])["M"]
    assert [v.name for v in found] == ["dense", "global s0.8", "channel 2x"]
    assert found[0].path == layout.trained("M") and found[1].removed == pytest.approx(0.8)
    assert found[1].path == tmp_path / "checkpoints" / "global" / "M-s0.8.pt"
    assert (found[1].select_acc, found[1].n_select, found[1].acc, found[1].n) == (0.6, 30, 0.78, 0)
    # C2 attacks the dense model and the compressed ones that keep their accuracy on the selection split
    # (global s0.8 loses 10 points there, although it keeps its validation accuracy)
    params = {"whitebox_methods": ["global", "channel"], "max_acc_drop": 0.02}
    chosen = compressed_robustness.examined({"M": found}, params)
    assert [v.name for v in chosen] == ["dense", "channel 2x"]
    text = compressed_robustness.examined_sentence({"M": found}, chosen, params)
    assert "1 of the 2 compressed models" in text and "left out: global s0.8 (0.60)" in text


def test_metrics_nest_the_dense_model_and_each_compressed_point_with_denominators():
    from helpers.report.summary import flatten, missing_intervals, with_intervals
    attacked = _whitebox({"dense": [0.5, 0.8, 1.0], "global s0.5": [0.3, 0.6, 0.9]}).assign(n=20)
    replayed = attacked.assign(conditional_transfer_rate=0.5, n_source_success=4, transfer_rate=0.25,
                               n_both_correct=8, l2_success=1.0, linf=0.03)
    m = robustness_discussion.metrics(replayed, attacked, {"M": "global s0.5"}, {"M": "dense"},
                                      {"fixed_set": 1.0, "whitebox": 2.0}, 0.03, {"eps": 0.01})
    s = m["summary"]
    assert s["M"]["recommended"] == "global s0.5" and s["M"]["runner_up"] == "dense" and s["fixed_set_s"] == 1.0
    assert s["M"]["dense"]["whitebox"]["pgd"]["untargeted"]["eps0.1"]["success_rate"] == 1.0
    assert s["M"]["global"]["s0.5"]["pgd"]["untargeted"]["success_rate"] == 0.6  # at ε = 0.03
    assert s["M"]["global"]["s0.5"]["pgd"]["untargeted"]["eps0.01"]["success_rate"] == 0.3
    assert m["denominators"]["M.global.s0.5.pgd.untargeted.conditional_transfer_rate"] == 4
    assert m["denominators"]["M.dense.whitebox.pgd.untargeted.eps0.01.robust_acc"] == 20
    flat = with_intervals(flatten(s), m["denominators"], "C2")
    assert not missing_intervals(flat)
    assert flat["M.global.s0.5.pgd.untargeted.success_rate.n"] == 10


def test_the_robust_model_is_pruned_and_attacked_again(tmp_path):
    """B3's hardened model (here a toy) pruned at the asked targets, fine-tuned, measured clean and
    under worst-case PGD before and after; reused on a second run; nothing when B3 hardened none."""
    import torch

    import tests.plugins.toy  # noqa: F401
    from helpers.core.device import pick_device
    from helpers.models import build_model
    from helpers.models.checkpoints import save_checkpoint
    from helpers.study import robust_pruning
    from helpers.data import carve_selection
    from tests.plugins.toy import load_toy_grey

    data = carve_selection(load_toy_grey("", 16, subset_per_class=4), 1, 0)
    layout = RunLayout(tmp_path, tmp_path / "figures")
    torch.manual_seed(0)
    args = {"num_classes": 3, "mean": data.mean, "std": data.std}
    save_checkpoint(layout.hardened("ToyNet"), build_model("ToyNet", **args), "ToyNet", args, run_key="robust-toy")
    stage = type("S", (), {"layout": layout, "device": pick_device("cpu")})()
    params = {"models": ["ToyNet"], "robust_prune_targets": {"global": [0.5]}, "compression_budgets":
              {"global": {"epochs": 1}}, "compression_settings": {}, "defense_eps": 0.03, "pgd_step_divisor": 3.0,
              "defense_eval_steps": 2, "defense_restarts": 1, "seed": 0, "batch_size": 8, "amp": "off", "augment": False}
    b3 = {"summary": {"ToyNet": {"clean_acc": 0.5}, "standard": {"ToyNet": {"pgd_robust_acc": {"eps0.03": 0.0}}}}}
    result = robust_pruning.run(stage, data, b3, params)
    assert [r["variant"] for r in result.rows] == ["unpruned", "global s0.5"] and result.standard == 0.0
    assert all(0 <= r["clean_acc"] <= 1 and 0 <= r["robust_acc"] <= r["clean_acc"] for r in result.rows)
    assert layout.compressed("global", "ToyNet-robust", "s0.5").exists()
    text = robust_pruning.text(result)
    assert "B3's robust ToyNet" in text and "fine-tuned in this run" in text and "PGD-2, 1 restart at" in text
    part = robust_pruning.metrics_part(result)
    assert set(part["summary"]["ToyNet"]) == {"eps", "seconds", "dense", "global"}
    assert part["summary"]["ToyNet"]["global"]["s0.5"]["robust_acc"] == result.rows[1]["robust_acc"]
    again = robust_pruning.run(stage, data, b3, params)
    assert again.rows[1]["reused"] and again.rows[1]["robust_acc"] == result.rows[1]["robust_acc"]
    assert "reused: its checkpoint was written at" in robust_pruning.text(again)
    assert robust_pruning.run(stage, data, {"summary": {"standard": {}}}, params) is None


def test_robustness_survives_only_when_the_intervals_say_so():
    from helpers.study.robust_pruning import verdict
    assert verdict(0.38, 0.40, 0.04, 50).startswith("robustness survives")
    assert verdict(0.06, 0.40, 0.04, 50).startswith("robustness is lost")
    assert verdict(0.20, 0.50, 0.02, 50).startswith("robustness is partly lost")
    assert verdict(0.10, 0.14, 0.06, 50).startswith("not resolved")  # 5, 7 and 3 images of 50
