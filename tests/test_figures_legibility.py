"""Figures legible in print: the checker (helpers/report/legibility.py) on made-up figures, then
every figure function of the study, built from small synthetic inputs shaped like the real study's
(ten Sports-10 class names, two models, two attacks, four budgets, three compression methods),
checked at its printed width: no text under 7 pt on paper, a colorbar on every colour scale, no
hidden series, no legend over data, and error bars on the rates (about a minute, no notebook run:
tiny ToyNets stand in for the models, so the attacks and maps are real but fast)."""
from __future__ import annotations

import math
from itertools import product
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from helpers.report.legibility import PRINTED_MAX_HEIGHT_IN, PRINTED_WIDTH_IN, check_figure  # noqa: E402

SPORTS = ["baseball", "basketball", "football", "golf", "hockey", "rugby", "swimming", "tennis", "volleyball",
          "weightlifting"]
MODELS = ["SimpleCNN", "ResNetSmall"]
EPS = [0.01, 0.03, 0.05, 0.1]
GOALS = ("untargeted", "targeted")
N_VALID = 50  # Sports-10 has 5 validation images per class


@pytest.fixture(autouse=True)
def _close_figures():
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "font.size": 9})  # as start_stage sets them
    yield
    plt.close("all")


# ---------------------------------------------------------------- the checker itself

def test_text_under_7_pt_fails():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    ax.set_title("tiny", fontsize=4)
    result = check_figure(fig)
    assert not result.ok and result.scale == 1 and result.smallest_pt == pytest.approx(4)
    assert [t["text"] for t in result.small_texts] == ["tiny"]


def test_a_wide_figure_shrinks_its_8_pt_text_below_7_pt():
    fig, ax = plt.subplots(figsize=(2 * PRINTED_WIDTH_IN, 3))
    ax.plot([0, 1], [0, 1])
    ax.tick_params(labelsize=8)
    ax.set_title("wide", fontsize=8)
    result = check_figure(fig)  # the tight box crops the figure's margins: it prints at about 0.6
    assert result.scale == pytest.approx(PRINTED_WIDTH_IN / result.width_in) and result.scale < 0.65
    assert not result.ok and "wide" in [t["text"] for t in result.small_texts]
    half = check_figure(fig, printed_width=result.width_in / 2)  # printed at half its size: 8 pt become 4 pt
    assert half.scale == pytest.approx(0.5) and half.smallest_pt == pytest.approx(4)
    # the same figure at the printed width keeps its 8 pt
    fig.set_size_inches(PRINTED_WIDTH_IN - 0.5, 3)
    assert check_figure(fig).ok and check_figure(fig).smallest_pt == pytest.approx(8)


def test_a_tall_figure_is_limited_by_the_height_the_pdf_allows():
    fig, ax = plt.subplots(figsize=(3, 13.5))
    ax.plot([0, 1], [0, 1])
    result = check_figure(fig)
    assert result.height_in > 10 and result.scale == pytest.approx(PRINTED_MAX_HEIGHT_IN / result.height_in)


def test_a_scalar_map_needs_a_colorbar_a_photo_does_not():
    fig, ax = plt.subplots(figsize=(3, 3))
    im = ax.imshow(np.random.default_rng(0).random((6, 6)), cmap="viridis")
    assert check_figure(fig).no_colorbar == ["AxesImage in 'axes'"]
    fig.colorbar(im, ax=ax)
    assert check_figure(fig).ok
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(np.random.default_rng(0).random((6, 6, 3)))
    assert check_figure(fig).ok


def test_one_colorbar_serves_maps_of_the_same_scale():
    fig, axes = plt.subplots(1, 3, figsize=(6, 2))
    images = [ax.imshow(np.random.default_rng(i).random((4, 4)), vmin=0, vmax=1) for i, ax in enumerate(axes[:2])]
    fig.colorbar(images[0], ax=axes[:2])
    assert check_figure(fig).ok
    axes[2].pcolormesh(np.random.default_rng(3).random((4, 4)), cmap="magma")
    assert check_figure(fig).no_colorbar == ["QuadMesh in 'axes'"]


def test_identical_lines_and_lines_off_the_axes_are_hidden_series():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [0.2, 0.5, 0.4], label="a")
    ax.plot([0, 1, 2], [0.2, 0.5, 0.4], "--", label="b")
    assert check_figure(fig).hidden_series == ["'b' has the same data as 'a' in 'axes'"]
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [0.2, 0.5, 1.4], label="a")
    ax.set_ylim(0, 1)
    assert "'a' has 1 of 3 points outside the limits" in check_figure(fig).hidden_series[0]


