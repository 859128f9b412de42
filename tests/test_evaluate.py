import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, f1_score

from helpers import bench
from helpers.core.files import atomic_path
from helpers.evaluation import latency, metrics as evaluate, throughput
from helpers.evaluation.predict import predict
from helpers.models import build_model


def test_classification_metrics_match_sklearn():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (60,), generator=g)
    logits = torch.randn(60, 4, generator=g)
    m = evaluate.classification_metrics(labels, logits, ["a", "b", "c", "d"])
    pred = logits.argmax(1).numpy()
    assert m["accuracy"] == pytest.approx(accuracy_score(labels.numpy(), pred))
    assert m["macro_f1"] == pytest.approx(f1_score(labels.numpy(), pred, average="macro"))
    assert np.asarray(m["confusion"]).sum() == 60
    assert np.trace(np.asarray(m["confusion"])) == round(m["accuracy"] * 60)


def test_misclassified_most_confident_first_with_true_rank():
    labels = torch.tensor([0, 1, 2, 0])
    logits = torch.tensor([[5.0, 0, 0], [3.0, 0, 1], [0, 9.0, 0], [0, 0, 1.0]])
    errs = evaluate.misclassified(labels, logits, 10)
    assert [e["index"] for e in errs] == [2, 1, 3]
    assert errs[0]["pred"] == 1 and errs[0]["true_rank"] >= 2 and len(errs[0]["top3"]) == 3
    text = evaluate.reading_of_error(errs[0], ["x", "y", "z"])
    p = errs[0]["p_pred"]
    assert text.startswith(f"z confidently called y (p={p:.2f});") and "z ranks #2" in text


def _error(true, pred, p_pred, p_true, rank):
    return {"true": true, "pred": pred, "p_pred": p_pred, "p_true": p_true, "true_rank": rank}


def test_readings_differ_where_the_numbers_differ():
    classes = ["x", "y", "z"]
    near = evaluate.reading_of_error(_error(0, 1, 0.45, 0.40, 2), classes)
    far = evaluate.reading_of_error(_error(0, 1, 0.90, 0.05, 2), classes)
    lost = evaluate.reading_of_error(_error(0, 2, 0.30, 0.01, 5), classes)
    assert near == "x moderately called y (p=0.45); a near miss: x is second, 0.05 behind (p=0.40)."
    assert far == "x confidently called y (p=0.90); x ranks #2 with p=0.05, 0.85 behind."
    assert lost == "x hesitantly called z (p=0.30); x is not in the top 3 (rank #5, p=0.010)."


def test_each_confusion_is_counted_once_systematic_or_isolated():
    classes = ["x", "y", "z"]
    confusion = [[1, 3, 0], [0, 4, 1], [0, 0, 4]]
    errors = [_error(0, 1, 0.9, 0.1, 2), _error(1, 2, 0.8, 0.1, 2), _error(0, 1, 0.7, 0.2, 2)]
    text = evaluate.confusion_summary(errors, classes, confusion, [[5, 2, 0], [0, 5, 0], [0, 0, 5]])
    assert text == ("Systematic confusions (the same wrong class for several images of a class): x → y (3 of 4 x "
                    "images; 2 in training). One confusion is isolated (a single image of its class): y → z (1 of 5 y "
                    "images; 0 in training).")
    assert text.count("x → y") == 1  # two mistakes of the same pair are summarized once
    assert "in training" not in evaluate.confusion_summary(errors[1:2], classes, confusion)


def test_predict_and_latency_keep_the_model_mode():
    m = build_model("SimpleCNN").train()
    images = torch.randint(0, 255, (5, 3, 32, 32), dtype=torch.uint8)
    out = predict(m, images, torch.device("cpu"))
    assert out.shape == (5, 10) and m.training
    # float images in [0, 1] (adversarial inputs) are taken as they are, uint8 ones are scaled
    assert torch.allclose(predict(m, images.float() / 255, torch.device("cpu")), out, atol=1e-5)
    mean, std = latency.latency_ms(m, (1, 3, 32, 32), torch.device("cpu"), runs=5, warmup=1)
    assert mean > 0 and std >= 0 and m.training


def test_latencies_are_timed_round_robin():
    calls = []
    models = {}
    for name in ("a", "b", "c"):
        m = build_model("SimpleCNN").train()
        m.register_forward_hook(lambda mod, inp, out, name=name: calls.append(name))  # copied with the model
        models[name] = m
    timed = latency.latencies_ms(models, (1, 3, 32, 32), torch.device("cpu"), runs=6, warmup=2, rounds=3)
    assert set(timed) == {"a", "b", "c"} and all(mean > 0 and std >= 0 for mean, std in timed.values())
    assert all(m.training for m in models.values())
    warm, timed_calls = calls[:6], calls[6:]
    assert warm == ["a", "a", "b", "b", "c", "c"]
    # three rounds of one untimed and two timed passes per model, the starting model rotating: drift
    # falls on all alike
    assert timed_calls == [m for r in ("abc", "bca", "cab") for m in r for _ in range(3)]


def test_atomic_path_leaves_nothing_behind_on_failure(tmp_path):
    dest = tmp_path / "metrics.json"
    dest.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(dest) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert dest.read_text() == "old" and list(tmp_path.iterdir()) == [dest]


def test_bench_prints_one_line_per_model_and_size_with_fp32_beside_the_auto_precision(capsys):
    assert bench.main(["--models", "SimpleCNN", "--sizes", "32", "--runs", "3", "--no-course", "--seconds", "0.2",
                       "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    import re
    assert re.search(r"^SimpleCNN 32 px train: fp32 \d+ img/s .*; (auto is fp32 here|bf16 \(auto\) \d+ img/s, [\d.]+x fp32)$",
                     out, re.M), out
    assert "amp: auto trains in" in out
    assert re.search(r"^SimpleCNN 32 px batch-1 latency: [\d.]+ ± [\d.]+ ms", out, re.M)


def test_bench_levers_compare_each_setting_with_its_baseline(capsys, monkeypatch):
    import torch
    monkeypatch.setattr(torch, "compile", lambda model: model)  # inductor takes a minute; the line is what is tested
    assert bench.main(["--models", "SimpleCNN", "--sizes", "16", "--levers", "--seconds", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "SimpleCNN 16 px fp32 training step: channels-last" in out and "torch.compile" in out
    assert "SimpleCNN 16 px evaluation (fp32): batch 16" in out


def test_course_pipeline_baseline_runs_on_an_image_folder(image_folder):
    ips = throughput.course_pipeline_throughput(build_model("SimpleCNN", num_classes=3), str(image_folder), 32,
                                           min_seconds=0, batch_size=4, workers=0)
    assert ips > 0


def test_latency_noise_is_the_spread_of_an_identical_model_against_itself():
    from helpers.evaluation.latency import noise_figure, round_robin_ms, same_model_ratios

    per_round = {"a": [[1.0, 1.0], [2.0, 2.0], [1.0, 1.0]], "a copy": [[1.1, 1.1], [2.0, 2.0], [0.8, 0.8]]}
    ratios = same_model_ratios(per_round, [("a", "a copy")])
    assert ratios == pytest.approx([1.1, 1.0, 0.8])
    assert noise_figure(ratios, 0.95) == pytest.approx(0.2) and noise_figure(ratios, 0.5) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="no identical-model timings"):
        noise_figure([])
    timed = round_robin_ms({"m": torch.nn.Linear(4, 2)}, (1, 4), torch.device("cpu"), runs=6, warmup=1, rounds=3)
    assert [len(block) for block in timed["m"]] == [2, 2, 2]
