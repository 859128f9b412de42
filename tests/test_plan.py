"""The plan of a run: the work counted per stage, the calibration and its cache, the estimate, and
`python -m helpers.run PARAMS --plan`, which prints the plan and runs nothing."""
import pytest
import torch
import yaml

import tests.plugins.toy  # noqa: F401  (registers ToyNet and the grey toy dataset)
from helpers.config.schema import defaults
from helpers.pipeline import calibration, plan, stage_work
from helpers.pipeline.stage_work import Sizes, Work

RATES = {"A": {"train": 100.0, "attack": 50.0, "eval": 1000.0, "batch1_ms": 2.0},
         "B": {"train": 10.0, "attack": 5.0, "eval": 100.0, "batch1_ms": 20.0}}
SIZES = Sizes(train=90, selection=10, valid=20, test=0, classes=5)


def params(**changes):
    return {**defaults(), "models": ["A", "B"], **changes}


def test_work_seconds_are_units_over_the_calibrated_rate():
    assert Work("x", "A", "train", 200).seconds(RATES) == 2.0
    assert Work("x", "B", "attack", 10, factor=0.5).seconds(RATES) == 1.0
    assert Work("x", "A", "batch1", 500).seconds(RATES) == 1.0


def test_a2_counts_every_epoch_of_every_model_and_extra_seed():
    p = params(epochs=4, epochs_by_model={"B": 2}, seed_sweep=[1])
    items = stage_work.a2(p, SIZES, RATES)
    trained = {m: sum(w.units for w in items if w.model == m and w.kind == "train") for m in "AB"}
    assert trained == {"A": 2 * 4 * 90, "B": 2 * 2 * 90}  # main seed and seed 1
    selection = sum(w.units for w in items if w.model == "A" and "selection" in w.what)
    assert selection == 2 * 4 * 10  # the selection split after each epoch


def test_b1_runs_every_step_of_every_attack_goal_and_eps():
    p = params(attacks=["fgsm", "pgd"], pgd_steps=7, attack_eps=[0.01, 0.03])
    items = stage_work.b1(p, SIZES, RATES)
    steps = {(w.model, w.what.split(":")[1].split()[0]): w.units for w in items}
    assert steps[("A", "FGSM")] == 20 * 1 * 2 * 2 and steps[("B", "PGD")] == 20 * 7 * 2 * 2


def test_stop_on_success_work_lies_between_a_quick_fool_and_every_step():
    quick, full = stage_work.PRIOR_STEPS_TO_FOOL, 50
    for eps in (0.01, 0.03, 0.1):
        steps = stage_work.stop_on_success_steps(eps, full)
        assert stage_work.PRIOR_CLEAN_ACC * quick < steps < full
    assert stage_work.stop_on_success_steps(0.03, 50, robust=True) > stage_work.stop_on_success_steps(0.03, 50)
    assert stage_work.stop_on_success_steps(0.01, 50, restarts=2) > stage_work.stop_on_success_steps(0.01, 50)


def test_the_plan_adds_each_stage_overhead_and_skips_stages_that_are_up_to_date(monkeypatch):
    monkeypatch.setattr("helpers.data.split_sizes", lambda values: SIZES.__dict__)
    p = params(epochs=1, epochs_by_model={}, seed_sweep=[])
    made = plan.make_plan("p.yaml", p, {"A2_training": False, "B2_transfer": True}, {}, RATES)
    a2 = made.stages["A2_training"]
    assert a2.estimate_s == pytest.approx(plan.OVERHEAD_S["A2_training"] + sum(w.seconds(RATES) for w in a2.items))
    assert made.total_s == a2.estimate_s  # B2 is up to date: nothing to run
    machine = {"device": "cpu", "cpu": "a CPU", "cpu_capability": "AVX2", "threads": 2, "precision": "fp32",
               "amp": "auto"}
    made.machine = machine
    made.rates = {m: {**r, "cached": True, "measured_at": "then"} for m, r in RATES.items()}
    lines = plan.plan_lines(made)
    assert "training precision fp32 (amp: auto)" in lines[0] and "90 training, 10 selection, 20 validation" in lines[0]
    assert any(line.strip().startswith("B2_transfer") and "up to date: skipped" in line for line in lines)
    assert any("A: 90 training images" in line for line in lines) and lines[-1].startswith("  estimated total ~")
    assert "rates of B (cached, measured then)" in "\n".join(lines)


def test_calibration_measures_each_model_once_per_machine_and_precision(tmp_path, monkeypatch):
    cache = tmp_path / "calibration.json"
    rates = calibration.calibrate(["ToyNet"], (1, 16, 16), torch.device("cpu"), "fp32", batch_size=8,
                                  augmentation={}, cache=cache, seconds=0.02, log=lambda *_: None)
    r = rates["ToyNet"]
    assert not r["cached"] and all(r[k] > 0 for k in calibration.MEASURES) and cache.exists()

    def no_timing(*a, **k):
        raise AssertionError("measured again although cached")

    monkeypatch.setattr(calibration, "measure_model", no_timing)
    again = calibration.calibrate(["ToyNet"], (1, 16, 16), torch.device("cpu"), "fp32", batch_size=8,
                                  augmentation={}, cache=cache, seconds=0.02, log=lambda *_: None)
    assert again["ToyNet"]["cached"] and again["ToyNet"]["train"] == r["train"]
    with pytest.raises(AssertionError, match="measured again"):  # another precision is another calibration
        calibration.calibrate(["ToyNet"], (1, 16, 16), torch.device("cpu"), "bf16", batch_size=8, augmentation={},
                              cache=cache, seconds=0.02, log=lambda *_: None)


def test_run_plan_prints_the_plan_and_runs_nothing(tmp_path, capsys):
    from helpers.run import main

    pfile = tmp_path / "toy.yaml"
    pfile.write_text(yaml.safe_dump({"plugins": ["tests.plugins.toy"], "dataset": "toy_grey", "models": ["ToyNet"],
                                     "image_size": 16, "subset_per_class": 6, "selection_per_class": 2, "epochs": 3,
                                     "run_dir": str(tmp_path / "run"), "cache_dir": str(tmp_path / "cache" / "images"),
                                     "calibration_seconds": 0.02, "seed_sweep": [], "amp": "fp32"}))
    assert main([str(pfile), "--plan"]) == 0
    out = capsys.readouterr().out
    assert "training precision fp32 (amp: fp32); 12 training, 6 selection, 9 validation images" in out
    assert "A2_training" in out and "ToyNet: 36 training images" in out and "estimated total" in out  # 3 epochs × 12
    assert not (tmp_path / "run").exists()  # nothing written: the next run is still cold
    assert (tmp_path / "cache" / "calibration.json").exists()


def test_the_calibration_cache_stays_in_the_project():
    """A study that caches no images (`cache_dir: ""`, the LeNet study) wrote calibration.json above
    the project root; it goes to the project's .cache/ instead."""
    from helpers.core.files import ROOT
    assert calibration.cache_path({"cache_dir": ""}) == ROOT / ".cache" / "calibration.json"
    assert calibration.cache_path({"cache_dir": ".cache/images"}) == ROOT / ".cache" / "calibration.json"
    assert calibration.cache_path({"cache_dir": "/x/cache"}).as_posix() == "/x/calibration.json"
