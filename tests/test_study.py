"""End to end: every notebook through papermill with the smoke parameters, then the report.

The smoke study also carries the test plugin (tests/plugins/toy.py): a toy model, a toy attack and
a toy compression method flow through training, attacks, C1, C2 and the report without any
notebook naming them."""
import json
import re
import subprocess
import sys
import unicodedata

import pytest
import yaml

from helpers.config import notebook_cells
from helpers.config.model_overrides import for_model
from helpers.config.schema import ParameterError
from helpers.core.files import ROOT
from helpers.pipeline import runner as run
from helpers.report import checks
from helpers.report.__main__ import main as report_main
from helpers.report.summary import missing_intervals

pytestmark = pytest.mark.slow
NOTEBOOKS = [p.stem for p in notebook_cells.notebook_paths()]
# the default study's half-width ResNet: at 16 px a third of the 64-wide one's time
MODELS = ("SimpleCNN", "ResNetSmall-w32", "ToyNet")
TOY = {"plugins": ["tests.plugins.toy"], "models": list(MODELS), "attacks": ["fgsm", "pgd", "toy_noise"],
       "compression_methods": ["global", "layerwise", "channel", "toy_halving", "int8"],
       "whitebox_methods": ["channel", "toy_halving"]}
NEW_METHODS = ["relevance", "slimming", "lottery"]
PLACEHOLDERS = ("placeholder", "todo", "tbd", "lorem ipsum", "xxx", "to be filled", "coming soon")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, sports10):
    base = tmp_path_factory.mktemp("smoke")
    values = yaml.safe_load((ROOT / "parameters" / "smoke.yaml").read_text())
    values.update(run_dir=str(base / "run"), cache_dir=str(base / "cache"), report_dir=str(base / "report"), **TOY)
    # the methods that make their points together, and a channel criterion, on the one model with BatchNorm
    # and no residual sums (ResNetSmall-w32 keeps its own list, ToyNet has no BatchNorm)
    values["model_overrides"]["SimpleCNN"] = {"compression_methods": [*TOY["compression_methods"], *NEW_METHODS]}
    pfile = base / "smoke.yaml"
    pfile.write_text(yaml.safe_dump(values))
    lines = []
    done = run.run(str(pfile), log=lines.append)
    (base / "log.txt").write_text("\n".join(lines))
    return base, pfile, done


def test_every_notebook_runs_and_writes_its_outputs(smoke):
    base, _, done = smoke
    assert list(done) == NOTEBOOKS and all(isinstance(v, float) for v in done.values())
    for nb in NOTEBOOKS:
        assert (base / "run" / "notebooks" / f"{nb}.ipynb").exists()
        metrics = json.loads((base / "run" / "metrics" / f"{nb.split('_')[0]}.json").read_text())
        assert metrics["figures"], nb
        for fig in metrics["figures"]:
            assert (base / "run" / "figures" / fig).stat().st_size > 1000
        # every figure legible at its printed width: text >= 7 pt, colorbars, no hidden series
        bad = {k: v for k, v in metrics["figure_checks"].items() if not v["ok"]}
        assert not bad, f"{nb}: {bad}"
        # every table fits its columns without wrapping most cells (helpers/report/table_fit.py)
        wraps = {k: v for k, v in metrics["table_checks"].items() if not v["ok"]}
        assert not wraps, f"{nb}: {wraps}"
        # every image in the notebook is a captioned figure of show_figure (no stray inline drawing)
        executed = json.loads((base / "run" / "notebooks" / f"{nb}.ipynb").read_text())
        stray = [i for i, c in enumerate(executed["cells"]) for o in c.get("outputs", [])
                 if "image/png" in o.get("data", {}) and not o.get("metadata", {}).get("pdf_skip")]
        assert not stray, f"{nb}: uncaptioned figures in cells {stray}"
    for model in MODELS:
        assert (base / "run" / "checkpoints" / f"{model}-original.pt").exists()
        assert (base / "run" / "adversarial" / f"{model}.pt").exists()  # B1's fixed set, for B2 and C2
    assert not list((base / "run").rglob("*.partial*"))
    # progress lines of the stages reached the runner's log: stage, task, k/n, elapsed and time left
    log = (base / "log.txt").read_text()
    assert re.search(r"A2_training SimpleCNN: 1/1, .* elapsed, ~.* left \(epoch 1 of 1", log), log[:2000]
    assert re.search(r"C1_compression compression channel: \d/\d", log) and "C2_robustness white-box attacks" in log
    # a cold run records its stage times for the report
    run_metrics = json.loads((base / "run" / "metrics" / "run.json").read_text())
    assert set(run_metrics["cold_stage_s"]) == set(NOTEBOOKS) and run_metrics["cold_total_s"] > 0
    # ... beside the plan printed before the first stage, whose estimate it keeps
    assert log.index("plan of ") < log.index("A1_data: running") and "estimated total" in log
    assert set(run_metrics["cold_planned_s"]) == set(NOTEBOOKS) and run_metrics["cold_planned_total_s"] > 0
    # amp: auto became a precision this machine runs natively, and every stage trained with it
    assert run_metrics["amp"] == "auto" and run_metrics["precision"] in ("bf16", "fp32")
    a2 = json.loads((base / "run" / "metrics" / "A2.json").read_text())
    assert a2["params"]["amp"] == run_metrics["precision"]
    assert {r["precision"] for r in a2["training"].values()} == {run_metrics["precision"]}


