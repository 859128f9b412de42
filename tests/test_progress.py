"""Progress lines: what runs, k of n, elapsed, time left; rate-limited; to the runner's file."""
from helpers.core import progress


def test_lines_go_to_the_runners_file_with_stage_counts_and_estimates(tmp_path, monkeypatch):
    target = tmp_path / "progress.log"
    monkeypatch.setenv(progress.ENV_FILE, str(target))
    monkeypatch.setenv(progress.ENV_STAGE, "C1_compression")
    clock = iter([0.0, 10.0, 12.0, 30.0, 41.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    task = progress.task("ResNetSmall channel 3x", 4, min_interval=15)
    task.step("epoch 1")  # t = 10: the first step is always written
    task.step("epoch 2")  # t = 12: within 15 s of the last line, skipped
    task.step("epoch 3")  # t = 30: written
    task.step("epoch 4")  # t = 41: the last step is always written
    lines = target.read_text().splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("C1_compression ResNetSmall channel 3x: 1/4, 10 s elapsed, ~30 s left (epoch 1)")
    assert "3/4, 30 s elapsed, ~10 s left (epoch 3)" in lines[1] and "4/4, 41 s elapsed, ~0 s left" in lines[2]


def test_without_a_runner_lines_go_to_stderr(capsys, monkeypatch):
    monkeypatch.delenv(progress.ENV_FILE, raising=False)
    progress.task("attacks", 1).step()
    assert "attacks: 1/1" in capsys.readouterr().err


def test_durations_read_naturally():
    assert [progress.format_seconds(s) for s in (4.2, 65, 3725)] == ["4 s", "1m05s", "1h02m"]
