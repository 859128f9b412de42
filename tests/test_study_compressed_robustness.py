"""C2's steps: variants from C1's metrics, the robustness verdicts, the needed ε, the deployment
rule and the metrics, on fixed numbers whose answers are known."""
from pathlib import Path

import pandas as pd
import pytest
import torch

from helpers.core.layout import RunLayout
from helpers.evaluation.intervals import format_rate
from helpers.study import compressed_robustness, deployment, robustness_discussion
from helpers.study.compressed_robustness import Variant
from tests.conftest import outcome_bits

EPS = [0.01, 0.03, 0.1]


def _whitebox(rates: dict[str, list[float]], robust: dict[str, str] | None = None) -> pd.DataFrame:
    """Attack rows; at the first ε each variant's per-image robustness is `robust[name]` (40 images)."""
    robust = robust or {}
    rows = [{"model": "M", "name": name, "method": name.split()[0], "point": name.split()[-1], "attack": "pgd",
             "goal": "untargeted", "eps": e, "success_rate": r, "robust_acc": 1 - r, "iterations_mean": 2.0,
             "n_eligible": 10, "n_success": int(10 * r), "confidence_wrong": 0.5, "n": 40,
             "robust": robust.get(name, outcome_bits(40, 20)) if e == EPS[0] else outcome_bits(40, 20)}
            for name, rs in rates.items() for e, r in zip(EPS, rs)]
    return pd.DataFrame(rows)


def test_verdicts_compare_robust_accuracy_image_by_image_at_the_robustness_eps():
    robust = {"dense": outcome_bits(40, 20), "global s0.5": outcome_bits(40, 32),  # 12 more images robust, none fewer
              "global s0.8": outcome_bits(40, 20, start=2),  # 2 images each way: not resolved
              "channel 2x": outcome_bits(40, 8), "channel 8x": outcome_bits(40, 17)}
    attacked = _whitebox({"dense": [0.5, 0.8, 1.0], "global s0.5": [0.3, 0.6, 0.9], "global s0.8": [0.5, 0.8, 0.9],
                          "channel 2x": [0.7, 0.9, 1.0], "channel 8x": [0.6, 0.8, 1.0]}, robust)
    at_eps, verdict = robustness_discussion.verdicts(attacked, "pgd", 0.05, 0.01)
    assert at_eps["M"].success_rate["dense"] == 0.5 and at_eps["M"].n_eligible["dense"] == 10
    # channel 8x loses 3 robust images and gains none: p = 0.25, not resolved, though its success rate is 10 points up
    assert verdict["M"] == {"global s0.5": "more robust", "global s0.8": "not resolved", "channel 2x": "less robust",
                            "channel 8x": "not resolved"}
    assert at_eps["M"].p_value["channel 8x"] == pytest.approx(0.25)
    need = robustness_discussion.needed_eps(attacked, EPS, 0.9)
    assert need == {"dense": 0.1, "global s0.5": 0.1, "global s0.8": 0.1, "channel 2x": 0.03, "channel 8x": 0.1}


def test_one_attacked_compressed_model_is_named_not_counted():
    attacked = _whitebox({"dense": [0.5, 0.8, 1.0], "global s0.3": [0.5, 0.8, 0.9]},
                         {"dense": outcome_bits(40, 20), "global s0.3": outcome_bits(40, 20, start=2)})
    params = {"robustness_attack": "pgd", "robustness_eps": 0.0, "attack_eps": EPS, "alpha": 0.05,
              "needed_eps_success": 0.9, "example_eps": 0.03}
    at_eps, verdict = robustness_discussion.verdicts(attacked, "pgd", 0.05, 0.01)
    text = robustness_discussion._whitebox_lines(attacked, "M", params, at_eps, verdict)[0]
    assert "The robust accuracy of its one attacked compressed model, global s0.3, is 0.50; compared image by image " \
           "with the dense model (McNemar), it does not differ resolvably (p = 1)" in text
    assert "1 attacked" not in text and "smallest p" not in text


