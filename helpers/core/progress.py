"""Progress lines for long work: what runs, k of n, time elapsed and an estimate of time left.

A notebook executed by papermill cannot print to the terminal, so when the runner sets
`STUDY_PROGRESS_FILE`, lines are appended to that file and the runner echoes them; otherwise
(JupyterLab, a script) they go to stderr, which the PDF report leaves out. Lines of one task are
written at most every `min_interval` seconds, and always for its first and last step, so a 120-epoch
training of a fast model does not flood the terminal.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

ENV_FILE = "STUDY_PROGRESS_FILE"
ENV_STAGE = "STUDY_STAGE"


def format_seconds(seconds: float) -> str:
    """4 s, 1m05s, 1h02m."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def emit(line: str) -> None:
    """Write one progress line where the runner (or a person) will see it."""
    stage = os.environ.get(ENV_STAGE, "")
    text = f"[{time.strftime('%H:%M:%S')}]{' ' + stage if stage else ''} {line}\n"
    target = os.environ.get(ENV_FILE)
    if target:
        with open(target, "a") as f:
            f.write(text)
    else:
        sys.stderr.write(text)
        sys.stderr.flush()


@dataclass
class Task:
    """A unit of work of `total` steps: call `step()` after each one.

    Each line says the task, the step just finished (k/n), the time since the task started and,
    from the mean step time so far, an estimate of the time left.
    """
    name: str
    total: int
    min_interval: float = 10.0
    started: float = field(default_factory=lambda: time.perf_counter())
    done: int = 0
    _last: float = -1e9

    def step(self, note: str = "", steps: int = 1) -> None:
        self.done += steps
        now = time.perf_counter()
        if self.done not in (steps, self.total) and now - self._last < self.min_interval:
            return
        self._last = now
        elapsed = now - self.started
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        emit(f"{self.name}: {self.done}/{self.total}, {format_seconds(elapsed)} elapsed, "
             f"~{format_seconds(left)} left" + (f" ({note})" if note else ""))


def task(name: str, total: int, min_interval: float = 10.0) -> Task:
    return Task(name, max(1, total), min_interval)
