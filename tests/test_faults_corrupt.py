"""Fault injection, damaged files: a truncated or zeroed artifact is detected and named (and a cache
is rebuilt), never silently used; a write that fails midway (full disk) leaves the previous file
intact and names the path."""
import errno
import shutil
import subprocess
import warnings

import pytest
import torch
from torch import nn

from conftest import make_image_folder
from helpers.core.files import CorruptFileError, atomic_path, load_json, save_json
from helpers.data import image_folder
from helpers.models.checkpoints import CheckpointError, read_checkpoint, save_checkpoint
from helpers.pipeline import artifacts, calibration, runner
from helpers.robustness import load_adversarial_set, save_adversarial_set
from helpers.training.config import TrainConfig
from helpers.training.loop import _Run

DAMAGE = {"truncated": lambda b: b[: len(b) // 2], "zeroed": lambda b: bytes(len(b))}


def _damage(path, how):
    path.write_bytes(DAMAGE[how](path.read_bytes()))


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_checkpoint_is_named(tmp_path, how):
    path = save_checkpoint(tmp_path / "m.pt", nn.Linear(4, 2), "SimpleCNN", {})
    _damage(path, how)
    with pytest.raises(CheckpointError, match=str(path)):
        read_checkpoint(path)


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_metrics_file_is_named(tmp_path, how):
    path = save_json(tmp_path / "metrics" / "A2.json", {"accuracy": 0.5, "rows": list(range(50))})
    _damage(path, how)
    with pytest.raises(CorruptFileError, match=f"{path} is damaged"):
        load_json(path)


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_image_cache_is_named_and_rebuilt(tmp_path, how):
    root = make_image_folder(tmp_path / "ds", per_class=2)
    cache = tmp_path / "cache"
    fresh = image_folder.load_split(root, "train", 16, cache_dir=cache)
    (cache_file,) = cache.iterdir()
    _damage(cache_file, how)
    with pytest.warns(UserWarning, match=f"{cache_file} is damaged"):
        again = image_folder.load_split(root, "train", 16, cache_dir=cache)
    assert torch.equal(again.images, fresh.images) and again.files == fresh.files
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten cache reads cleanly
        assert torch.equal(image_folder.load_split(root, "train", 16, cache_dir=cache).images, fresh.images)


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_adversarial_set_is_named(tmp_path, how):
    x = torch.rand(3, 3, 8, 8)
    path = tmp_path / "adv.pt"
    save_adversarial_set(path, x, torch.tensor([0, 1, 2]), ["a", "b", "c"], {})
    _damage(path, how)
    with pytest.raises(ValueError, match=str(path)):
        load_adversarial_set(path)


def test_damaged_training_state_restarts_training_with_a_warning(tmp_path):
    state = tmp_path / "m.pt.train-state"
    run = _Run(nn.Linear(4, 2), 8, TrainConfig(epochs=2, batch_size=4), torch.device("cpu"), "key")
    run.loop["epoch"] = 1
    run.save(state)
    _damage(state, "truncated")
    fresh = _Run(nn.Linear(4, 2), 8, TrainConfig(epochs=2, batch_size=4), torch.device("cpu"), "key")
    with pytest.warns(UserWarning, match=f"{state} is damaged"):
        fresh.restore(state)
    assert fresh.loop["epoch"] == 0


def test_damaged_runner_files_are_measured_or_run_again(tmp_path):
    record = tmp_path / "stages" / "A1_data.json"
    save_json(record, {"key": "k"})
    _damage(record, "zeroed")
    with pytest.warns(UserWarning, match=f"{record} is damaged.*run again"):
        assert runner._read_record(record) == {}
    cache = save_json(tmp_path / "rates.json", {"cpu": {}})
    _damage(cache, "truncated")
    lines = []
    assert calibration._read_cache(cache, lines.append) == {}
    assert str(cache) in lines[0] and "measuring the rates again" in lines[0]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_stage_record_catches_a_damaged_artifact(tmp_path, how):
    run_dir = tmp_path / "run"
    before = artifacts.snapshot([run_dir])
    ckpt = save_checkpoint(run_dir / "checkpoints" / "m.pt", nn.Linear(4, 2), "SimpleCNN", {})
    save_json(run_dir / "metrics" / "A2.json", {"a": 1})
    save_json(run_dir / "stages" / "A2.json", {"not": "an artifact"})
    recorded = artifacts.written(before, [run_dir])
    assert sorted(recorded) == sorted(str(p) for p in (ckpt, run_dir / "metrics" / "A2.json"))
    assert artifacts.damaged(recorded) == []
    _damage(ckpt, how)
    assert artifacts.damaged(recorded) == [f"{ckpt}: content differs from the stage's record (truncated, zeroed "
                                           "or edited)"]
    ckpt.unlink()
    assert artifacts.damaged(recorded) == [f"{ckpt}: missing"]


def test_partial_files_of_a_killed_write_are_removed(tmp_path):
    keep = save_json(tmp_path / "metrics" / "A2.json", {"a": 1})
    left = tmp_path / "metrics" / ".A2.json.x1y2.partial.json"
    left.write_text('{"a": ')  # what SIGKILL inside atomic_path leaves: the destination is untouched
    assert artifacts.remove_partial([tmp_path]) == [left]
    assert not left.exists() and load_json(keep) == {"a": 1}


def test_a_write_failing_midway_keeps_the_previous_file_and_names_the_path(tmp_path):
    path = save_json(tmp_path / "metrics" / "C1.json", {"points": 3})
    with pytest.raises(OSError, match=f"could not write {path}.*left as it was") as e:
        with atomic_path(path) as tmp:
            tmp.write_text('{"points": ')  # half written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
    assert e.value.errno == errno.ENOSPC
    assert load_json(path) == {"points": 3}
    assert [p.name for p in path.parent.iterdir()] == ["C1.json"]


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB tmpfs (root may mount one here and on CI; elsewhere the test says why it is skipped)."""
    mount = tmp_path / "full"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs",
                                                        str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root); the patched-writer test covers the same path")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)  # lazy: torch may still hold the failed file


def test_a_real_full_disk_keeps_the_previous_checkpoint(tiny_tmpfs):
    path = save_checkpoint(tiny_tmpfs / "m.pt", nn.Linear(4, 2), "SimpleCNN", {})
    before = path.read_bytes()
    with pytest.raises(OSError, match=f"could not write {path}") as e:
        save_checkpoint(path, nn.Linear(256, 256), "SimpleCNN", {})  # 256 KiB of weights > 64 KiB
    assert e.value.errno == errno.ENOSPC
    assert path.read_bytes() == before and read_checkpoint(path)["arch"] == "SimpleCNN"
    assert [p.name for p in tiny_tmpfs.iterdir()] == ["m.pt"]