def test_error_bar_caps_at_zero_width_are_no_hidden_series():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.errorbar([0, 1], [0.0, 0.0], yerr=[[0, 0], [0.1, 0.2]], capsize=2)
    assert check_figure(fig).ok


def test_a_legend_over_data_is_flagged_and_one_beside_it_is_not():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [1, 1], label="top")
    ax.bar([0.5], [0.3], width=0.2, label="bar")
    ax.legend(loc="upper left")
    assert check_figure(fig).legend_overlaps == ["legend in 'axes' over top in 'axes'"]
    ax.get_legend().remove()
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    assert check_figure(fig).ok


def test_texts_drawn_over_each_other_are_flagged():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.text(0.2, 0.5, "first label", fontsize=9)
    ax.text(0.25, 0.5, "second label", fontsize=9)
    assert check_figure(fig).overlapping_texts == ["'first label' and 'second label' in 'axes'"]


def test_show_figure_records_the_check_in_the_metrics_and_names_a_failing_figure(tmp_path, monkeypatch):
    import json

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from helpers.core import progress
    from helpers.core.layout import RunLayout
    from helpers.study.stage import Stage, StageParameters
    monkeypatch.setenv(progress.ENV_FILE, str(tmp_path / "progress.txt"))  # where the runner reads progress lines
    InteractiveShell.instance()
    stage = Stage("B1_attacks", StageParameters("B1_attacks", {}), RunLayout(tmp_path / "run", tmp_path / "figures"),
                  torch.device("cpu"))
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("tiny", fontsize=4)
    with capture_output():
        stage.show_figure(fig, "tiny", "a figure with a 4 pt title")
    assert (tmp_path / "figures" / "B1_tiny.png").exists()  # saved all the same
    logged = (tmp_path / "progress.txt").read_text()
    assert "figure B1_tiny.png is not legible in print: 1 texts print under 7 pt" in logged
    stage.save_metrics({})
    check = json.loads((tmp_path / "run" / "metrics" / "B1.json").read_text())["figure_checks"]["B1_tiny.png"]
    assert check["ok"] is False and check["smallest_pt"] == 4.0 and check["small_texts"][0]["text"] == "tiny"


def test_the_result_is_json_ready():
    import json
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.set_title("t", fontsize=5)
    d = check_figure(fig).as_dict()
    assert json.loads(json.dumps(d))["ok"] is False and d["small_texts"][0]["pt"] == 5.0


# ---------------------------------------------------------------- inputs shaped like the study's

def _image_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("valid", 3)):
        for c, name in enumerate(SPORTS):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                arr = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
                arr[..., c % 3] = 60 + 15 * c
                Image.fromarray(arr).save(root / split / name / f"img_{i:04d}.jpg", quality=90)
    return root


def make_study(root: Path) -> SimpleNamespace:
    """Data (10 classes, 16 px), two untrained models and the objects the figure functions take."""
    from helpers.data import carve_selection, image_folder
    from helpers.models import build_model

    data = carve_selection(image_folder.load(str(_image_folder(root / "data")), 16, cache_dir=str(root / "cache")),
                           1, 0)
    import tests.plugins.toy  # noqa: F401 (registers ToyNet)
    from helpers.compression.magnitude import prunable

    torch.manual_seed(0)  # the figures name the study's models; tiny ToyNets stand in for them (seconds, not minutes)
    models = {n: build_model("ToyNet", num_classes=len(SPORTS), mean=data.mean, std=data.std).eval() for n in MODELS}
    layers = {n: [(name, m.weight.numel()) for name, m in prunable(build_model(n, num_classes=len(SPORTS)))]
              for n in MODELS}
    return SimpleNamespace(data=data, models=models, layers=layers, rng=np.random.default_rng(1),
                           device=torch.device("cpu"))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_study(tmp_path_factory.mktemp("figs"))


def _rate(rng, n):
    return round(float(rng.random()) * n) / n


def _history(rng, epochs: int, robust: bool = False):
    out = []
    for e in range(1, epochs + 1):
        acc = min(0.95, 0.1 + 0.8 * (1 - math.exp(-e / 10)))
        row = {"epoch": e, "train_loss": 2.3 * math.exp(-e / 15) + 0.2, "select_loss": 2.3 * math.exp(-e / 12) + 0.4,
               "train_acc": round(acc * 400) / 400, "select_acc": round((acc - 0.05) * 20) / 20}
        if robust:
            row["select_score"] = round(acc * 0.6 * 20) / 20
        out.append(row)
    return out