def test_the_fixed_set_reads_as_one_bullet_per_model():
    def rows(name, method, rates, conditional):
        return [{"model": "M", "name": name, "method": method, "attack": a, "goal": goal, "eps": 0.03,
                 "success_rate": r, "n_eligible": 20, "conditional_transfer_rate": conditional, "n_source_success": 10}
                for (goal, a), r in rates.items()]
    replayed = pd.DataFrame(rows("dense", "dense", {("untargeted", "fgsm"): 0.5, ("untargeted", "pgd"): 0.9,
                                                    ("targeted", "pgd"): 0.4}, None)
                            + rows("global s0.5", "global", {("untargeted", "fgsm"): 0.3, ("untargeted", "pgd"): 0.6,
                                                              ("targeted", "pgd"): 0.2}, 0.5)
                            + rows("channel 2x", "channel", {("untargeted", "fgsm"): 0.4, ("untargeted", "pgd"): 0.8,
                                                             ("targeted", "pgd"): 0.1}, 0.8))
    lines = robustness_discussion._fixed_set_lines(replayed, "M", 0.03)
    assert len(lines) == 1 and lines[0].startswith(
        "- M, the dense model's fixed set at ε = 0.03 ([Table](#tab:C2_fixed_set_M_untargeted), "
        "[Table](#tab:C2_fixed_set_M_targeted)) succeeds on the dense model with untargeted FGSM 0.50 [")
    assert "; on the compressed models with untargeted FGSM 0.30–0.40 and PGD 0.60–0.80, targeted PGD 0.10–0.20." in lines[0]
    assert "runs untargeted from 0.50 [" in lines[0] and "(global s0.5) to 0.80 [" in lines[0]


def test_the_robustness_eps_is_the_smallest_of_the_grid_unless_set():
    assert robustness_discussion.rule_eps({"robustness_eps": 0.0, "attack_eps": [0.03, 0.01, 0.1]}) == 0.01
    assert robustness_discussion.rule_eps({"robustness_eps": 0.03, "attack_eps": EPS}) == 0.03
    with pytest.raises(ValueError, match="not in the attacked grid"):
        robustness_discussion.rule_eps({"robustness_eps": 0.02, "attack_eps": EPS})


def test_saturation_sentence_says_where_success_stops_telling_models_apart():
    attacked = _whitebox({"dense": [0.5, 1.0, 1.0], "global s0.5": [0.3, 1.0, 1.0]})
    text = robustness_discussion.saturation_sentence(attacked, "pgd", 0.01)
    assert "0.30–0.50 at ε = 0.01" in text and "From ε = 0.03 on, every model is fooled" in text