def test_runner_validates_before_running(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"run_dir: {tmp_path / 'run'}\nimage_sise: 32\n")
    with pytest.raises(ParameterError, match="image_sise.*image_size"):
        run.run(str(bad))
    assert not (tmp_path / "run").exists()
    good = tmp_path / "good.yaml"
    good.write_text(f"run_dir: {tmp_path / 'run'}\n")
    with pytest.raises(ParameterError, match="parameter 'epochs' in --set"):
        run.run(str(good), overrides=["epochs=many"])
    assert not (tmp_path / "run").exists()
    with pytest.raises(run.RunError, match="no notebook 'Z9'"):
        run.select_notebooks(["Z9"])


def test_plain_papermill_run_rejects_an_unknown_parameter(smoke, tmp_path):
    base, _, _ = smoke
    out = tmp_path / "out.ipynb"
    proc = subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / "A1_data.ipynb"), str(out),
                           "-p", "run_dir", str(tmp_path / "r"), "-p", "subset_per_class", "1",
                           "-p", "imag_size", "32"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode != 0
    assert "unknown parameter 'imag_size'" in proc.stderr + proc.stdout


def test_report_has_sections_every_figure_and_no_placeholder(smoke):
    base, pfile, _ = smoke
    assert report_main([str(pfile)]) == 0
    pdf = base / "report" / "report.pdf"
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for heading in ("Problem A — The data (A1)", "Dataset overview", "Integrity",
                    "Problem A — Training and evaluation (A2)", "Evaluation", "Comparison",
                    "Problem A — Interpretability (A3)", "Where Grad-CAM looks",
                    "What the models look at", "Problem B — Adversarial attacks (B1)", "Sanity checks",
                    "A stronger evaluation: APGD", "Success against ε", "The fixed adversarial set",
                    "Problem B — Transferability (B2)", "Transfer between the models",
                    "Problem B — A defense: adversarial fine-tuning (B3)", "Clean against robust accuracy",
                    "What the robust model looks at", "Problem C — Compression (C1)", "The methods",
                    "Accuracy and size at every target", "Which layers are most sensitive",
                    "Latency: every model timed together", "Compressed models side by side",
                    "Problem C — Robustness of compressed models (C2)",
                    "White-box attacks on the compressed models", "What compression did to robustness",
                    "Deployment recommendation", "Reproducing this report"):
        assert heading in text, heading
    for heading in ("Abstract", "Contents", "Executive summary", "Key findings", "Conclusions", "Limitations",
                    "References", "Appendix: examples and per-layer details", "A2: misclassified examples",
                    "B1: adversarial examples", "C1: sensitivity of each layer", "Appendix: settings of this run",
                    "A3: correctly classified examples", "B1: iterations to success per model",
                    "B2: the attacks and noise, direction by direction"):
        assert heading in text, heading
    # the example panels and per-layer details print after the references, not in the main text
    pages = checks.pdf_pages(pdf)
    references = next(i for i, p in enumerate(pages) if re.search(r"^\s*\d+\s+References\s*$", p, re.MULTILINE))
    assert max(i for i, p in enumerate(pages) if "B1: adversarial examples" in p) > references
    assert 0 < checks.main_text_pages(pages) < len(pages)
    figures = sorted((base / "run" / "figures").glob("*.png"))
    assert figures
    tex = (base / "report" / "report.tex").read_text()
    for fig in figures:  # every figure is in the report, numbered, and its file name is no caption
        assert f"{{{fig.name}}}" in tex, f"{fig.name} not in the report"
    assert "Figure 1:" in text and "Table 1:" in text
    pages = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert len(pages.strip().splitlines()) - 2 >= len(figures)  # every figure is embedded as an image
    # Greek and math survive the LaTeX route (A1's preprocessing text); math italic 𝜃 reads as θ.
    plain = unicodedata.normalize("NFKC", text)
    assert all(ch in plain for ch in "θμσ∼ε∞"), [ch for ch in "θμσ∼ε∞" if ch not in plain]
    lowered = text.lower()
    assert not [p for p in PLACEHOLDERS if p in lowered]
    assert "Traceback" not in text
    summary = json.loads((base / "report" / "summary.json").read_text())
    for model in MODELS:
        for key in ("val_acc", "train_acc", "params", "size_mb", "epoch_s", "total_train_s",
                    "val_acc_seed_mean", "n_seeds"):
            assert isinstance(summary[f"A2.{model}.{key}"], (int, float)), key
        assert 0 <= summary[f"A2.{model}.val_acc"] <= 1
        assert summary[f"A2.{model}.val_acc.ci_low"] <= summary[f"A2.{model}.val_acc"] <= summary[f"A2.{model}.val_acc.ci_high"]
        seeds = 1 if model == "ResNetSmall-w32" else 2  # seeds 0 and 1, but ResNetSmall-w32 opts out (model_overrides)
        assert summary[f"A2.{model}.n_seeds"] == seeds and len(summary[f"A2.{model}.val_acc_seeds"]) == seeds
    assert summary["run.total_s"] > 0 and summary["run.cold_total_s"] > 0
    assert set(summary) >= {f"run.cold_stage_s.{nb}" for nb in NOTEBOOKS} | {f"run.cold_planned_s.{nb}" for nb in NOTEBOOKS}
    assert {"run.device", "run.precision", "run.cpu", "run.threads"} <= set(summary)
    assert all(summary[f"run.calibration.{m}.train_img_s"] > 0 for m in MODELS)
    for model in MODELS:
        assert 0 <= summary[f"A3.{model}.gradcam_centre_fraction"] <= 1
    values = yaml.safe_load(pfile.read_text())
    eps_grid = [f"eps{e:g}" for e in values.get("attack_eps", [0.01, 0.03, 0.05, 0.1])]
    for m in MODELS:
        for attack in TOY["attacks"]:
            for goal in ("untargeted", "targeted"):
                for eps in eps_grid:
                    key = f"B1.{m}.{attack}.{goal}.{eps}"
                    assert 0 <= summary[f"{key}.robust_acc"] <= 1, key
                    if summary.get(f"{key}.n_eligible") == 0:  # e.g. a one-epoch model that predicts the target
                        assert summary[f"{key}.linf"] is None, key  # class everywhere: no norm to state
                    else:
                        assert 0 <= summary[f"{key}.linf"] <= float(eps[3:]) + 1e-6, key
                    for stat in ("success_rate", "l2", "confidence"):
                        assert f"{key}.{stat}" in summary, f"{key}.{stat}"
                    for src, dst in ((m, n) for n in MODELS if n != m):
                        assert f"B2.{src}_to_{dst}.{attack}.{goal}.{eps}.transfer_rate" in summary
    hardened = [m for m in MODELS if f"B1.defense.{m}.clean_acc" in summary]
    assert len(hardened) == 1
    for eps in eps_grid:
        assert 0 <= summary[f"B1.defense.{hardened[0]}.pgd_robust_acc.{eps}"] <= 1
        assert 0 <= summary[f"B1.defense.standard.{hardened[0]}.pgd_robust_acc.{eps}"] <= 1
    targets = values["compression_targets"]
    for m in MODELS:
        own = for_model(values, m)  # ResNetSmall-w32 has its own methods and targets (model_overrides)
        for method in set(own["compression_methods"]) & {"global", "layerwise"}:
            for ratio in {**values["compression_targets"], **own["compression_targets"]}[method]:
                key = f"C1.{m}.{method}.s{ratio:g}"
                assert abs(summary[f"{key}.sparsity"] - ratio) < 0.01, key
                assert summary[f"{key}.nonzero"] < summary[f"A2.{m}.params"]
                assert summary[f"{key}.size_compressed_mb"] < summary[f"{key}.size_mb"]
                for stat in ("acc_pre_ft", "acc"):
                    assert 0 <= summary[f"{key}.{stat}"] <= 1, key
                assert summary[f"{key}.latency_b1_ms"] > 0
                for attack in TOY["attacks"]:
                    for goal in ("untargeted", "targeted"):
                        assert f"C2.{m}.{method}.s{ratio:g}.{attack}.{goal}.success_rate" in summary
        first, same = targets["channel"]
        key = f"C1.{m}.channel.{first:g}x"
        assert summary[f"{key}.macs"] < summary[f"C1.{m}.dense.macs"], key
        assert 0 <= summary[f"{key}.acc"] <= 1 and summary[f"{key}.latency_b1_ms"] > 0 and summary[f"{key}.speedup"] > 0
        # a target that rounds to widths already trained is skipped, and the notebook says so
        assert f"C1.{m}.channel.{same:g}x.acc" not in summary
        c1 = (base / "run" / "notebooks" / "C1_compression.ipynb").read_text()
        assert f"{m} {same:g}x (the same widths as {first:g}x)" in c1
        assert isinstance(summary[f"C2.{m}.recommended"], str)
        assert 0 <= summary[f"C2.{m}.dense.whitebox.pgd.untargeted.{eps_grid[-1]}.success_rate"] <= 1
        # the plugin's compression method went through C1 and was attacked white-box in C2 (but on ResNetSmall-w32,
        # whose own methods leave it out)
        if "toy_halving" in for_model(values, m)["compression_methods"]:
            assert 0 <= summary[f"C1.{m}.toy_halving.0.5.acc"] <= 1
            assert 0 <= summary[f"C2.{m}.toy_halving.0.5.whitebox.toy_noise.untargeted.{eps_grid[0]}.success_rate"] <= 1
    for plugin_word in ("ToyNet", "toy_halving", "toy_noise"):
        assert plugin_word in text, plugin_word
    assert "Reproducing this report" in text and "cold run" in text and "the plan had estimated" in text


