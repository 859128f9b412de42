"""Sweeps (helpers.sweep, helpers.pipeline.sweep): grid parsing and its errors, the points' run
directories and overrides, aggregation, and a two-point smoke sweep of A2 on a local Dask cluster
(the toy plugin's synthetic data and model, one epoch)."""
import json
import os

import pandas as pd
import pytest
import yaml

from helpers import sweep as sweep_cli
from helpers.config.schema import ParameterError
from helpers.pipeline import sweep


def test_grid_values_are_yaml_and_commas_inside_brackets_do_not_split():
    grid = sweep.parse_grid(["seed=0,1,2", "models=[SimpleCNN],[SimpleCNN, ResNetSmall]", "lr=0.001,2.0e-3"])
    assert grid == {"seed": [0, 1, 2], "models": [["SimpleCNN"], ["SimpleCNN", "ResNetSmall"]], "lr": [0.001, 0.002]}
    assert sweep.split_values("'a,b',[1,{x: 2}],3") == ["'a,b'", "[1,{x: 2}]", "3"]


@pytest.mark.parametrize("items, message", [
    (["sed=0,1"], "unknown parameter 'sed' in --grid; did you mean 'seed'"),
    (["seed=0,one"], "parameter 'seed' in --grid is 'one'"),
    (["seed"], "expected name=value1,value2"),
    (["seed="], "expected name=value1,value2"),
    (["=1,2"], "expected name=value1,value2"),
    (["seed=0,,1"], "an empty value between commas"),
    (["seed=0,1", "seed=2"], "already on the grid"),
    (["models=[a,b"], "is not valid YAML"),
    ([], "at least one --grid"),
])
def test_bad_grids_are_errors_that_name_the_problem(items, message):
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace("[", r"\[")):
        sweep.parse_grid(items)


def test_points_multiply_and_each_gets_its_own_directories(tmp_path):
    points = sweep.grid_points({"lr": [0.1, 0.2], "seed": [0, 1]})
    assert points == [{"lr": 0.1, "seed": 0}, {"lr": 0.1, "seed": 1}, {"lr": 0.2, "seed": 0}, {"lr": 0.2, "seed": 1}]
    assert sweep.point_name(points[1]) == "lr=0.1,seed=1"
    assert sweep.point_name({"models": ["A", "B"]}) == "models=A+B"
    overrides = dict(item.split("=", 1) for item in sweep.point_overrides({"seed": 1}, tmp_path / "seed=1"))
    values = {k: yaml.safe_load(v) for k, v in overrides.items()}
    assert values == {"seed": 1, "run_dir": str(tmp_path / "seed=1"), "figures_dir": str(tmp_path / "seed=1/figures"),
                      "report_dir": str(tmp_path / "seed=1/report"), "seed_sweep": []}


def _result(name, point, accs, error=None):
    return {"name": name, "point": point, "seconds": 2.0, "error": error, "run_dir": f"/r/{name}", "stages": {},
            "summary": {"A2.M.val_acc": accs[0], "A2.M.val_acc.ci_low": 0.1, "A2.M.train_acc": accs[1],
                        "A2.M.params": 10}}


def test_aggregate_tabulates_the_proportions_and_their_mean_and_std():
    results = [_result("seed=0", {"seed": 0}, (0.5, 0.9)), _result("seed=1", {"seed": 1}, (0.7, 1.0))]
    table = sweep.aggregate(results)
    assert list(table.columns) == ["point", "seed", "seconds", "error", "A2.M.val_acc", "A2.M.train_acc"]
    rows = table.set_index("point")
    assert rows.loc["seed=1", "A2.M.val_acc"] == 0.7
    assert rows.loc["mean", "A2.M.val_acc"] == pytest.approx(0.6)
    assert rows.loc["std", "A2.M.val_acc"] == pytest.approx(0.1414, abs=1e-4)  # sample std of 0.5 and 0.7
    only = sweep.aggregate(results, ["*.params"])
    assert [c for c in only.columns if c.startswith("A2")] == ["A2.M.params"] and len(only) == 4
    single = sweep.aggregate(results[:1])
    assert list(single["point"]) == ["seed=0"]  # no spread rows for one point