def a1_figures(s):
    from helpers.study import data_overview
    params = {"seed": 0, "jitter": 0.2, "rotation_deg": 15.0, "scale": 0.15, "translate": 0.1}
    integrity = data_overview.check_integrity(s.data, 64, "skip")
    return [(data_overview.counts_figure(s.data), "A1_class_counts"),
            (data_overview.samples_figure(s.data), "A1_samples"),
            (data_overview.pixel_histogram(s.data), "A1_pixel_histogram"),
            (data_overview.augmentation_figure(s.data, params), "A1_augmentation"),
            (data_overview.near_duplicates_figure(s.data, integrity), "A1_near_duplicates")]


def a2_figures(s):
    from helpers.study import training
    trained = {n: SimpleNamespace(result={"history": _history(s.rng, 60 if n == "SimpleCNN" else 30)}) for n in MODELS}
    logits = training.predictions(s.models, s.data, s.device)
    scores = training.scores(logits, s.data)
    out = [(training.curves_figure(trained), "A2_curves (no denominators)"),
           (training.curves_figure(trained, n_train=len(s.data.train), n_select=len(s.data.selection)), "A2_curves"),
           (training.confusion_figure(scores, s.data.classes, "valid"), "A2_confusion_valid"),
           (training.confusion_figure(scores, s.data.classes, "train"), "A2_confusion_train")]
    for n in MODELS:
        found = training.mistakes(n, logits[n], scores[n], s.data, 4)
        out.append((training.mistakes_figure(found, s.data), f"A2_misclassified_{n}"))
    return out


def a3_figures(s):
    from helpers.study import interpretability
    preds = interpretability.predictions(s.models, s.data, s.device)
    correct = interpretability.correct_examples(s.models, s.data, ["basketball", "swimming", "tennis"], preds, s.device)
    errors = interpretability.error_examples(s.models, s.data, preds, s.device)
    return ([(f, f"A3_correct part {k}") for k, f in enumerate(correct.figures(), 1)]
            + [(f, f"A3_misclassified part {k}") for k, f in enumerate(errors.figures(), 1)])


def _grid(s):
    from helpers.attacks.fgsm import FGSM
    from helpers.attacks.pgd import PGD
    from helpers.study import adversarial
    images = s.data.valid.images
    with torch.no_grad():  # the first model gets every input right, so every run has eligible inputs
        labels = s.models[MODELS[0]](images.float() / 255).argmax(1)
    setup = adversarial.Setup(s.models, {}, {"fgsm": FGSM(), "pgd": PGD(steps=5)}, s.data.classes, 1, images, labels,
                              EPS)
    return adversarial.run_grid(setup, 0)


def b1_figures(s):
    from helpers.study import adversarial_figures
    grid = _grid(s)
    out = [(adversarial_figures.success_figure(grid), "B1_success_vs_eps"),
           (adversarial_figures.robust_accuracy_figure(grid), "B1_robust_acc_vs_eps")]
    out += [(fig, f"B1_{what}") for fig, what, _ in adversarial_figures.iteration_figures(grid, 0.03)]
    out += [(fig, f"B1_{what}") for fig, what, _ in adversarial_figures.example_figures(grid, 0.03, 3)[0]]
    return out


def b2_figures(s):
    from helpers.study import transfer
    rng, rows = s.rng, []
    for src, dst in ((MODELS[0], MODELS[1]), (MODELS[1], MODELS[0])):
        for attack in ("fgsm", "pgd"):
            for goal in ("untargeted", "targeted"):
                for eps in EPS:
                    n = 300 if goal == "untargeted" else 270
                    ns = round(rng.random() * n)
                    rows.append({"source": src, "target": dst, "direction": f"{src} → {dst}", "attack": attack,
                                 "goal": goal, "eps": eps, "transfer_rate": _rate(rng, n), "n_eligible": n,
                                 "conditional_transfer_rate": _rate(rng, ns) if ns else float("nan"),
                                 "n_source_success": ns})
    noise = [{"model": m, "eps": e, "n_eligible": 320, "n_success": k, "success_rate": k / 320}
             for m in MODELS for e, k in zip(EPS, (0, 3, 9, 40))]
    t = transfer.Transfer(rows, {"fgsm": "FGSM", "pgd": "PGD"}, {"fgsm": False, "pgd": True}, noise)
    return [(transfer.conditional_figure(t), "B2_conditional_transfer"),
            (transfer.target_success_figure(t), "B2_target_success")]


