"""B3's study helpers on synthetic histories, fixed accuracies and a tiny untrained model (seconds)."""
from pathlib import Path

import pytest
import torch

from helpers.config.schema import declarations
from helpers.data import ImageSet
from helpers.defense.fgsm_rs import DefenseConfig
from helpers.study import hardening, hardening_maps
from helpers.training.cached import Trained
from helpers.training.config import TrainConfig
from tests.conftest import model_and_own_labels, outcome_bits


def _a2(select_simple: str, select_resnet: str) -> dict:
    """A2's metrics with per-image selection outcomes; by validation accuracy SimpleCNN would win."""
    return {"summary": {"SimpleCNN": {"select_acc": select_simple.count("1") / 50, "val_acc": 0.9, "params": 100,
                                      "epoch_s": 1.0},
                        "ResNetSmall": {"select_acc": select_resnet.count("1") / 50, "val_acc": 0.5, "params": 900,
                                        "epoch_s": 9.0}},
            "scores": {"SimpleCNN": {"selection": {"correct": select_simple, "n": 50}},
                       "ResNetSmall": {"selection": {"correct": select_resnet, "n": 50}}}}


A2 = _a2("1" * 20 + "0" * 30, "1" * 35 + "0" * 15)  # 15 images right only for ResNetSmall: resolved
CLOSE = _a2("1" * 30 + "0" * 20, "1" * 35 + "0" * 15)  # 5 only for ResNetSmall: p = 0.06, not resolved


def history(scores, train_acc=0.9):
    return [{"epoch": e, "select_score": s, "train_acc": train_acc, "select_acc": 0.5}
            for e, s in enumerate(scores, 1)]


def trained(scores, reused=False):
    result = {"history": history(scores), "best_epoch": 1 + scores.index(max(scores)), "total_train_s": 42.0,
              "epoch_s": 10.5}
    return Trained(None, result, Path("x.pt"), reused, "2026-01-02 03:04:05")


def test_the_model_is_the_named_one_or_the_resolved_most_accurate_or_the_smaller():
    models = ["SimpleCNN", "ResNetSmall"]
    assert hardening.choose_model(models, A2, "", 0.05) == "ResNetSmall"
    assert hardening.choose_model(models, CLOSE, "", 0.05) == "SimpleCNN"  # not resolved: the smaller model
    assert hardening.choose_model(models, A2, "SimpleCNN", 0.05) == "SimpleCNN"
    with pytest.raises(ValueError, match="'defense_model' is 'VGG', which A2 did not train"):
        hardening.choose_model(["SimpleCNN"], A2, "VGG", 0.05)
    assert hardening.choice_sentence("ResNetSmall", A2, "", 0.05).startswith(
        "The model hardened is **ResNetSmall**, resolved the more accurate on the selection split in A2 (SimpleCNN "
        "0.40 [0.28, 0.54], ResNetSmall 0.70 [0.56, 0.81]; against SimpleCNN: difference -0.30")
    close = hardening.choice_sentence("SimpleCNN", CLOSE, "", 0.05)
    assert "McNemar's test does not separate ResNetSmall and SimpleCNN (SimpleCNN minus ResNetSmall:" in close and close.endswith(
        "the smaller model, then the faster to train. The model hardened is **SimpleCNN**.")
    assert hardening.choice_sentence("SimpleCNN", A2, "SimpleCNN", 0.05) == "The model hardened is **SimpleCNN**, as configured."


def test_the_rule_chooses_among_the_named_candidates_and_says_who_was_left_out():
    models = ["SimpleCNN", "ResNetSmall", "EffNetL0-full"]
    assert hardening.candidates(models, []) == models
    among = hardening.candidates(models, ["SimpleCNN", "ResNetSmall"])
    assert hardening.choose_model(among, A2, "", 0.05) == "ResNetSmall"
    said = hardening.choice_sentence("ResNetSmall", A2, "", 0.05, among, models)
    assert "ResNetSmall 0.70 [0.56, 0.81]; EffNetL0-full not among the candidates the parameter file names;" in said
    with pytest.raises(ValueError, match="'defense_among' names \\['VGG'\\], which are not among the study's models"):
        hardening.candidates(models, ["VGG"])