def test_report_numbers_references_and_contents_are_right(smoke):
    """Numbered figures and tables each referenced from the text, no file name as a caption, no
    parameter identifier in the narrative, an interval for every proportion in summary.json, and
    contents whose page numbers are the pages of the headings."""
    base, pfile, _ = smoke
    pdf = base / "report" / "report.pdf"
    if not pdf.exists():
        assert report_main([str(pfile)]) == 0
    tex = (base / "report" / "report.tex").read_text()
    labels, refs = checks.labels_and_references(tex)
    assert [lb for lb in labels if lb.startswith("fig:")] and [lb for lb in labels if lb.startswith("tab:")]
    assert len(labels) == len(set(labels))
    assert checks.unreferenced(tex) == [], "figures/tables no text refers to ([Figure](#fig:...))"
    assert checks.file_name_captions(tex) == []
    assert not re.search(r"\\textbf\{(Figure|Table)\}", tex), "old-style **Figure**/**Table** captions remain"
    executed = [base / "run" / "notebooks" / f"{nb}.ipynb" for nb in NOTEBOOKS]
    narrative = checks.narrative_of(executed)
    assert checks.parameter_names_in_prose(narrative) == []
    assert checks.missing_references(narrative) == []
    summary = json.loads((base / "report" / "summary.json").read_text())
    assert missing_intervals(summary) == []
    assert checks.contents_mismatches(pdf) == []


