"""B3's study helpers on synthetic histories, fixed accuracies and a tiny untrained model (seconds)."""
from pathlib import Path

import pytest
import torch

from helpers.config.schema import declarations
from helpers.data import ImageSet
from helpers.defense.fgsm_rs import DefenseConfig
from helpers.study import hardening
from helpers.training.cached import Trained
from helpers.training.config import TrainConfig
from tests.conftest import model_and_own_labels

# the choice reads the selection split: by validation accuracy SimpleCNN would be chosen
A2 = {"SimpleCNN": {"select_acc": 0.6, "val_acc": 0.9}, "ResNetSmall": {"select_acc": 0.7, "val_acc": 0.5}}


def history(scores, train_acc=0.9):
    return [{"epoch": e, "select_score": s, "train_acc": train_acc, "select_acc": 0.5}
            for e, s in enumerate(scores, 1)]


def trained(scores, reused=False):
    result = {"history": history(scores), "best_epoch": 1 + scores.index(max(scores)), "total_train_s": 42.0,
              "epoch_s": 10.5}
    return Trained(None, result, Path("x.pt"), reused, "2026-01-02 03:04:05")


def test_the_model_is_the_named_one_or_the_most_accurate():
    assert hardening.choose_model(["SimpleCNN", "ResNetSmall"], A2, "") == "ResNetSmall"
    assert hardening.choose_model(["SimpleCNN", "ResNetSmall"], A2, "SimpleCNN") == "SimpleCNN"
    with pytest.raises(ValueError, match="'defense_model' is 'VGG', which A2 did not train"):
        hardening.choose_model(["SimpleCNN"], A2, "VGG")
    assert hardening.choice_sentence("ResNetSmall", A2, "") == (
        "The model hardened is **ResNetSmall**, the more accurate in A2 (70% accuracy on the selection split).")
    assert hardening.choice_sentence("ResNetSmall", A2, "", 50) == (  # 35 of 50 against 30 of 50
        "The model hardened is **ResNetSmall**, the one with the higher accuracy on the selection split in A2 (0.70 "
        "[0.56, 0.81]); its interval overlaps that of SimpleCNN (0.60 [0.46, 0.72]), so it is not shown to be the more "
        "accurate.")
    assert hardening.choice_sentence("SimpleCNN", A2, "SimpleCNN", 50) == "The model hardened is **SimpleCNN**, as configured."


def test_configs_give_the_old_fine_tuning_recipe():
    params = {name: p.default for name, p in declarations().items()}
    params.update(defense_epochs=3, defense_lr=0.004, batch_size=16, seed=5)
    cfg, dcfg = hardening.configs(params)
    assert cfg == TrainConfig(epochs=3, batch_size=16, lr=0.004, weight_decay=params["weight_decay"],
                              label_smoothing=params["label_smoothing"], warmup_epochs=1, patience=3, amp=params["amp"],
                              seed=5, augment=params["augment"], rotation_deg=params["rotation_deg"],
                              scale=params["scale"], translate=params["translate"], jitter=params["jitter"])
    assert dcfg == DefenseConfig(eps=params["defense_eps"])


def test_a_collapse_after_the_peak_is_detected():
    assert hardening.collapsed_epochs(history([0.2, 0.4, 0.35, 0.15, 0.1]), 0.5) == [4, 5]
    assert hardening.collapsed_epochs(history([0.2, 0.4, 0.35, 0.25]), 0.5) == []
    assert hardening.collapsed_epochs(history([0.2, 0.4, 0.35, 0.25]), 0.9) == [3, 4]
    text = hardening.finetuning_sentence(trained([0.2, 0.4, 0.35, 0.15]), 0.5)
    assert text.startswith("Fine-tuning took 42 s for 4 epochs (10.5 s per epoch).")
    assert "peaked at 40% in epoch 2" in text and "fell below half of that in epoch 4" in text
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
    rows = []
    for variant, base in (("standard", 0.0), ("robust", robust_gain)):
        rows.append({"model": f"M {variant}", "variant": variant, "eps": 0.0, "accuracy": 0.7 if base else 0.8})
        rows += [{"model": f"M {variant}", "variant": variant, "eps": e, "accuracy": a + base, "robust": "-"}
                 for e, a in ((0.03, 0.1), (0.1, 0.0))]
    return hardening.Evaluation("M", rows, 3.0, 40, "PGD-5, 1 restarts")


