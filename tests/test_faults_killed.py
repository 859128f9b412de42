"""Fault injection, killed runs and determinism (`make faults`; minutes, so not part of `make test`).

`python -m helpers.run <params> --report` is killed with SIGKILL (the runner and its notebook
kernel, as an out-of-memory kill or a closed laptop lid would) during A2's training, during a C1
fine-tune and during the report build, and rerun each time. The rerun must resume (finished epochs
and compressed points are not redone), leave every artifact complete (each loads and matches the
SHA-256 its stage recorded; no temporary file is left), and end with the metrics of an
uninterrupted run, bit for bit. Two fresh runs with the same parameters agree bit for bit; another
`seed` gives other metrics.

Timing fields (seconds, latencies, speedups, dates) are left out of the comparisons: they measure
the machine, not the model.
"""
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import yaml

from helpers.core.files import ROOT, load_json
from helpers.core.layout import RunLayout
from helpers.pipeline import artifacts

pytestmark = [pytest.mark.slow, pytest.mark.faults]

# one model, so the stages that compare models (B2) and harden one (B3) are left out
STUDY = dict(stages=["A1", "A2", "B1", "C1", "C2"], models=["SimpleCNN"], image_size=32, subset_per_class=60,
             selection_per_class=8, epochs=4,
             epochs_by_model={}, seed_sweep=[], training_only_models=[], compression_methods=["channel"],
             compression_targets={"channel": [2.0, 3.0]}, compression_budgets={"channel": {"epochs": 3}},
             whitebox_methods=["channel"], model_overrides={})
# what a key of a metrics file measures when it times the machine rather than the model
TIMING = re.compile(r"(^|_| )(s|ms|seconds|time|times|latency|speedup|speed|img_s|created_at|finished|measured_at|"
                    r"reused|cached|calibration|rate|rates|threads|cpu|machine)($|_| )", re.I)
# and what names the run or its files: a checkpoint holds its training times and date beside the weights,
# so its bytes, digest and size (by one 64-byte zip record) differ; the weights are compared instead
NOT_RESULTS = re.compile(r"^(run_dir|report_dir|cache_dir|figures_dir|size_mb|checkpoint .*)$")


def _params(base: Path, name: str, **changes) -> Path:
    values = yaml.safe_load((ROOT / "parameters" / "smoke.yaml").read_text())
    run = base / name
    values.update(STUDY, run_dir=str(run / "run"), cache_dir=str(base / "cache"), report_dir=str(run / "report"),
                  **changes)
    path = base / f"{name}.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def _start(pfile: Path, log: Path, report: bool = True, stages: tuple[str, ...] = ()) -> subprocess.Popen:
    """`python -m helpers.run` on `pfile` in the background, its output appended to `log`."""
    cmd = [sys.executable, "-m", "helpers.run", str(pfile), *stages, *(["--report"] if report else [])]
    with log.open("a") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def _finish(pfile: Path, log: Path, report: bool = True, stages: tuple[str, ...] = ()) -> None:
    """The same run to its end; it must succeed."""
    assert _start(pfile, log, report, stages).wait() == 0, log.read_text()[-3000:]


