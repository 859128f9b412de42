"""helpers.study.training (A2) on tiny synthetic data: 3 classes, 32 px, a SimpleCNN of one epoch."""
import json

import matplotlib
import pandas as pd
import pytest
import torch

from helpers.config.schema import ParameterError
from helpers.core.layout import RunLayout
from helpers.data import ImageSet, StudyData
from helpers.models import registry
from helpers.models.registry import ModelSpec, count_parameters, get_spec
from helpers.study import training

matplotlib.use("Agg")
CLASSES = ["cat", "dog", "owl"]
CPU = torch.device("cpu")


def image_set(split, n, seed, size=32):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = torch.randint(0, 255, (n, 3, size, size), generator=g, dtype=torch.uint8)
    images[torch.arange(n), labels] = 230  # the class is the bright channel, so one epoch learns something
    return ImageSet(split, images, labels, [f"{split}/{CLASSES[y]}/{i}.png" for i, y in enumerate(labels.tolist())],
                    CLASSES)


def tiny_data(tmp_path, test=False):
    return StudyData(tmp_path, image_set("train", 24, 0), image_set("valid", 12, 1),
                     image_set("test", 9, 2) if test else None, [0.5] * 3, [0.25] * 3)


def params(**changes):
    values = {"epochs": 1, "epochs_by_model": {}, "batch_size": 8, "lr": 1e-3, "weight_decay": 0.0,
              "label_smoothing": 0.1, "warmup_epochs": 0, "patience": 5, "amp": "off", "seed": 0, "augment": False,
              "rotation_deg": 15.0, "scale": 0.0, "translate": 0.0, "jitter": 0.2}
    return {**values, **changes}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """SimpleCNN trained for 2 epochs (epochs_by_model overrides epochs 1), then its evaluation."""
    root = tmp_path_factory.mktemp("a2")
    data = tiny_data(root, test=True)
    layout = RunLayout(root / "run", root / "run" / "figures")
    p = params(epochs_by_model={"SimpleCNN": 2})
    trained = training.train_all(["SimpleCNN"], data, p, layout, CPU)
    logits = training.predictions(training.models_of(trained), data, CPU)
    return data, layout, p, trained, logits, training.scores(logits, data)


def test_recipe_lists_the_config_and_the_per_model_epochs(tmp_path):
    data = tiny_data(tmp_path)
    recipe = training.recipe(params(epochs=7, epochs_by_model={"SimpleCNN": 3}), data, CPU)
    assert recipe["epochs"] == 7 and recipe["epochs (SimpleCNN)"] == 3 and recipe["image size (px)"] == 32
    assert recipe["training images"] == 24 and recipe["validation images"] == 12 and recipe["device"] == "cpu"
    table = training.recipe_table(recipe)
    assert table.set_index("setting").loc["amp", "value"] == "off"


def test_model_table_counts_parameters_of_the_built_model(tmp_path):
    data = tiny_data(tmp_path)
    table = training.model_table(["SimpleCNN", "ResNetSmall"], data).set_index("model")
    for name in ("SimpleCNN", "ResNetSmall"):
        spec = get_spec(name)
        built = spec.build(**spec.arch_args(3, data.mean, data.std))
        assert table.loc[name, "parameters"] == count_parameters(built)
        assert table.loc[name, "description"] == spec.description != ""


def test_a_model_that_cannot_take_the_images_is_refused(tmp_path, monkeypatch):
    registry.model_names()  # discover the built-in models first
    monkeypatch.setitem(registry._MODELS._entries, "Fixed64",
                        ModelSpec("Fixed64", get_spec("SimpleCNN").build, "features.2.2", input_size=64))
    with pytest.raises(ParameterError, match="takes 64 px images"):
        training.model_table(["Fixed64"], tiny_data(tmp_path))


def test_training_then_reuse_is_reported_as_such(run):
    data, layout, p, trained, _, _ = run
    first = trained["SimpleCNN"]
    assert not first.reused and len(first.result["history"]) == 2  # epochs_by_model won over epochs
    assert first.path == layout.trained("SimpleCNN") and first.path.exists()
    assert training.describe_training(trained) == "Every model was trained in this run."
    again = training.train_all(["SimpleCNN"], data, p, layout, CPU)
    assert again["SimpleCNN"].reused and again["SimpleCNN"].created_at == first.created_at
    text = training.describe_training(again)
    assert f"reused the checkpoint made at {first.created_at}" in text and "SimpleCNN" in text
    row = training.training_table(again, data).iloc[0]
    assert row["reused"] and row["made at"] == first.created_at and row["epochs run"] == 2
    assert row["img / s"] == pytest.approx(24 / first.result["epoch_s"])


def test_scores_and_tables_match_the_predictions(run):
    data, _, _, _, logits, scores = run
    assert set(logits["SimpleCNN"]) == {"train", "valid", "test"}
    expected = float((logits["SimpleCNN"]["valid"].argmax(1) == data.valid.labels).float().mean())
    acc = training.accuracy_table(scores).iloc[0]
    assert acc["valid accuracy"] == pytest.approx(expected) and "test accuracy" in acc
    [(caption, per_class)] = training.per_class_tables(scores, data.classes)
    assert "SimpleCNN" in caption and list(per_class["class"]) == CLASSES and per_class["support"].sum() == 12
    assert sum(map(sum, scores["SimpleCNN"]["valid"]["confusion"])) == 12
    assert training.confusion_figure(scores, data.classes, "train").axes[0].get_title() == "SimpleCNN (training)"