def test_the_cli_reports_a_bad_grid_before_anything_runs(tmp_path, capsys):
    pfile = tmp_path / "p.yaml"
    pfile.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "run")}))
    assert sweep_cli.main([str(pfile), "--grid", "epoch=1,2", "A2"]) == 2
    assert "unknown parameter 'epoch' in --grid; did you mean 'epochs'" in capsys.readouterr().err
    assert sweep_cli.main([str(pfile), "--grid", "models=[VGG]", "A2"]) == 2
    assert "VGG" in capsys.readouterr().err
    assert sweep_cli.main([str(pfile), "--grid", "seed=0,1", "Z9"]) == 2
    assert "no notebook 'Z9'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


TOY = {"plugins": ["tests.plugins.toy"], "dataset": "toy_grey", "models": ["ToyNet"], "image_size": 24,
       "subset_per_class": 6, "selection_per_class": 2, "epochs": 1, "warmup_epochs": 0, "batch_size": 8,
       "n_misclassified": 2}


def test_a_two_point_sweep_runs_on_a_local_dask_cluster_and_reuses_its_points(tmp_path, capsys):
    pfile = tmp_path / "toy.yaml"
    pfile.write_text(yaml.safe_dump({**TOY, "run_dir": str(tmp_path / "run"), "cache_dir": str(tmp_path / "cache")}))
    assert sweep_cli.main([str(pfile), "--grid", "seed=0,1", "A2", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    root = tmp_path / "run" / "sweep"
    table = pd.read_csv(root / "sweep.csv")
    assert list(table["point"]) == ["seed=0", "seed=1", "mean", "std"] and "A2.ToyNet.val_acc" in out
    for seed in (0, 1):
        metrics = json.loads((root / f"seed={seed}" / "metrics" / "A2.json").read_text())
        assert metrics["params"]["seed"] == seed and metrics["params"]["seed_sweep"] == []  # no nested sweep
        assert table.loc[seed, "A2.ToyNet.val_acc"] == metrics["summary"]["ToyNet"]["val_acc"]
        assert (root / f"seed={seed}" / "figures" / "A2_curves.png").exists()
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing of the main run is written
    saved = json.loads((root / "sweep.json").read_text())
    assert saved["grid"] == {"seed": [0, 1]} and saved["stages"] == ["A2_training"]
    assert all(p["stages"] == {"A2_training": pytest.approx(p["stages"]["A2_training"])} for p in saved["points"])
    # a local worker's point gets this machine's cores, not Dask's one-thread default
    assert {p["threads"] for p in saved["points"]} == {str(max(1, (os.cpu_count() or 1) // 1))}
    # a rerun of a point reuses it: its stage is skipped when up to date, or (when the helpers code
    # changed meanwhile) reruns and reuses the checkpoint trained by the same recipe, data and code
    assert sweep_cli.main([str(pfile), "--grid", "seed=1", "A2", "--name", "again"]) == 0
    [point] = json.loads((root / "again.json").read_text())["points"]
    assert point["run_dir"] == str(root / "seed=1")
    assert point["stages"] == {"A2_training": "skipped"} or point["summary"]["A2.ToyNet.reused"] is True
    assert point["summary"]["A2.ToyNet.created_at"] == saved["points"][1]["summary"]["A2.ToyNet.created_at"]


def test_a_point_gets_the_threads_it_is_given(monkeypatch):
    from helpers.pipeline.sweep import THREAD_VARIABLES, give_point_its_cores
    for var in THREAD_VARIABLES:
        monkeypatch.setenv(var, "1")  # what Dask sets in its workers
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    give_point_its_cores(2)
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
    assert all(os.environ[var] == "2" for var in THREAD_VARIABLES)
    give_point_its_cores(0)
    assert not any(var in os.environ for var in THREAD_VARIABLES)
