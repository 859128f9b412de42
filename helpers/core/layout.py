"""The run directory: one object names the path of every artifact a run writes.

Notebooks share nothing but files in the run directory, so every path is made here and nowhere
else; metrics store paths relative to the run directory (`relative`), so a run directory can be
moved or archived whole.

    <run_dir>/checkpoints/<Model>-original.pt               trained model (A2)
    <run_dir>/checkpoints/<Model>-adversarial.pt            adversarially fine-tuned model (B3)
    <run_dir>/checkpoints/<method>/<Model>-<point>.pt       compressed model (C1), and its twins
    <run_dir>/checkpoints/<...>-train-state.pt              resumable state of an unfinished training
    <run_dir>/adversarial/<Model>.pt                        the fixed adversarial set (B1)
    <run_dir>/metrics/<tag>.json                            every number a notebook reports
    <run_dir>/notebooks/<stem>.ipynb                        executed notebooks
    <run_dir>/stages/<stem>.json                            the runner's record of each stage
    <run_dir>/tensorboard/<name>/                           training curves
    <run_dir>/figures/                                      figures (unless figures_dir says otherwise)
    <run_dir>/logs/progress.log                             progress lines of the running stage
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .files import project_path


@dataclass(frozen=True)
class RunLayout:
    root: Path
    figures: Path

    @classmethod
    def from_params(cls, params: dict) -> "RunLayout":
        root = project_path(params["run_dir"])
        figures = project_path(params["figures_dir"]) if params.get("figures_dir") else root / "figures"
        return cls(root, figures)

    def _file(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def trained(self, model: str) -> Path:
        return self._file("checkpoints", f"{model}-original.pt")

    def hardened(self, model: str) -> Path:
        return self._file("checkpoints", f"{model}-adversarial.pt")

    def compressed(self, method: str, model: str, point: str, suffix: str = "") -> Path:
        """A compressed model's checkpoint; `suffix` names a twin (e.g. '-sparse')."""
        return self._file("checkpoints", method, f"{model}-{point}{suffix}.pt")

    @staticmethod
    def train_state(artifact: Path) -> Path:
        """The resumable state of the training that will write `artifact`."""
        return artifact.with_name(f"{artifact.stem}-train-state.pt")

    def adversarial_set(self, model: str) -> Path:
        return self._file("adversarial", f"{model}.pt")

    def metrics(self, tag: str) -> Path:
        return self._file("metrics", f"{tag}.json")

    def executed(self, stem: str, failed: bool = False) -> Path:
        return self._file("notebooks", f"{stem}{'.failed' if failed else ''}.ipynb")

    def stage_record(self, stem: str) -> Path:
        """The runner's record of a stage; asking for it creates nothing (a plan only reads it)."""
        return self.root / "stages" / f"{stem}.json"

    def tensorboard(self, name: str) -> Path:
        return self._file("tensorboard", name, ".keep").parent

    def figure(self, name: str) -> Path:
        self.figures.mkdir(parents=True, exist_ok=True)
        return self.figures / name

    @property
    def progress_log(self) -> Path:
        return self._file("logs", "progress.log")

    def relative(self, path: Path) -> str:
        """`path` relative to the run directory, as metrics store it."""
        return str(Path(path).relative_to(self.root))

    def resolve(self, relative: str) -> Path:
        return self.root / relative