def test_configs_give_the_old_fine_tuning_recipe():
    params = {name: p.default for name, p in declarations().items()}
    params.update(defense_epochs=3, defense_lr=0.004, batch_size=16, seed=5)
    cfg, dcfg = hardening.configs(params)
    assert cfg == TrainConfig(epochs=3, batch_size=16, lr=0.004, weight_decay=params["weight_decay"],
                              label_smoothing=params["label_smoothing"], warmup_epochs=1, patience=3, amp=params["amp"],
                              seed=5, augment=params["augment"], rotation_deg=params["rotation_deg"],
                              scale=params["scale"], translate=params["translate"], jitter=params["jitter"])
    assert dcfg == DefenseConfig(eps=params["defense_eps"], select_significance=params["alpha"])


def test_a_collapse_after_the_peak_is_detected():
    assert hardening.collapsed_epochs(history([0.2, 0.4, 0.35, 0.15, 0.1]), 0.5) == [4, 5]
    assert hardening.collapsed_epochs(history([0.2, 0.4, 0.35, 0.25]), 0.5) == []
    assert hardening.collapsed_epochs(history([0.2, 0.4, 0.35, 0.25]), 0.9) == [3, 4]
    text = hardening.finetuning_sentence(trained([0.2, 0.4, 0.35, 0.15]), 0.5)
    assert text.startswith("Fine-tuning took 42 s for 4 epochs (10.5 s per epoch).")
    assert "peaked at 40% in epoch 2; epoch 2 is kept." in text and "fell below half of that in epoch 4" in text
    assert "peaked at 0.40 [0.26, 0.55] in epoch 2" in hardening.finetuning_sentence(trained([0.2, 0.4]), 0.5, 40)
    assert "catastrophic overfitting, which the selection by PGD avoided" in text
    calm = hardening.finetuning_sentence(trained([0.2, 0.4, 0.35]), 0.5)
    assert calm.endswith("It never fell below half of its peak afterwards (last epoch: 35%): no sign of "
                         "catastrophic overfitting.")


def test_a_reused_checkpoint_is_reported_as_reused():
    text = hardening.finetuning_sentence(trained([0.2, 0.4], reused=True), 0.5)
    assert text.startswith("The fine-tuned checkpoint was reused: it was made at 2026-01-02 03:04:05, when "
                           "fine-tuning took 42 s for 2 epochs")
    assert "Fine-tuning took" not in text


def evaluation(robust_gain):
    """40 images: clean 32 (standard) and 28 (robust) right; robust at ε 0.03 4 (standard) and 4 + 40 × gain,
    at ε 0.1 0 and 40 × gain, the robust model's images a superset of the standard one's."""
    rows = []
    for variant, base in (("standard", 0.0), ("robust", robust_gain)):
        clean = 28 if base else 32
        rows.append({"model": f"M {variant}", "variant": variant, "eps": 0.0, "accuracy": clean / 40,
                     "outcome": outcome_bits(40, clean)})
        rows += [{"model": f"M {variant}", "variant": variant, "eps": e, "accuracy": a + base, "robust": "-",
                  "outcome": outcome_bits(40, round(40 * (a + base)))} for e, a in ((0.03, 0.1), (0.1, 0.0))]
    return hardening.Evaluation("M", rows, 3.0, 40, "PGD-5, 1 restarts")