def _kill_when(proc: subprocess.Popen, ready, what: str, timeout: float = 900) -> float:
    """SIGKILL the runner and every process under it (the notebook kernel, xelatex) as soon as
    `ready()`; returns the seconds it waited. Fails when the run ends first."""
    t0 = time.perf_counter()
    while not ready():
        assert proc.poll() is None, f"the run ended (rc {proc.returncode}) before {what}"
        assert time.perf_counter() - t0 < timeout, f"no {what} after {timeout} s"
        time.sleep(0.02)
    family = [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
    for pid in family:
        try:
            psutil.Process(pid).kill()
        except psutil.NoSuchProcess:
            pass
    proc.wait()
    return time.perf_counter() - t0


def _strip_timing(value):
    if isinstance(value, dict):
        return {k: _strip_timing(v) for k, v in value.items()
                if not TIMING.search(str(k)) and not NOT_RESULTS.match(str(k))}
    if isinstance(value, list):
        return [_strip_timing(v) for v in value]
    return value


def metrics_of(run_dir: Path) -> dict[str, object]:
    """Every metrics file of a run, timing fields left out."""
    return {p.name: _strip_timing(load_json(p)) for p in sorted((run_dir / "metrics").glob("*.json"))
            if p.name != "run.json"}


def _tensors(state: dict) -> dict:
    """A state dict's tensors as nested lists (so `_differences` compares them bit for bit)."""
    return {k: (v.tolist() if isinstance(v, torch.Tensor) else _tensors(v) if isinstance(v, dict) else v)
            for k, v in state.items()}


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k), f"{prefix}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{prefix}[{i}]")]
    return [] if a == b else [f"{prefix}: {a!r} vs {b!r}"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sports10):
    """(reference run dir, killed-and-resumed run dir, its log, what each kill found)."""
    base = tmp_path_factory.mktemp("faults")
    reference = _params(base, "reference")
    _finish(reference, base / "reference.log", report=False)
    killed = _params(base, "killed")
    layout = RunLayout.from_params(yaml.safe_load(killed.read_text()))
    log, found = base / "killed.log", {}

    state = RunLayout.train_state(layout.trained("SimpleCNN"))
    proc = _start(killed, log, report=True)
    _kill_when(proc, state.exists, "A2's first epoch")
    found["A2 epochs done"] = torch.load(state, weights_only=True)["loop"]["epoch"]
    log.write_text(log.read_text() + "\n=== killed during A2\n")

    points = layout.root / "checkpoints" / "channel"
    done_points = lambda: sorted(p for p in points.glob("SimpleCNN-*.pt")  # noqa: E731
                                 if ".partial" not in p.name and "train-state" not in p.name)
    proc = _start(killed, log, report=True)
    _kill_when(proc, lambda: len(done_points()) >= 1, "C1's first fine-tuned point")
    found["C1 points done"] = {p.name: p.stat().st_mtime_ns for p in done_points()}
    log.write_text(log.read_text() + "\n=== killed during C1\n")

    def latex_running():
        try:
            return any(c.name() == "xelatex" for c in psutil.Process(proc.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            return False
    proc = _start(killed, log, report=True)
    _kill_when(proc, latex_running, "the report's LaTeX run")
    found["report existed when killed"] = (layout.root.parent / "report" / "report.pdf").exists()
    log.write_text(log.read_text() + "\n=== killed during the report\n")

    _finish(killed, log)
    return base, RunLayout.from_params(yaml.safe_load(reference.read_text())), layout, log, found


def test_a2_resumes_after_its_finished_epochs(runs):
    _, _, layout, log, found = runs
    text = log.read_text()
    after = text.split("=== killed during A2", 1)[1]
    done = found["A2 epochs done"]
    assert 1 <= done < STUDY["epochs"]
    assert f"SimpleCNN: resuming after epoch {done} of {STUDY['epochs']}" in after
    assert not re.search(r"SimpleCNN: 1/\d+ .*\(epoch 1 of", after)  # epoch 1 is not trained again


def test_c1_keeps_its_finished_points(runs):
    _, _, layout, _, found = runs
    for name, mtime in found["C1 points done"].items():
        assert (layout.root / "checkpoints" / "channel" / name).stat().st_mtime_ns == mtime, name


def test_every_artifact_is_complete_and_nothing_partial_is_left(runs):
    _, _, layout, _, _ = runs
    folders = [layout.root, layout.figures, layout.root.parent / "report"]
    assert [str(p) for f in folders for p in f.rglob("*.partial*")] == []
    for record in sorted((layout.root / "stages").glob("[A-C]*.json")):
        assert artifacts.damaged(load_json(record).get("artifacts", {})) == [], record.name
        assert load_json(record)["artifacts"], f"{record.name} recorded no artifacts"
    for path in layout.root.rglob("*.pt"):
        torch.load(path, weights_only=True)
    for path in layout.root.rglob("*.json"):
        load_json(path)
    assert (layout.root.parent / "report" / "report.pdf").stat().st_size > 10_000
    assert load_json(layout.root.parent / "report" / "summary.json")


def test_the_resumed_run_ends_with_the_uninterrupted_runs_metrics(runs):
    _, reference, killed, _, _ = runs
    a, b = metrics_of(reference.root), metrics_of(killed.root)
    assert sorted(a) == sorted(b) and len(a) == len(STUDY["stages"])
    assert _differences(a, b) == []
    checkpoints = sorted(p.relative_to(reference.root) for p in (reference.root / "checkpoints").rglob("*.pt"))
    assert checkpoints == sorted(p.relative_to(killed.root) for p in (killed.root / "checkpoints").rglob("*.pt"))
    for rel in checkpoints:
        ref, got = (torch.load(r / rel, weights_only=True) for r in (reference.root, killed.root))
        weights = "state_dict" if "state_dict" in ref else "sparse_state_dict"
        assert weights in ref and _differences(_tensors(ref[weights]), _tensors(got[weights])) == [], rel


def test_same_parameters_twice_agree_and_another_seed_differs(runs):
    base, reference, _, _, _ = runs
    twice, other = _params(base, "twice"), _params(base, "seed1", seed=1)
    for pfile in (twice, other):
        _finish(pfile, base / f"{pfile.stem}.log", report=False, stages=("A1", "A2"))
    first = {k: v for k, v in metrics_of(reference.root).items() if k.startswith(("A1", "A2"))}
    assert first and _differences(first, metrics_of(base / "twice" / "run")) == []
    assert _differences(first, metrics_of(base / "seed1" / "run"))