def test_the_gain_threshold_decides_where_the_defense_helps():
    lines = hardening.evaluation_lines(evaluation(0.15), [0.03, 0.1], 0.03, defense_min_gain=0.1)
    # 32 of 40 against 28 of 40: the intervals overlap
    assert ("- Clean accuracy over the 40 validation images goes from 0.80 [0.65, 0.90] to 0.70 [0.55, 0.82] (-10 points): "
            "the intervals overlap, so the cost in clean accuracy is not resolved.") in lines
    assert "from 0.10 [0.04, 0.23] to 0.25 [0.14, 0.40] at ε = 0.03; from 0.00 [0.00, 0.09] to 0.15" in lines
    # 4 of 40 against 10 of 40, and 0 of 40 against 6 of 40: gains of 15 points whose intervals overlap
    assert "and the two intervals are apart, it helps at no ε; it was trained at ε = 0.03." in lines
    wide = hardening.evaluation_lines(evaluation(0.3), [0.03, 0.1], 0.03, 0.1)  # 4 against 16, 0 against 12 of 40
    assert "it helps at ε = 0.03, ε = 0.1;" in wide
    assert "it helps at no ε" in hardening.evaluation_lines(evaluation(0.3), [0.03, 0.1], 0.03, 0.35)
    table = hardening.accuracy_table(evaluation(0.15))
    assert table.columns.tolist() == ["variant", "clean", "ε 0.03", "ε 0.1"]
    assert table["variant"].tolist() == ["standard", "robust"]
    assert table["ε 0.03"].tolist() == ["0.10 [0.04, 0.23]", "0.25 [0.14, 0.40]"]
    metrics = hardening.metrics(trained([0.4]), evaluation(0.15), hardening.settings_table(
        "M.pt", TrainConfig(), DefenseConfig(eps=0.03), {"defense_eval_steps": 5, "pgd_step_divisor": 3.0,
                                                 "defense_restarts": 1}, torch.device("cpu")),
                                hardening.MapComparison("M"), [0.03, 0.1])
    assert metrics["summary_prefix"] == "B1.defense" and metrics["reused"] is False
    assert metrics["summary"]["M"]["pgd_robust_acc"] == {"eps0.03": 0.25, "eps0.1": pytest.approx(0.15)}
    assert metrics["summary"]["standard"]["M"]["clean_acc"] == 0.8 and metrics["summary"]["eval_s"] == 3.0


def test_evaluation_and_maps_on_a_tiny_model():
    model, images, labels = model_and_own_labels(6)
    params = {"attack_eps": [0.03], "defense_eval_steps": 2, "defense_restarts": 1, "pgd_step_divisor": 3.0, "seed": 0}
    result = hardening.evaluate("M", {"standard": model, "robust": model}, images, labels, params, torch.device("cpu"))
    acc = result.accuracy
    assert acc["standard"][0.0] == 1.0 and acc["standard"] == acc["robust"]
    classes = ["a", "b", "c"]
    labels = torch.tensor([0, 0, 1, 1, 0, 1])  # no image of c
    valid = ImageSet("valid", images, labels, [f"valid/{classes[int(y)]}/{i}.jpg" for i, y in enumerate(labels)], classes)
    comparison = hardening.compare_maps("M", {"standard": model, "robust": model}, valid, classes, torch.device("cpu"))
    assert comparison.notes == ["The validation split has no image of c."]
    assert len(comparison.stats) == 2 * len(comparison.panels) == 4
    # the file name under the title drops the split folder
    assert [p["title"].split("\n")[1].split("/")[0] for p in comparison.panels] == ["a", "b"]
    assert "not smoother" in hardening.maps_sentence(comparison)  # the same model twice is not smoother
    with pytest.raises(ValueError, match="'explain_classes' names unknown classes \\['z'\\]"):
        hardening.shown_classes(classes, ["a", "z"])