def _variant(method, point, right, ms, mb, start=0):
    """A variant right on `right` of 150 selection images (from image `start` on); its validation
    accuracy falls as the selection accuracy rises, so a rule that read the validation split would
    decide otherwise."""
    sel = outcome_bits(150, right, start)
    return Variant("M", method, point, 0.5, Path("x.pt"), (50 - right // 3) / 50, ms, mb, 50, right / 150, 150,
                   outcome_bits(50, 50 - right // 3), sel)


def _rates(robust: dict[str, str]):
    rows = _whitebox({name: [0.5, 0.5, 0.5] for name in robust}, robust)
    return robustness_discussion.verdicts(rows, "pgd", 0.05, 0.01)


def test_deployment_acts_on_resolved_differences_and_breaks_speed_ties_by_size():
    by_model = {"M": [_variant("dense", "–", 120, 10.0, 10.0), _variant("global", "s0.5", 120, 9.0, 5.0),
                      _variant("channel", "2x", 120, 4.0, 3.0), _variant("channel", "4x", 100, 2.0, 1.0),
                      _variant("channel", "8x", 118, 2.2, 0.8), _variant("global", "s0.8", 121, 2.1, 2.0)]}
    at_eps, verdict = _rates({"dense": outcome_bits(40, 20), "global s0.5": outcome_bits(40, 20), "channel 2x": outcome_bits(40, 6),
                              "channel 4x": outcome_bits(40, 20), "channel 8x": outcome_bits(40, 19), "global s0.8": outcome_bits(40, 22)})
    picks, runners, text = deployment.recommend(by_model, at_eps, verdict, 0.05, 0.15)
    # 2x is resolved less robust, 4x resolvably loses 20 selection images; 8x (2.2 ms) is within the ±15 %
    # noise of the fastest qualifying s0.8 (2.1 ms), so the smaller file, 8x, wins; s0.8 is the runner-up
    assert picks == {"M": "channel 8x"} and runners == {"M": "global s0.8"}
    assert "the smallest file of the 2 qualifying models whose latencies are within the ±15 % noise" in text
    assert "Runner-up: global s0.8 (2.10 ms, 2.00 MB" in text and f"it scores {format_rate(11 / 50, 50)}" in text
    table = deployment.deployment_table(by_model, at_eps, verdict, 0.05, picks, runners)
    assert list(table.qualifies[:4]) == ["–", "yes", "no: less robust", "no: accuracy lost"]
    assert list(table["p acc"][:4]) == ["–", "1", "1", "1.9e-06"]
    (caption, part, label), = deployment.deployment_tables(table, "every candidate")
    assert caption == "M: every candidate" and label == "deployment_M" and "model" not in part.columns
    assert list(table.role) == ["", "", "", "", "deployed", "runner-up"]
    verdict["M"].update({k: "less robust" for k in verdict["M"]})
    picks, runners, text = deployment.recommend(by_model, at_eps, verdict, 0.05, 0.15)
    assert picks == {"M": "dense"} and runners == {"M": "–"} and "the dense model stays" in text
    rule = deployment.rule_sentence(0.05, 150, "pgd", 0.01, 0.15)
    assert "McNemar's exact test" in rule and "±15 % latency noise" in rule and "reads only the selection split" in rule


def test_choose_takes_the_smallest_file_among_models_the_noise_cannot_tell_apart():
    fast, close, far = (_variant("channel", p, 120, ms, mb) for p, ms, mb in (("a", 2.0, 3.0), ("b", 2.2, 1.0),
                                                                              ("c", 3.0, 0.5)))
    assert deployment.choose([fast, close, far], 0.15) is close
    assert deployment.choose([fast, close, far], 0.05) is fast
    assert deployment.choose([], 0.15) is None


def test_the_rule_attacks_fastest_first_and_stops_once_no_later_model_can_change_the_choice(monkeypatch):
    """Dense first (the reference), then the examined models fastest first: 8x is less robust, 4x and 2x
    qualify, and global s0.5 is resolved slower than 2x, so it is never attacked."""
    by_model = {"M": [_variant("dense", "–", 120, 10.0, 10.0), _variant("global", "s0.5", 120, 9.5, 5.0),
                      _variant("channel", "2x", 120, 6.0, 3.0), _variant("channel", "4x", 120, 4.0, 2.0),
                      _variant("channel", "8x", 120, 2.0, 1.0), _variant("channel", "16x", 90, 1.0, 0.5)]}
    robust = {"dense": outcome_bits(40, 20), "channel 8x": outcome_bits(40, 5), "channel 4x": outcome_bits(40, 20),
              "channel 2x": outcome_bits(40, 19), "global s0.5": outcome_bits(40, 20)}
    attacked = []

    def fake_attack(chosen, inputs, attacks, goals, eps_grid, params, device, what):
        attacked.extend(v.name for v in chosen)
        return _whitebox({v.name: [0.5] for v in chosen}, robust).query("eps == 0.01")

    monkeypatch.setattr(deployment, "attack_variants", fake_attack)
    params = {"robustness_attack": "pgd", "alpha": 0.05, "whitebox_methods": ["global", "channel"]}
    selection = type("Split", (), {"images": None, "labels": None, "classes": []})()
    rows = deployment.rule_attacks(by_model, selection, params, 0.01, 0.15, None)
    assert attacked == ["dense", "channel 8x", "channel 4x", "channel 2x"]  # 16x loses accuracy, s0.5 is not needed
    at_eps, verdict = robustness_discussion.verdicts(rows, "pgd", 0.05, 0.01)
    picks, runners, _ = deployment.recommend(by_model, at_eps, verdict, 0.05, 0.15)
    assert picks == {"M": "channel 4x"} and runners == {"M": "channel 2x"}
    table = deployment.deployment_table(by_model, at_eps, verdict, 0.05, picks, runners, ["global", "channel"])
    assert list(table.qualifies) == ["–", f"no: {deployment.NOT_NEEDED}", "yes", "yes", "no: less robust", "no: accuracy lost"]


def test_variants_come_from_c1_metrics_with_the_dense_model_first(tmp_path):
    c1 = {"summary": {"M": {"dense": {"acc": 0.8, "latency_b1_ms": 5.0, "size_mb": 10.0, "params": 100,
                                      "select_acc": 0.7, "n_select": 30}}},
          "dense": {"M": {"correct": "1" * 10, "select_correct": outcome_bits(30, 21)}},
          "records": [{"model": "M", "method": "global", "point": "s0.8", "nonzero": 20, "path": "checkpoints/global/M-s0.8.pt",
                       "acc": 0.78, "select_acc": 0.3, "latency_b1_ms": 5.1, "size_compressed_mb": 2.0,
                       "correct": "1" * 10, "select_correct": outcome_bits(30, 9)},
                      {"model": "M", "method": "channel", "point": "2x", "nonzero": 50, "path": "c.pt", "acc": 0.8,
                       "select_acc": 0.67, "latency_b1_ms": 2.0, "size_compressed_mb": 1.0, "correct": "1" * 10,
                       "select_correct": outcome_bits(30, 20)},
                      {"model": "N", "method": "global", "point": "s0.8", "nonzero": 20, "path": "n.pt", "acc": 0.5,
                       "select_acc": 0.5, "latency_b1_ms": 1.0, "size_compressed_mb": 1.0, "correct": "",
                       "select_correct": ""}]}
    layout = RunLayout(tmp_path, tmp_path / "figures")
    found = compressed_robustness.variants(c1, layout, ["M"])["M"]
    assert [v.name for v in found] == ["dense", "global s0.8", "channel 2x"]
    assert found[0].path == layout.trained("M") and found[1].removed == pytest.approx(0.8)
    assert found[1].path == tmp_path / "checkpoints" / "global" / "M-s0.8.pt"
    assert (found[1].select_acc, found[1].n_select, found[1].acc, found[1].n) == (0.3, 30, 0.78, 0)
    # C2 attacks the dense model and the compressed ones whose selection loss is not resolved (global s0.8
    # loses 12 of 30 selection images, although it keeps its validation accuracy; channel 2x loses 1)
    params = {"whitebox_methods": ["global", "channel"], "alpha": 0.05}
    chosen = compressed_robustness.examined({"M": found}, params)
    assert [v.name for v in chosen] == ["dense", "channel 2x"]
    text = compressed_robustness.examined_sentence({"M": found}, chosen, params)
    assert "of the 2 compressed models of the methods attacked white-box (global, channel), 1 show" in text and "left out for a resolved loss: global s0.8 (0.30, p = " in text


def test_metrics_nest_the_dense_model_and_each_compressed_point_with_denominators():
    from helpers.report.summary import flatten, missing_intervals, with_intervals
    attacked = _whitebox({"dense": [0.5, 0.8, 1.0], "global s0.5": [0.3, 0.6, 0.9]}).assign(n=20)
    replayed = attacked.assign(conditional_transfer_rate=0.5, n_source_success=4, transfer_rate=0.25,
                               n_both_correct=8, l2_success=1.0, linf=0.03)
    m = robustness_discussion.metrics(replayed, attacked, {"M": "global s0.5"}, {"M": "dense"},
                                      {"fixed_set": 1.0, "whitebox": 2.0}, 0.03, {"eps": 0.01, "alpha": 0.05})
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
              "defense_eval_steps": 2, "defense_restarts": 1, "seed": 0, "batch_size": 8, "amp": "off", "augment": False,
              "alpha": 0.05}
    n = len(data.valid.labels)
    b3 = {"summary": {"ToyNet": {"clean_acc": 0.5}, "standard": {"ToyNet": {"pgd_robust_acc": {"eps0.03": 0.0}}}},
          "per_image": {"standard": {"eps0.03": "0" * n}}}
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


def test_robustness_survives_only_where_the_paired_test_says_so():
    from helpers.study.robust_pruning import verdict
    unpruned, standard = {"robust": outcome_bits(50, 20)}, outcome_bits(50, 2)
    kept = verdict({"robust": outcome_bits(50, 19)}, unpruned, standard, 0.05)
    assert kept.startswith("no change in robust accuracy against the unpruned robust model is resolved")
    assert "it stays above the standard model (difference +0.34" in kept
    lost = verdict({"robust": outcome_bits(50, 3)}, unpruned, standard, 0.05)
    assert lost.startswith("robustness is lost against the unpruned robust model (difference -0.34")
    assert "nor is a difference from the standard model resolved" in lost
    assert "standard" not in verdict({"robust": outcome_bits(50, 19)}, unpruned, None, 0.05)


EPS_SMALL = 0.004


def test_a_model_without_gradients_is_attacked_through_its_fp32_source(monkeypatch, tmp_path):
    """int8 cannot be attacked white-box: the rule crafts the attack on the model it was quantized
    from and replays it. On a graph computing exactly what its source does, the replay's robust
    outcome is the white-box one, image by image."""
    from dataclasses import replace as copy_with

    from helpers.deploy.onnx_graph import OnnxModel, export
    from helpers.models import build_model
    from helpers.study import deployment_replay
    from tests.conftest import model_and_own_labels
    model, images, labels = model_and_own_labels(12)
    graph = OnnxModel(export(model, tmp_path / "m.onnx", tuple(images.shape[1:])))
    loads = {"dense": model, "int8": graph}
    monkeypatch.setattr(Variant, "load", lambda self, device: loads[self.method])
    dense = _variant("dense", "–", 120, 10.0, 10.0)
    twin = copy_with(dense, method="int8", point="dense")
    assert deployment_replay.source_of(twin, [dense, twin]) is dense and deployment_replay.source_of(dense, [dense]) is None
    params = {"robustness_attack": "pgd", "pgd_steps": 5, "pgd_step_divisor": 4.0, "seed": 0, "model_overrides": {}}
    row = deployment_replay.replay_attack(twin, dense, images, labels, params, EPS_SMALL, torch.device("cpu")).iloc[0]
    from helpers.attacks import build_attack
    from helpers.robustness.attack_runs import run_attack
    from helpers.robustness.statistics import statistics
    direct = statistics(run_attack(model, images, labels, build_attack("pgd", params), EPS_SMALL, seed=0), images, labels)
    assert row.crafted_on == "dense" and row["name"] == "int8 dense" and row.robust == direct["robust"]
    assert set(row.robust) == {"0", "1"}  # some inputs fooled, some not: the comparison has something to compare
    assert row.n == 12 and 0 < row.success_rate
    # in the rule, the replay-only model is a candidate like the white-box ones, fastest first
    by_model = {"M": [dense, _variant("channel", "4x", 120, 4.0, 2.0), copy_with(twin, latency_b1_ms=3.0)]}
    seen = []
    monkeypatch.setattr(deployment, "attack_variants", lambda chosen, *a, **k: seen.extend(v.name for v in chosen) or
                        _whitebox({v.name: [0.5] for v in chosen}, {v.name: outcome_bits(40, 20) for v in chosen}).query("eps == 0.01"))
    monkeypatch.setattr(deployment, "replay_attack", lambda v, source, *a: seen.append(f"{v.name} via {source.name}") or
                        _whitebox({v.name: [0.5]}, {v.name: outcome_bits(40, 20)}).query("eps == 0.01"))
    selection = type("Split", (), {"images": None, "labels": None, "classes": []})()
    rows = deployment.rule_attacks(by_model, selection, {**params, "alpha": 0.05, "whitebox_methods": ["channel"]},
                                   0.01, 0.15, None)
    assert seen == ["dense", "int8 dense via dense", "channel 4x"]
    at_eps, verdict = robustness_discussion.verdicts(rows, "pgd", 0.05, 0.01)
    picks, runners, text = deployment.recommend(by_model, at_eps, verdict, 0.05, 0.15)
    assert picks == {"M": "int8 dense"} and "It takes no gradients, so its robustness is that of a replay" in text
    # an int8 model the rule did not need to attack is 'not needed', as a white-box method's would be
    del verdict["M"]["int8 dense"]
    table = deployment.deployment_table(by_model, at_eps, verdict, 0.05, picks, runners, ["channel"])
    assert list(table.qualifies) == ["–", "yes", f"no: {deployment.NOT_NEEDED}"]
