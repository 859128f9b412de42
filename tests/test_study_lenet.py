"""The second study end to end at smoke size: LeNet-5 and LeNet-300-100 on Fashion-MNIST through the
stages its parameter file names, into a report of its own name (parameters/lenet5-fashion.yaml)."""
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers.core.files import ROOT
from helpers.pipeline import runner as run
from helpers.report.__main__ import main as report_main

pytestmark = pytest.mark.slow
FASHION = Path("/usr/share/datasets/fashion-mnist")
STAGES = ["A1_data", "A2_training", "A3_interpretability", "B1_attacks", "C1_compression", "C2_robustness"]
SMOKE = {"subset_per_class": 20, "selection_per_class": 5, "epochs": 1, "warmup_epochs": 0, "batch_size": 32,
         "attack_subset_per_class": 4, "attack_eps": [0.03, 0.1], "pgd_steps": 3, "apgd_steps": 3, "n_examples": 2,
         "n_misclassified": 2, "sanity_min_fooled": 0.0, "alpha": 0.0, "calibration_seconds": 0.1,
         "compression_targets": {"global": [0.8], "han": [0.9], "oneshot": [0.5], "lottery": [0.3], "channel": [2.0],
                                 "relevance": [2.0], "random_channels": [2.0]},
         "compression_budgets": {"global": {"epochs": 1}, "han": {"epochs": 1}, "oneshot": {"epochs": 1},
                                 "channel": {"epochs": 1}, "relevance": {"epochs": 1}, "random_channels": {"epochs": 1}},
         "latency_runs": 3, "latency_warmup": 1, "latency_batch_runs": 3, "latency_batch": 4, "latency_rounds": 3}


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    if not FASHION.is_dir():
        pytest.skip("Fashion-MNIST is not installed (make setup installs dataset-fashion-mnist)")
    base = tmp_path_factory.mktemp("lenet")
    values = yaml.safe_load((ROOT / "parameters" / "lenet5-fashion.yaml").read_text())
    values.update(SMOKE, run_dir=str(base / "run"), figures_dir=str(base / "figures"), report_dir=str(base / "report"))
    pfile = base / "lenet.yaml"
    pfile.write_text(yaml.safe_dump(values))
    done = run.run(str(pfile), log=lambda *_: None)
    return base, pfile, done


def test_the_study_runs_the_stages_it_names(lenet):
    base, _, done = lenet
    assert list(done) == STAGES  # no B2 (one model family) and no B3 (no defense)
    for stem in STAGES:
        metrics = json.loads((base / "run" / "metrics" / f"{stem.split('_')[0]}.json").read_text())
        assert not {k: v for k, v in metrics.get("figure_checks", {}).items() if not v["ok"]}, stem
        assert not {k: v for k, v in metrics.get("table_checks", {}).items() if not v["ok"]}, stem
    assert not list((base / "run" / "notebooks").glob("B[23]_*"))
    assert all(f.parent == base / "figures" for f in (base / "figures").rglob("*.png"))
    run_metrics = json.loads((base / "run" / "metrics" / "run.json").read_text())
    assert set(run_metrics["cold_stage_s"]) == set(STAGES)  # a cold run of this study is complete without B2, B3
    c1 = json.loads((base / "run" / "metrics" / "C1.json").read_text())
    han = [r for r in c1["records"] if r["method"] == "han"] if "records" in c1 else []
    assert han and all(r["finetune_epochs"] == 3 for r in han)  # three rounds of one epoch


def test_its_report_has_its_own_name_and_no_missing_stage(lenet):
    base, pfile, _ = lenet
    assert report_main([str(pfile)]) == 0
    pdf, summary = base / "report" / "lenet5-fashion.pdf", base / "report" / "lenet5-fashion.summary.json"
    assert pdf.exists() and summary.exists() and not (base / "report" / "report.pdf").exists()
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "LeNet-300-100" in text and "Fashion-MNIST" in text
    assert "Transferability (B2)" not in text and "adversarial fine-tuning (B3)" not in text  # no section of them
    # nor a section or question of a model family or stage it does not have (empty sections are left out)
    text = " ".join(text.replace("-\n", "-").replace("\u2019", "'").split())  # the PDF's lines joined, plain quotes
    assert "Pretrained models and the pixel grid" not in text and "robust model of B3" not in text
    assert "residual network" not in text and "does a convolutional network beat a multilayer perceptron" in text
    assert "B3's kept epoch" not in text and "the hardened model" not in text
    s = json.loads(summary.read_text())
    assert 0 <= s["A2.LeNet5.val_acc"] <= 1 and any(k.startswith("C1.LeNet5.han.") for k in s)