def test_compare_pairs_two_runs_image_by_image(smoke, capsys):
    from helpers import compare

    base, _, _ = smoke
    assert compare.main([str(base / "run"), str(base / "run"), "--splits", "selection", "valid"]) == 0
    lines = capsys.readouterr().out.splitlines()
    from helpers.study.model_setup import a2_models

    models = a2_models(json.loads((base / "run" / "metrics" / "A2.json").read_text())["params"])
    assert len(lines) == 2 * len(models) and all(any(f" {m}: " in line for line in lines) for m in models), lines
    # a run against itself: no discordant image, so nothing is resolved and the interval is [0, 0]
    assert all("0 right only" in line and "p = 1" in line and "[+0.000, +0.000]" in line
               and "not resolved" in line for line in lines), lines


def test_a_model_with_its_own_settings_gets_them_and_the_report_says_so(smoke):
    """smoke.yaml's model_overrides give ResNetSmall-w32 no extra seed, 3 PGD and APGD steps, two
    compression points, no per-layer sensitivity and one method attacked again; SimpleCNN keeps the study's."""
    from helpers.robustness import load_adversarial_set

    base, _, _ = smoke
    metrics = {t: json.loads((base / "run" / "metrics" / f"{t}.json").read_text()) for t in ("A2", "C1", "C2")}
    assert metrics["A2"]["summary"]["ResNetSmall-w32"]["n_seeds"] == 1
    assert metrics["A2"]["summary"]["SimpleCNN"]["n_seeds"] == 2
    steps = {m: load_adversarial_set(base / "run" / "adversarial" / f"{m}.pt")["metadata"]["pgd_steps"]
             for m in ("SimpleCNN", "ResNetSmall-w32")}
    assert steps == {"SimpleCNN": 5, "ResNetSmall-w32": 3}
    points = {(r["model"], r["method"], r["point"]) for r in metrics["C1"]["records"] if not r["skipped"]}
    assert {p[1:] for p in points if p[0] == "ResNetSmall-w32"} == {("global", "s0.5"), ("channel", "2x")}
    # ... its channel targets are the study's (2.05 rounds to the widths of 2.0: skipped)
    assert ("SimpleCNN", "layerwise", "s0.8") in points
    assert {r["model"] for r in metrics["C1"]["sensitivity"]} == {"SimpleCNN", "ToyNet"}
    for nb, said in (("B1_attacks", "ResNetSmall-w32: 3 PGD steps (the study's 5), 3 APGD steps (the study's 5)"),
                     ("C1_compression",
                      "ResNetSmall-w32: compression methods global and channel (the study's global, "),
                     ("C2_robustness",
                      "ResNetSmall-w32: 3 PGD steps (the study's 5), methods attacked white-box again: "
                      "channel (the study's channel and toy_halving)")):
        cells = json.loads((base / "run" / "notebooks" / f"{nb}.ipynb").read_text())["cells"]
        shown = "".join("".join(o.get("data", {}).get("text/markdown", "")) for c in cells for o in c.get("outputs", []))
        assert "Not every model gets the same settings" in shown and said in shown, nb


