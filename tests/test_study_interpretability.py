"""helpers.study.interpretability (A3) on tiny synthetic data: 3 classes, 32 px, untrained models."""
import json

import matplotlib
import pytest
import torch

from helpers.data import ImageSet, StudyData
from helpers.explain.map_statistics import centre_fraction, correlation
from helpers.models.registry import build_model
from helpers.study import interpretability as interp
from tests.conftest import model_and_own_labels

matplotlib.use("Agg")
CLASSES = ["cat", "dog", "owl"]
CPU = torch.device("cpu")


def image_set(split, n, seed, size):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = torch.randint(0, 255, (n, 3, size, size), generator=g, dtype=torch.uint8)
    return ImageSet(split, images, labels, [f"{split}/{CLASSES[y]}/{i}.png" for i, y in enumerate(labels.tolist())],
                    CLASSES)


def tiny_data(tmp_path, size=32):
    return StudyData(tmp_path, image_set("train", 9, 0, size), image_set("valid", 6, 1, size), None,
                     [0.5] * 3, [0.25] * 3, selection=image_set("selection", 6, 3, size))


def model(name, seed=0):
    torch.manual_seed(seed)
    return build_model(name, num_classes=3, mean=[0.5] * 3, std=[0.25] * 3).eval()


def test_layer_table_gives_a_quarter_size_map_and_refuses_tiny_ones(tmp_path):
    models = {"SimpleCNN": model("SimpleCNN"), "ResNetSmall": model("ResNetSmall")}
    layers = interp.layer_table(models, tiny_data(tmp_path))
    assert list(layers["map size"]) == ["8x8", "8x8"] and list(layers["input"]) == ["32x32", "32x32"]
    assert list(layers["Grad-CAM layer"]) == ["features.2.2", "layer3.1"]  # the specs' layers
    text = interp.describe_layers(layers)
    assert text.count("(1/4 of the input size per side)") == 2 and "`features.2.2`" in text
    with pytest.raises(ValueError, match=r"SimpleCNN gives a 2x2 map at 8 px, smaller than 4x4"):
        interp.layer_table({"SimpleCNN": models["SimpleCNN"]}, tiny_data(tmp_path, size=8))


def test_shown_classes_default_to_the_first_three_and_unknown_ones_are_named():
    assert interp.shown_classes([], CLASSES + ["eel"]) == CLASSES
    assert interp.shown_classes(["owl"], CLASSES) == ["owl"]
    with pytest.raises(ValueError, match=r"unknown classes \['emu'\]"):
        interp.shown_classes(["owl", "emu"], CLASSES)


def _preds(data, valid, train):
    return {"valid": {"a": torch.tensor(valid[0]), "b": torch.tensor(valid[1])},
            "train": {"a": torch.tensor(train[0]), "b": torch.tensor(train[1])}}


def test_pick_prefers_validation_then_training_then_the_first_image(tmp_path):
    data = tiny_data(tmp_path)  # labels 0 1 2 0 1 2 ... in both splits
    wrong_v, wrong_t = [[1] * 6, [1] * 6], [[1] * 9, [1] * 9]
    assert interp.pick({"valid": torch.zeros(6, dtype=torch.bool), "train": torch.zeros(9, dtype=torch.bool)}) is None
    # class 0 correct for both models only at validation image 3
    both_v = _preds(data, [[1, 1, 1, 0, 1, 1], [1, 1, 1, 0, 1, 1]], wrong_t)
    assert interp.pick_correct(0, data, both_v) == interp.Example("valid", 3, True)
    # correct for one model only in validation, for both at training image 6
    train_only = _preds(data, [[0, 1, 1, 0, 1, 1], [1] * 6], [[1] * 6 + [0, 1, 1], [1] * 6 + [0, 1, 1]])
    assert interp.pick_correct(0, data, train_only) == interp.Example("train", 6, True)
    # never correct: the class's first validation image, flagged
    assert interp.pick_correct(0, data, _preds(data, wrong_v, wrong_t)) == interp.Example("valid", 0, False)