def b3_figures(s):
    from helpers.defense.fgsm_rs import DefenseConfig
    from helpers.study import hardening, hardening_maps
    trained = SimpleNamespace(result={"history": _history(s.rng, 4, robust=True), "best_epoch": 3})
    rows = [{"model": f"ResNetSmall {v}", "variant": v, "eps": e, "accuracy": _rate(s.rng, N_VALID)}
            for v in ("standard", "robust") for e in [0.0] + EPS]
    evaluation = hardening.Evaluation("ResNetSmall", rows, 1.0, N_VALID, "PGD-50, 2 restarts")
    variants = {"standard": s.models["ResNetSmall"], "robust": s.models["SimpleCNN"]}
    comparison = hardening_maps.compare_maps("ResNetSmall", variants, s.data.valid, ["basketball", "swimming", "tennis"],
                                        s.device)
    return [(hardening.history_figure(trained, DefenseConfig(eps=0.03)), "B3_finetuning (no denominators)"),
            (hardening.history_figure(trained, DefenseConfig(eps=0.03), n_train=len(s.data.train),
                                      n_select=len(s.data.selection)),
             "B3_finetuning"),
            (hardening.accuracy_figure(evaluation), "B3_robust_accuracy"),
            *[(f, f"B3_maps part {k}") for k, f in enumerate(hardening_maps.maps_figures(comparison), 1)]]


def _sweep(s):
    """C1's sweep as records (three methods, the study's targets), the dense models and latencies."""
    from helpers.compression import CompressionRecord, build_method
    from helpers.study.compression import Sweep
    targets = {"global": [0.5, 0.8, 0.9, 0.95], "layerwise": [0.5, 0.8, 0.95], "channel": [2.0, 4.0, 8.0]}
    sweep, rng = Sweep({m: build_method(m, {}) for m in targets}), s.rng
    dense = {n: (None, {"acc": 0.78, "n": N_VALID, "size_mb": mb, "params": p, "macs": macs})
             for n, mb, p, macs in (("SimpleCNN", 1.2, 300_000, 20e6), ("ResNetSmall", 2.8, 700_000, 60e6))}
    for n, (_, d) in dense.items():
        for m, ts in targets.items():
            for t in ts:
                sparse, shrink = (t, 1.0) if m != "channel" else (0.0, t)
                sweep.records.append(CompressionRecord(
                    n, m, "structured" if m == "channel" else "unstructured", t, f"{t:g}",
                    params=int(d["params"] / shrink), nonzero=int(d["params"] * (1 - sparse) / shrink),
                    sparsity=sparse, macs=int(d["macs"] / shrink), acc_pre_ft=_rate(rng, N_VALID),
                    acc=_rate(rng, N_VALID), size_mb=d["size_mb"] / shrink,
                    size_compressed_mb=d["size_mb"] * (1 - sparse) * 0.9 / shrink))
    points = [(n, "dense", "dense") for n in dense] + [(r.model, r.method, r.point) for r in sweep.records]
    latency = pd.DataFrame([{"model": n, "method": m, "point": p, "latency_b1_ms": 1 + rng.random(),
                             "latency_b1_std_ms": 0.05, "latency_b64_ms": 10 + rng.random(), "latency_b64_std_ms": 0.3,
                             "speedup": 0.8 + rng.random(), "speedup_b64": 0.8 + rng.random()} for n, m, p in points])
    return sweep, dense, latency


def c1_figures(s):
    from helpers.study import compression_analysis, compression_latency
    sweep, dense, latency = _sweep(s)
    out = [(fig, f"C1_{what}") for fig, what, _ in compression_analysis.target_figures(sweep, dense)]
    rows = [{"model": n, "layer": layer, "weights": weights, "amount": a, "global_sparsity": float(s.rng.random()),
             "acc_alone": 0.7, "drop_alone": round(s.rng.normal(0.05, 0.1) * N_VALID) / N_VALID, "n": N_VALID}
            for n, layers in s.layers.items() for a in (0.5, 0.8, 0.95) for layer, weights in layers]
    out += [(fig, f"C1_{what}") for fig, what, _ in compression_analysis.sensitivity_figures(pd.DataFrame(rows))]
    out += [(fig, f"C1_{what}") for fig, what, _ in compression_latency.latency_figures(sweep, dense, latency, 64)]
    out.append((compression_latency.speed_figure(sweep, dense, latency), "C1_accuracy_vs_speedup"))
    return out