def test_the_explorer_runs_under_papermill_on_the_finished_run(smoke, tmp_path):
    """The explorer notebook on the smoke run, showing an int8 graph (attacked through its fp32 source):
    papermill keeps its static figure and summary line; the comparison tab has C1's and C2's columns."""
    import papermill as pm

    from helpers.explorer.compare import comparison_table
    from helpers.explorer.run import ExplorerRun

    base, pfile, _ = smoke
    run = ExplorerRun(str(pfile))
    int8 = [v for v in run.variants("SimpleCNN") if v.method == "int8"]
    assert int8 and all(v.source for v in int8)
    out = tmp_path / "explorer.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "explorer.ipynb"), str(out), cwd=str(ROOT), progress_bar=False,
                        parameters={"param_file": str(pfile), "variant": int8[0].label, "eps": 0.03})
    executed = json.loads(out.read_text())
    outputs = [o for c in executed["cells"] for o in c.get("outputs", [])]
    # the widgets' state is saved with the notebook, so its HTML export shows them as they were
    state = executed["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(m["model_name"] == "FloatSliderModel" and m["state"]["value"] == 0.03 for m in state.values())
    html = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--stdout", str(out)],
                          capture_output=True, text=True, check=True).stdout
    assert "application/vnd.jupyter.widget-state+json" in html and "FloatSliderModel" in html
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert f"SimpleCNN {int8[0].label}" in text and "L∞ = " in text
    assert any("image/png" in o.get("data", {}) for o in outputs)
    table = comparison_table(run, "SimpleCNN")
    assert len(table) == len(run.variants("SimpleCNN")) - run.layout.hardened("SimpleCNN").exists()
    assert {"accuracy", "file MB", "batch-1 ms"} <= set(table.columns)
    assert any(c.startswith("fixed-set pgd success") for c in table.columns)