def test_examples_give_maps_statistics_and_notes(tmp_path):
    data = tiny_data(tmp_path)
    # seeds whose untrained Grad-CAMs do not vanish (an all-zero map has no correlation)
    models = {"A": model("SimpleCNN", 2), "B": model("SimpleCNN", 3)}
    preds = interp.predictions(models, data, CPU)
    assert set(preds) == {"valid", "train"} and preds["valid"]["A"].shape == (6,)
    correct = interp.correct_examples(models, data, ["cat", "owl"], preds, CPU)
    assert [s["class"] for s in correct.stats] == ["cat", "owl"] and len(correct.rows) == 2
    assert len(correct.notes) == sum(not s["correct for all"] for s in correct.stats)
    for s in correct.stats:
        assert 0 <= s["A centre"] <= 1 and 0 <= s["B saliency in CAM"] <= 1 and -1 <= s["CAM agreement r"] <= 1
    assert [t for t, _, _ in correct.rows[0]["maps"]] == ["A\nsaliency\nfor cat", "A\nGrad-CAM\nfor cat",
                                                         "B\nsaliency\nfor cat", "B\nGrad-CAM\nfor cat"]
    cam_a, cam_b = correct.rows[0]["maps"][1][1], correct.rows[0]["maps"][3][1]
    assert cam_a.shape == (32, 32) and correct.figures()
    assert correct.stats[0]["A centre"] == pytest.approx(centre_fraction(cam_a))
    assert correct.stats[0]["CAM agreement r"] == pytest.approx(correlation(cam_a, cam_b))
    single = interp.correct_examples({"A": models["A"]}, data, ["cat"], preds, CPU)
    assert "CAM agreement r" not in single.stats[0]  # agreement needs exactly two models
    assert single.stats[0]["A centre"] == pytest.approx(correct.stats[0]["A centre"])

    errors = interp.error_examples(models, data, preds, CPU)
    assert len(errors.stats) + len(errors.notes) == 2
    for s in errors.stats:
        assert s["true"] != s["predicted"] and -1 <= s["predicted vs true CAM r"] <= 1
    assert all(len(r["maps"]) == 5 and "(the true class)" in r["maps"][-1][0] for r in errors.rows)
    assert "file" not in interp.stats_table(correct)


def test_summary_sentences_and_metrics_follow_the_thresholds():
    correct = interp.Examples(stats=[
        {"class": "cat", "file": "valid/cat/0.png", "correct for all": True, "A centre": 0.5, "B centre": 0.2,
         "A saliency in CAM": 0.6, "B saliency in CAM": 0.3, "CAM agreement r": 0.7},
        {"class": "dog", "file": "valid/dog/1.png", "correct for all": True, "A centre": 0.4, "B centre": 0.3,
         "A saliency in CAM": 0.4, "B saliency in CAM": 0.1, "CAM agreement r": 0.5}])
    errors = interp.Examples(stats=[{"model": "A", "file": "f", "true": "cat", "predicted": "dog", "centre": 0.3,
                                     "predicted vs true CAM r": 0.1}])
    headline = interp.summary(correct, errors, ["A", "B"])
    assert headline["A"]["gradcam_centre_fraction"] == pytest.approx(0.45)
    assert headline["B"]["saliency_in_gradcam_fraction"] == pytest.approx(0.2)
    assert headline["gradcam_model_agreement"] == pytest.approx(0.6)
    assert headline["error_pred_vs_true_cam_corr"] == pytest.approx(0.1)
    out = interp.metrics(headline, correct, errors, _layers())
    assert set(out) == {"summary", "examples", "errors", "layers"} and out["layers"][0]["map size"] == "8x8"
    json.dumps(out)
    one_model = interp.summary(interp.Examples(stats=[{"A centre": 0.3, "A saliency in CAM": 0.2}]),
                               interp.Examples(), ["A"])
    assert set(one_model) == {"A"}  # no agreement without two models, no error figure without errors


def _layers():
    import pandas as pd
    return pd.DataFrame([{"model": "A", "Grad-CAM layer": "features.2.2", "map size": "8x8", "input": "32x32"}])


def test_the_maps_are_read_over_the_whole_split_with_intervals():
    from helpers.study import map_summary
    model, images, labels = model_and_own_labels(6)
    split = ImageSet("valid", images, labels, [f"valid/{int(y)}/{i}.png" for i, y in enumerate(labels)], ["a", "b", "c"])
    preds = {"A": labels.clone(), "B": labels.clone()}
    preds["B"][0] = (labels[0] + 1) % 3  # B gets image 0 wrong: it leaves the images both get right
    values = map_summary.split_statistics({"A": model, "B": model}, split, preds, 0.5, torch.device("cpu"))
    assert len(values["A centre"]) == 5 and len(values["B wrong vs true CAM r"]) == 1
    assert values["CAM agreement r"] == pytest.approx([1.0] * 5)  # the same model twice agrees with itself
    found = map_summary.intervals(values)
    assert found["A centre"]["low"] <= found["A centre"]["mean"] <= found["A centre"]["high"]
    text = map_summary.describe(found, ["A", "B"], 0.25, 0.5, 0.2)
    assert "over the 5 validation images every model classifies correctly" in text
    assert "they look at largely the same regions." not in text or found["CAM agreement r"]["low"] > 0.5
    assert list(map_summary.table(found).columns) == ["quantity", "images", "mean [95 % CI]"]
    wide = {"mean": 0.3, "low": 0.1, "high": 0.6, "n": 9}
    assert "not distinguishable from a uniform map" in map_summary.describe(
        {"A centre": wide, "A saliency in CAM": wide}, ["A"], 0.25, 0.5, 0.2)
    assert "more central than a uniform map" in map_summary.describe(
        {"A centre": {**wide, "low": 0.3}, "A saliency in CAM": wide}, ["A"], 0.25, 0.5, 0.2)