def _c2_tables(s):
    """C2's replayed fixed sets and white-box attacks: per model the dense one, four global and three
    channel-pruned variants, two attacks, both goals, four budgets."""
    rng, replayed, attacked = s.rng, [], []
    variants = [("dense", "dense", 0.0)] + [("global", f"global {t:g}", t) for t in (0.5, 0.8, 0.9, 0.95)] + [
        ("channel", f"channel {t:g}x", r) for t, r in ((2.0, 0.5), (4.0, 0.75), (8.0, 0.87))]
    for n in MODELS:
        for (m, name, removed), attack, goal, eps in product(variants, ("fgsm", "pgd"), GOALS, EPS):
            row = {"model": n, "name": name, "method": m, "point": name, "removed": removed, "attack": attack,
                   "goal": goal, "eps": eps, "n_eligible": 38 if goal == "untargeted" else 34}
            k, ns = round(rng.random() * row["n_eligible"]), round(rng.random() * 38)
            replayed.append({**row, "acc": 0.76, "n_valid": N_VALID, "n": N_VALID, "n_success": k,
                             "success_rate": k / row["n_eligible"], "n_source_success": ns,
                             "conditional_transfer_rate": _rate(rng, ns) if ns else float("nan")})
            k = round(rng.random() * row["n_eligible"])
            attacked.append({**row, "n_success": k, "success_rate": k / row["n_eligible"]})
    return pd.DataFrame(replayed), pd.DataFrame(attacked)


def c2_figures(s):
    from helpers.study import compressed_robustness
    replayed, attacked = _c2_tables(s)
    out = [(fig, f"C2_{what}") for fig, what, _ in compressed_robustness.fixed_set_figures(replayed, 0.03)]
    # one panel per model, three as in the default study (the smoke study's check caught their x labels overlapping)
    three = pd.concat([attacked, attacked[attacked.model == MODELS[0]].assign(model="EffNetL0-full")])
    out.append((compressed_robustness.robustness_figure(three, "pgd", 0.03), "C2_robustness_vs_removed"))
    return out


STAGES = {"A1": a1_figures, "A2": a2_figures, "A3": a3_figures, "B1": b1_figures, "B2": b2_figures,
          "B3": b3_figures, "C1": c1_figures, "C2": c2_figures}
# the figures whose y values are rates (proportions of counted images): every point needs an error bar
RATES = ("A2_curves", "B1_success_vs_eps", "B1_robust_acc_vs_eps", "B2_", "B3_finetuning", "B3_robust_accuracy",
         "C1_accuracy_vs_", "C2_fixed_set_", "C2_robustness_vs_removed")


def _points_without_error_bars(fig) -> list[str]:
    """Labelled data lines that are neither the data line of an error bar container nor shaded by
    an interval band (a collection with gid figures.INTERVAL + the line's label)."""
    from helpers.report.figures import INTERVAL
    out = []
    for ax in fig.axes:
        if ax.get_ylabel() and not any(w in ax.get_ylabel() for w in ("accuracy", "rate", "share", "success")):
            continue  # another quantity (a loss, a size) beside the rates
        with_bars = {id(c.lines[0]) for c in ax.containers if hasattr(c, "has_yerr") and c.has_yerr}
        bands = {c.get_gid()[len(INTERVAL):] for c in ax.collections if (c.get_gid() or "").startswith(INTERVAL)}
        out += [f"{ax.get_title()}: {ln.get_label()}" for ln in ax.lines
                if ln.get_visible() and not ln.get_label().startswith("_") and len(ln.get_xdata())
                and id(ln) not in with_bars and ln.get_label() not in bands and ln.get_transform() is ax.transData]
    return out


@pytest.mark.parametrize("tag", list(STAGES))
def test_every_figure_of_the_study_is_legible_in_print(study, tag):
    built = STAGES[tag](study)
    assert built and all(fig is not None for fig, _ in built), tag
    failures = []
    for fig, what in built:
        result = check_figure(fig)
        if not result.ok:
            failures.append(f"{what} (smallest {result.smallest_pt:.1f} pt, scale {result.scale:.2f}): "
                            + "; ".join(result.problems()))
        if what.startswith(RATES) and "no denominators" not in what:
            missing = _points_without_error_bars(fig)
            if missing:
                failures.append(f"{what}: rates without error bars: {missing[:4]}")
        plt.close(fig)
    assert not failures, "\n".join(failures)


def test_an_explanation_figure_too_tall_to_print_is_split_into_parts():
    import torch
    from helpers.report.image_figures import explanation_figures
    from helpers.report.legibility import check_figure
    image, m = torch.rand(3, 16, 16), torch.rand(16, 16)
    rows = [{"image": image, "title": f"class {k}\nfile {k}.jpg\n(valid)",
             "maps": [(f"Model{j}\nsaliency\nfor class {k}", m, "saliency") for j in range(6)]} for k in range(4)]
    parts = explanation_figures(rows)
    assert len(parts) > 1 and all(check_figure(f).ok for f in parts)
    assert len(explanation_figures(rows[:1])) == 1