def test_stage_records_hold_their_artifacts_and_a_damaged_one_reruns_its_stage(smoke):
    from helpers.core.files import load_json
    from helpers.pipeline import artifacts

    base, pfile, _ = smoke
    stages = base / "run" / "stages"
    records = {p.stem: load_json(p) for p in sorted(stages.glob("[A-C][0-9]_*.json"))}
    assert sorted(records) == NOTEBOOKS
    owned = artifacts.latest_writers(records)
    for stem, files in owned.items():
        assert files and artifacts.damaged(files) == [], stem
    metrics = base / "run" / "metrics" / "A1.json"
    assert any(k.endswith("metrics/A1.json") for k in records["A1_data"]["artifacts"])
    metrics.write_bytes(metrics.read_bytes()[:40])
    lines = []
    done = run.run(str(pfile), ["A1"], log=lines.append)
    assert isinstance(done["A1_data"], float)
    assert any("A1_data is up to date by its key, but" in l and "A1.json: content differs" in l for l in lines)
    assert load_json(metrics) and artifacts.damaged(load_json(stages / "A1_data.json")["artifacts"]) == []


def test_up_to_date_stages_are_skipped_and_changes_rerun(smoke):
    base, pfile, _ = smoke
    assert set(run.run(str(pfile), log=lambda *_: None).values()) == {"skipped"}
    assert run.run(str(pfile), ["A2"], log=lambda *_: None) == {"A2_training": "skipped"}
    values = yaml.safe_load(pfile.read_text())
    # A2 parameters: A1 stays, A2 reruns (and reuses its checkpoints); without the extra seed it reruns
    # in seconds (the test runs last, as the run's A2 no longer has the seed the other tests read)
    values.update(n_misclassified=3, seed_sweep=[])
    changed = base / "changed.yaml"
    changed.write_text(yaml.safe_dump(values))
    # a partial run keys a stage on the outputs it reads: while A2 is stale B3 stays up to date ...
    warnings = []
    assert run.run(str(changed), ["B3"], log=warnings.append) == {"B3_defense": "skipped"}
    assert any("A2_training" in w and "not up to date" in w for w in warnings)
    # ... and once A2 reruns, B3 (which hardens A2's checkpoint) reruns too; the other stages would add
    # minutes and no assertion
    done = run.run(str(changed), ["A1", "A2", "B3"], log=lambda *_: None)
    assert done["A1_data"] == "skipped" and isinstance(done["A2_training"], float)
    assert isinstance(done["B3_defense"], float)