def test_the_paired_test_decides_where_the_defense_helps():
    lines = hardening.evaluation_lines(evaluation(0.15), [0.03, 0.1], 0.03, 0.05)
    # clean: 4 images lost, none gained: p = 0.125, not resolved
    assert ("- Clean accuracy over the 40 validation images: 0.80 [0.65, 0.90] for the standard model, 0.70 [0.55, 0.82] "
            "after adversarial fine-tuning (difference -0.10") in lines
    assert "0 against 4 discordant images, McNemar p = 0.12): the change in clean accuracy is not resolved." in lines
    assert "from 0.10 to 0.25 at ε = 0.03; from 0.00 to 0.15 at ε = 0.1" in lines and "an upper bound" in lines
    # 6 images gained at each ε, none lost: p = 0.031, resolved
    assert "The gain is resolved at ε = 0.03 (difference +0.15" in lines and "ε = 0.1 (difference +0.15" in lines
    narrow = hardening.evaluation_lines(evaluation(0.1), [0.03, 0.1], 0.03, 0.05)  # 4 images gained: p = 0.125
    assert "The gain is resolved at no ε and not resolved at ε = 0.03, ε = 0.1" in narrow
    table = hardening.accuracy_table(evaluation(0.15))
    assert table.columns.tolist() == ["variant", "clean", "ε 0.03", "ε 0.1"]
    assert table["variant"].tolist() == ["standard", "robust"]
    assert table["ε 0.03"].tolist() == ["0.10 [0.04, 0.23]", "0.25 [0.14, 0.40]"]
    metrics = hardening.metrics(trained([0.4]), evaluation(0.15), hardening.settings_table(
        "M.pt", TrainConfig(), DefenseConfig(eps=0.03), {"defense_eval_steps": 5, "pgd_step_divisor": 3.0,
                                                 "defense_restarts": 1}, torch.device("cpu")),
                                hardening_maps.MapComparison("M"), [0.03, 0.1], 0.05)
    assert metrics["summary_prefix"] == "B1.defense" and metrics["reused"] is False
    assert metrics["summary"]["M"]["pgd_robust_acc"] == {"eps0.03": 0.25, "eps0.1": pytest.approx(0.15)}
    assert metrics["summary"]["standard"]["M"]["clean_acc"] == 0.8 and metrics["summary"]["eval_s"] == 3.0
    assert metrics["per_image"]["robust"]["eps0.03"] == outcome_bits(40, 10)  # robust_pruning's paired test reads it
    assert metrics["summary"]["M"]["paired"]["eps0.03"]["only_a"] == 6 and metrics["summary"]["M"]["paired"]["clean"][
        "resolved"] == ""


def test_evaluation_and_maps_on_a_tiny_model():
    model, images, labels = model_and_own_labels(6)
    params = {"attack_eps": [0.03], "defense_eval_steps": 2, "defense_restarts": 1, "pgd_step_divisor": 3.0, "seed": 0}
    result = hardening.evaluate("M", {"standard": model, "robust": model}, images, labels, params, torch.device("cpu"))
    acc = result.accuracy
    assert acc["standard"][0.0] == 1.0 and acc["standard"] == acc["robust"]
    classes = ["a", "b", "c"]
    labels = torch.tensor([0, 0, 1, 1, 0, 1])  # no image of c
    valid = ImageSet("valid", images, labels, [f"valid/{classes[int(y)]}/{i}.jpg" for i, y in enumerate(labels)], classes)
    comparison = hardening_maps.compare_maps("M", {"standard": model, "robust": model}, valid, classes, torch.device("cpu"))
    assert comparison.notes == ["The validation split has no image of c."]
    assert len(comparison.stats) == 2 * len(comparison.panels) == 4
    # the file name under the title drops the split folder
    assert [p["title"].split("\n")[1].split("/")[0] for p in comparison.panels] == ["a", "b"]
    over_split = hardening_maps.saliency_over_split({"standard": model, "robust": model}, valid, torch.device("cpu"))
    assert len(over_split["robust"]["roughness"]) == len(labels)
    text = hardening_maps.maps_sentence(over_split, len(comparison.panels))  # the same model twice is not smoother
    assert "Over all 6 validation images" in text and "not resolvably smoother or rougher" in text
    assert "The appendix shows 2 of these images ([Figure](#fig:B3_maps))." in text
    with pytest.raises(ValueError, match="'explain_classes' names unknown classes \\['z'\\]"):
        hardening_maps.shown_classes(classes, ["a", "z"])