def _one_hot(labels, right=True):
    """Logits [N, 3] for `labels` (or the next class), less confident from the first image on."""
    wrong = (labels + 1) % 3
    confidence = torch.linspace(4, 2, len(labels)).unsqueeze(1)
    return torch.nn.functional.one_hot(labels if right else wrong, 3).float() * confidence


def test_mistakes_fall_back_to_training_and_then_say_there_are_none(tmp_path):
    data = tiny_data(tmp_path)
    logits = {"valid": _one_hot(data.valid.labels), "train": _one_hot(data.train.labels, right=False)}
    per_split = training.scores({"m": logits}, data)["m"]
    found = training.mistakes("m", logits, per_split, data, 4)
    assert found.split == "train" and len(found.errors) == 4
    assert found.reading.startswith("1. `train/cat/0.png`") and found.reading.count("\n") == 3
    assert "8 of 8 cat images in this split are called dog" in found.reading
    logits["train"] = _one_hot(data.train.labels)
    none = training.mistakes("m", logits, training.scores({"m": logits}, data)["m"], data, 4)
    assert none.split is None and not none.errors and "makes no mistake" in none.reading


def test_show_mistakes_shows_one_figure_per_erring_model(tmp_path):
    data = tiny_data(tmp_path)
    shown = []

    class FakeStage:
        def show_figure(self, fig, what, caption):
            shown.append((what, caption, len(fig.axes)))

        def say(self, text):
            shown.append(("say", text))

    logits = {"Wrong": {s: _one_hot(split.labels, right=False) for s, split in data.splits().items()},
              "Perfect": {s: _one_hot(split.labels) for s, split in data.splits().items()}}
    training.show_mistakes(FakeStage(), logits, training.scores(logits, data), data, 3)
    what, caption, panels = shown[0]
    assert what == "misclassified_Wrong" and panels == 3
    assert caption == "Wrong: the 3 most confident mistakes on the valid split (shown at 128 px; the model saw 32 px)."
    assert shown[1][0] == "say"
    assert shown[1][1].startswith("1. `valid/cat/0.png` — A cat image confidently called dog")
    assert shown[2] == ("say", "**Perfect** makes no mistake on the validation or training split.")
    assert len(shown) == 3


def test_comparison_names_the_more_accurate_model_and_the_point_difference():
    headline = {
        "Small": {"val_acc": 0.5, "train_acc": 0.6, "params": 1000, "epoch_s": 1.0, "train_img_s": 40.0,
                  "latency_b1_ms": 1.0, "latency_b1_std_ms": 0.1, "size_mb": 0.1, "total_train_s": 1.0},
        "Big": {"val_acc": 0.8, "train_acc": 0.95, "params": 4000, "epoch_s": 2.0, "train_img_s": 20.0,
                "latency_b1_ms": 3.0, "latency_b1_std_ms": 0.2, "size_mb": 0.4, "total_train_s": 2.0},
    }
    text = training.comparison_text(headline, {"Big": 0.72}, 40)
    first, second = text.split("\n")[:2]
    assert first.startswith("- **Big**: 80.0% validation accuracy (95.0% on training, a gap of 15.0 points)")
    assert "the course report had 72%, this run is +8 points from it" in first
    assert "course report" not in second
    assert text.endswith("Big is the more accurate by 30 points (12 of 40 validation images) at 4x the parameters "
                         "and 3x the latency of Small.")
    table = training.comparison_table(headline)
    assert list(table["latency b1 (ms)"]) == ["1.00 ± 0.10", "3.00 ± 0.20"] and "test acc" not in table
    assert "more accurate" not in training.comparison_text({"Big": headline["Big"]}, {}, 40)


def test_summary_and_metrics_have_the_report_keys(run):
    data, _, p, trained, logits, scores = run
    latency = training.latencies(training.models_of(trained), data, CPU, runs=2, warmup=0)
    headline = training.summary(trained, scores, latency, data)
    s = headline["SimpleCNN"]
    for key in ("val_acc", "train_acc", "test_acc", "params", "size_mb", "epoch_s", "total_train_s", "train_img_s",
                "epochs_run", "best_epoch", "latency_b1_ms", "latency_b1_std_ms", "reused", "created_at"):
        assert key in s, key
    assert 0 <= s["val_acc"] <= 1 and 0 <= s["test_acc"] <= 1 and s["epochs_run"] == 2 and 1 <= s["best_epoch"] <= 2
    assert s["size_mb"] == trained["SimpleCNN"].path.stat().st_size / 1e6 and s["latency_b1_ms"] > 0
    assert s["reused"] is False and s["created_at"] == trained["SimpleCNN"].created_at
    out = training.metrics(headline, scores, data, trained, training.recipe(p, data, CPU))
    assert set(out) == {"summary", "scores", "classes", "training", "recipe"}
    assert out["training"]["SimpleCNN"]["best_epoch"] == s["best_epoch"]
    json.dumps(out)  # the metrics file is JSON
    assert isinstance(training.comparison_table(headline), pd.DataFrame)
