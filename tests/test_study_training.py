"""helpers.study.training (A2) on tiny synthetic data: 3 classes, 32 px, a SimpleCNN of one epoch."""
import json

import matplotlib
import pytest
import torch

from helpers.config.schema import ParameterError
from helpers.core.layout import RunLayout
from helpers.data import ImageSet, StudyData
from helpers.models import registry
from helpers.models.registry import ModelSpec, count_parameters, get_spec
from helpers.evaluation.intervals import format_rate
from helpers.report import table_fit
from helpers.report.summary import flatten, with_intervals
from helpers.study import model_comparison, training, training_seeds

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
                     image_set("test", 9, 2) if test else None, [0.5] * 3, [0.25] * 3,
                     selection=image_set("selection", 6, 3))


def params(**changes):
    values = {"epochs": 1, "epochs_by_model": {}, "recipe_by_model": {}, "models": ["SimpleCNN"], "batch_size": 8, "lr": 1e-3, "weight_decay": 0.0,
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
    assert recipe["selection images"] == 6
    table = training.recipe_table(recipe).set_index("setting")
    assert table.loc["training precision", "value"] == "off" and table.loc["batch size", "value"] == "8"
    assert "patience" not in table.index and "epochs (SimpleCNN)" in table.index


def test_recipe_text_says_the_settings_in_words_with_their_values():
    text = training.recipe_text(params(epochs=7, epochs_by_model={"SimpleCNN": 3}, warmup_epochs=2, patience=4,
                                       amp="fp32"))
    assert "at most 7 epochs per model (SimpleCNN: 3)" in text
    assert "after 4 epochs without a lower loss on the selection split" in text and "validation" not in text
    assert "warm-up over the first 2 epochs" in text and "label smoothing 0.1" in text and "fp32 throughout" in text
    assert "bf16 autocast forward pass (bf16 is native" in training.recipe_text(params(amp="bf16"))
    for name in ("patience", "epochs_by_model", "warmup_epochs", "label_smoothing", "amp"):
        assert name not in text
    assert "at most 1 epoch per model;" not in training.recipe_text(params())  # no per-model budgets, no brackets
    assert "at most 1 epoch per model and" in training.recipe_text(params())
    # a model with settings of its own is named; a study without any says the recipe is the same for all
    assert "lists on a line of its own for SimpleCNN." in text
    assert training.recipe_text(params()).startswith("Every model trains with the same recipe: AdamW")


def test_the_opening_question_asks_what_the_models_can_answer():
    sports = training.questions_text(["SimpleCNN", "ResNetSmall-w32", "EffNetL0-full"], 1443)
    assert sports.startswith("How accurate can a small classifier trained on 1,443 images be")
    assert "residual network (He et al. 2016) beat a plain CNN" in sports and "pretrained on ImageNet" in sports
    lenet = training.questions_text(["LeNet5", "LeNet-300-100"], 55000)
    assert lenet.endswith("and does a convolutional network beat a multilayer perceptron?")
    assert "residual" not in lenet and "ImageNet" not in lenet
    assert training.questions_text(["SimpleCNN"], 10) == "How accurate can a small classifier trained on 10 images be?"


def test_the_protocol_names_the_choices_of_the_stages_the_study_runs(tmp_path):
    data = tiny_data(tmp_path)
    p = {"selection_per_class": 2, "selection_seed": 0}
    every = training.protocol_text(data, {**p, "stages": []})
    assert ("makes every choice of the study: the kept epoch and early stopping here, B3's kept epoch and hardened "
            "model, the compressed models C2 attacks and the deployment rule.") in every
    lenet = training.protocol_text(data, {**p, "stages": ["A1", "A2", "A3", "B1", "C1", "C2"]})
    assert "B3" not in lenet and "here, the compressed models C2 attacks" in lenet
    assert "study: the kept epoch and early stopping here. " in training.protocol_text(data, {**p, "stages": ["A2"]})


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
    assert training.describe_training(trained).startswith("Every model was trained in this run;")
    again = training.train_all(["SimpleCNN"], data, p, layout, CPU)
    assert again["SimpleCNN"].reused and again["SimpleCNN"].created_at == first.created_at
    text = training.describe_training(again)
    assert f"reused the checkpoint made at {first.created_at}" in text and "[Table](#tab:A2_runs)" in text
    row = training.training_table(again, data).iloc[0]
    assert row["reused"] and row["made at"] == first.created_at and row["epochs run"] == 2
    assert row["img / s"] == pytest.approx(24 / first.result["epoch_s"])


def test_scores_and_tables_match_the_predictions(run):
    data, _, _, _, logits, scores = run
    assert list(logits["SimpleCNN"]) == ["train", "selection", "valid", "test"]
    expected = float((logits["SimpleCNN"]["valid"].argmax(1) == data.valid.labels).float().mean())
    acc = training.accuracy_table(scores).iloc[0]
    assert acc["validation accuracy (n=12)"] == format_rate(expected, 12) and "test accuracy (n=9)" in acc
    assert "selection accuracy (n=6)" in acc  # the split that chose the kept epoch, beside the reported one
    per_class = training.per_class_table(scores, data.classes)
    assert list(per_class["class"]) == CLASSES and per_class["support"].sum() == 12
    recall = scores["SimpleCNN"]["valid"]["per_class"]["dog"]["recall"]
    assert per_class.set_index("class").loc["dog", "SimpleCNN R"] == recall
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
    assert found.reading.startswith("1. `train/cat/0.png`: cat confidently called dog")
    assert "cat → dog (8 of 8 cat images)" in found.reading and found.reading.count("cat → dog") == 1
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
    assert caption.startswith("Wrong: the 3 most confident mistakes on the validation split")
    assert shown[1][0] == "say"
    assert shown[1][1].startswith("**Wrong** ([Figure](#fig:A2_misclassified_Wrong)), most confident first:\n\n"
                                  "1. `valid/cat/0.png`: cat confidently called dog")
    assert "Systematic confusions" in shown[1][1] and "in training" in shown[1][1]
    assert shown[2] == ("say", "**Perfect** makes no mistake on the validation or training split.")
    assert len(shown) == 3


def test_comparison_gives_intervals_and_compares_the_models_image_by_image(tmp_path):
    data = tiny_data(tmp_path)  # 24 training and 12 validation images
    headline = {
        "Small": {"val_acc": 6 / 12, "train_acc": 12 / 24, "select_acc": 3 / 6, "params": 1000, "epoch_s": 1.0, "train_img_s": 40.0,
                  "size_mb": 0.1, "total_train_s": 1.0},
        "Big": {"val_acc": 9 / 12, "train_acc": 21 / 24, "select_acc": 5 / 6, "params": 4000, "epoch_s": 2.0, "train_img_s": 20.0,
                "size_mb": 0.4, "total_train_s": 2.0},
    }
    text = model_comparison.comparison_text(headline, {"Big": 0.72}, data, None, "Doe (2020, table 3)")
    lines = text.split("\n")
    big = next(line for line in lines if line.startswith("- **Big**"))
    assert big.startswith(f"- **Big**: validation accuracy {format_rate(0.75, 12)}, training {format_rate(21 / 24, 24)}")
    assert "Doe (2020, table 3) reports 0.72: this run is 3 points above it, and 0.72 lies inside this run's interval" in big
    assert "Doe" not in next(line for line in lines if line.startswith("- **Small**"))
    scores = {"Small": {"selection": {"correct": "111000"}, "valid": {"correct": "1" * 6 + "0" * 6}},
              "Big": {"selection": {"correct": "111110"}, "valid": {"correct": "1" * 9 + "0" * 3}}}
    pairs = model_comparison.paired_comparisons(headline, scores, 0.05)
    assert set(pairs) == {"Big_vs_Small"} and pairs["Big_vs_Small"]["valid"]["only_a"] == 3
    text = model_comparison.comparison_text(headline, {"Big": 0.72}, data, pairs, "Doe (2020, table 3)")
    with pytest.raises(ValueError, match="'reference_source' must name"):
        model_comparison.comparison_text(headline, {"Big": 0.72}, data, pairs)
    assert "Is Big, with 4× the parameters, more accurate than Small? On the same images, selection split: 2 images " \
           "right only for Big, 0 only for Small" in text
    assert "Neither split resolves the difference: the study calls neither the more accurate" in text
    assert "latency" not in text.split("\n\n")[-2] and "timed round-robin side by side here" in text
    far = {"Small": {"selection": {"correct": "000000"}, "valid": {"correct": "0" * 12}},
           "Big": {"selection": {"correct": "111111"}, "valid": {"correct": "1" * 12}}}
    resolved = model_comparison.comparison_text(headline, {}, data, model_comparison.paired_comparisons(headline, far, 0.05))
    assert "The difference is resolved on the selection and valid split." in resolved
    table = model_comparison.comparison_table(headline, data)
    assert list(table["val acc"]) == [format_rate(0.5, 12), format_rate(0.75, 12)] and "test acc" not in table
    assert list(table["select acc"]) == [format_rate(0.5, 6), format_rate(5 / 6, 6)]
    assert not [c for c in table.columns if "latency" in c]
    # seven models with a frozen part: sizes, latencies and seconds to their useful digits leave the
    # intervals room for one line (with three decimals each, a quarter of the cells wrapped in print)
    wide = {f"M{i}": {**headline["Big"], "params": 3_383_818, "trained_params": 12_810 + i, "size_mb": 13.807, "batch1_ms": 9.955,
                      "total_train_s": 238.657} for i in range(7)}
    wide_table = model_comparison.comparison_table(wide, data)
    assert list(wide_table.iloc[0][["size (MB)", "batch-1 ms", "training s"]]) == ["13.8", "9.96", "239"]
    assert table_fit.wrapped_share(wide_table) == 0
    assert "ahead" not in model_comparison.comparison_text({"Big": headline["Big"]}, {}, data)


def test_summary_and_metrics_have_the_report_keys_and_the_denominators(run):
    data, _, p, trained, logits, scores = run
    headline = training.summary(trained, scores, data)
    s = headline["SimpleCNN"]
    for key in ("val_acc", "select_acc", "train_acc", "test_acc", "params", "size_mb", "epoch_s", "total_train_s", "train_img_s",
                "epochs_run", "best_epoch", "reused", "created_at"):
        assert key in s, key
    assert not [k for k in s if "latency" in k]  # measured once, in C1
    assert 0 <= s["val_acc"] <= 1 and 0 <= s["test_acc"] <= 1 and s["epochs_run"] == 2 and 1 <= s["best_epoch"] <= 2
    assert s["size_mb"] == trained["SimpleCNN"].path.stat().st_size / 1e6
    assert s["reused"] is False and s["created_at"] == trained["SimpleCNN"].created_at
    out = training.metrics(headline, scores, data, trained, training.recipe(p, data, CPU))
    assert set(out) == {"summary", "denominators", "scores", "classes", "training", "recipe", "seed_sweep"}
    assert out["denominators"] == {"*.train_acc": 24, "*.select_acc": 6, "*.val_acc": 12, "*.test_acc": 9}
    assert out["training"]["SimpleCNN"]["best_epoch"] == s["best_epoch"]
    json.dumps(out)  # the metrics file is JSON
    flat = with_intervals(flatten(out["summary"]), out["denominators"], "A2")
    assert flat["SimpleCNN.val_acc.n"] == 12 and flat["SimpleCNN.test_acc.n"] == 9
    assert flat["SimpleCNN.train_acc.ci_low"] <= s["train_acc"] <= flat["SimpleCNN.train_acc.ci_high"]


def _seed_runs(accs_by_seed, skipped=()):
    """SeedRuns as run_point returns them, for model M: {seed: (val_acc, reused)}."""
    results = [{"name": f"seed={seed}", "run_dir": f"/r/seed={seed}", "seconds": 5.0, "error": None,
                "stages": {"A2_training": "skipped" if seed in skipped else 4.0},
                "summary": {"A2.M.val_acc": acc, "A2.M.reused": reused, "A2.M.created_at": f"t{seed}",
                            "A2.M.total_train_s": 30.0 + seed}} for seed, (acc, reused) in accs_by_seed.items()]
    return training_seeds.SeedRuns(list(accs_by_seed), results, 12.0)


def test_seed_variance_table_keys_and_text():
    headline = {"M": {"val_acc": 0.6}}
    runs = _seed_runs({1: (0.5, False), 2: (0.7, True)})
    stats = training_seeds.seed_stats(headline, runs, 0)
    assert stats["M"]["seeds"] == [0, 1, 2] and stats["M"]["val_accs"] == [0.6, 0.5, 0.7]
    assert stats["M"]["mean"] == pytest.approx(0.6) and stats["M"]["std"] == pytest.approx(0.1)
    keys = training_seeds.with_seed_keys(headline, stats)["M"]
    assert keys["val_acc_seed_mean"] == pytest.approx(0.6) and keys["val_acc_seed_std"] == pytest.approx(0.1)
    assert keys["val_acc_seeds"] == [0.6, 0.5, 0.7] and keys["n_seeds"] == 3 and keys["val_acc"] == 0.6
    row = training_seeds.seed_table(stats, 50).iloc[0]
    assert row["seed 0 (study)"] == format_rate(0.6, 50) and row["seed 2"] == format_rate(0.7, 50)
    assert row["mean ± std"] == "0.60 ± 0.10"
    text = training_seeds.seed_text(stats, runs, 50)
    assert "[Table](#tab:A2_seeds)" in text and "0.60 ± 0.10 over the seeds" in text
    # the Wilson half-width of 30 of 50 is ±13.1 points
    assert ("a spread of 10.0 points against ±13.1): the spread over seeds is comparable to the half-width of the "
            "interval; seed and validation sample weigh alike." in text)
    assert "seed 1: M trained in this run in 31 s; seed 2: M reused the checkpoint made at t2" in text
    skipped = training_seeds.seed_stats(headline, _seed_runs({1: (0.5, False)}, skipped=(1,)), 0)
    assert skipped["M"]["reused"] == [True]  # an up-to-date seed run trained nothing now
    assert training_seeds.seed_metrics(runs)["points"][1] == {"name": "seed=2", "run_dir": "/r/seed=2",
                                                              "stages": {"A2_training": 4.0}, "seconds": 5.0}


def test_no_extra_seeds_is_said_and_the_main_seed_is_refused(tmp_path):
    headline = {"M": {"val_acc": 0.6}}
    none = training_seeds.SeedRuns()
    stats = training_seeds.seed_stats(headline, none, 0)
    assert training_seeds.with_seed_keys(headline, stats)["M"]["val_acc_seed_std"] is None
    assert list(training_seeds.seed_table(stats, 50).columns) == ["model", "seed 0 (study)", "mean ± std"]
    assert "No extra training seeds" in training_seeds.seed_text(stats, none, 50)
    layout = RunLayout(tmp_path / "run", tmp_path / "run" / "figures")
    assert training_seeds.run_seeds({"seed": 0}, layout, []).seeds == []
    with pytest.raises(ValueError, match="repeats the main seed 0"):
        training_seeds.run_seeds({"seed": 0}, layout, [0, 1])


def test_a_frozen_backbone_trains_its_head_only_and_reports_the_features_time(tmp_path):
    """EffNetL0-frozen through train_all: features computed once (their seconds in the training
    time), the backbone untouched, the head trained; the runs table counts the trained parameters."""
    from helpers.models.zoo.efficientnet_lite0 import EfficientNetLite0

    data = tiny_data(tmp_path)
    layout = RunLayout(tmp_path / "run", tmp_path / "run" / "figures")
    trained = training.train_all(["EffNetL0-frozen"], data, params(models=["EffNetL0-frozen"]), layout, CPU)["EffNetL0-frozen"]
    fresh = EfficientNetLite0(trainable="head")
    assert torch.equal(trained.model._blocks[5]._depthwise_conv.weight, fresh._blocks[5]._depthwise_conv.weight)
    assert not torch.equal(trained.model._fc.weight, fresh._fc.weight)
    r = trained.result
    assert r["cached_features"] and 0 < r["inputs_s"] < r["total_train_s"] and "augment False" in str(
        training.recipe(params(models=["EffNetL0-frozen"], augment=True), data, CPU)["recipe (EffNetL0-frozen)"])
    row = training.training_table({"EffNetL0-frozen": trained}, data).iloc[0]
    assert row["trained parameters"] == 1280 * 3 + 3 and row["frozen features s"] == r["inputs_s"]  # three classes
