"""What a notebook needs around its own work: validated parameters, run directory, figures,
tables, narrative and metrics.

A notebook starts with `nb = notebook.start(globals(), "A2_training")` right after its
parameters cell, saves every figure with `nb.savefig`, shows tables with `nb.table`, writes
sentences that quote numbers with `nb.md(f"...")` from computed values, and ends with
`nb.save_metrics()`. Every number the report states is in `<run_dir>/metrics/<NB>.json`.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import params as params_mod
from .io import atomic_path, load_json, project_path, save_json
from .runtime import pick_device, set_threads


@dataclass
class Notebook:
    name: str                      # e.g. "A2_training"
    params: dict[str, Any]
    run_dir: Path
    figures_dir: Path
    device: torch.device
    metrics: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)

    @property
    def tag(self) -> str:
        """Short name used for metrics and figure files: 'A2' for 'A2_training'."""
        return self.name.split("_", 1)[0]

    def path(self, *parts: str) -> Path:
        p = self.run_dir.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def savefig(self, fig, what: str, caption: str) -> None:
        """Save `fig` as figures/<tag>_<what>.png, show it with its caption, close it."""
        import matplotlib.pyplot as plt
        from IPython.display import Image, Markdown, display

        dest = self.figures_dir / f"{self.tag}_{what}.png"
        with atomic_path(dest) as tmp:
            fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(dest.name)
        display(Image(filename=str(dest)))
        display(Markdown(f"**Figure** `{dest.name}`: {caption}"))

    @staticmethod
    def md(text: str) -> None:
        """Show narrative markdown; use f-strings over computed values, never typed-in numbers."""
        from IPython.display import Markdown, display
        display(Markdown(text))

    @staticmethod
    def table(df, caption: str = "", floatfmt: str = ".3f", index: bool = False) -> None:
        """Show a pandas DataFrame as a markdown table (a real table in the PDF, too)."""
        from IPython.display import Markdown, display
        df = df.astype(object).where(df.notna(), None)  # missing values print as a dash, not 'nan'
        text = df.to_markdown(index=index, floatfmt=floatfmt, missingval="–")
        display(Markdown((f"**Table**: {caption}\n\n" if caption else "") + text))

    def load_data(self):
        """The dataset as this run's data parameters say (data_dir, image_size, on_bad_image,
        subset_per_class, cache_dir)."""
        from .data import load_data
        p = self.params
        return load_data(p["data_dir"], p["image_size"], on_bad_image=p["on_bad_image"],
                         subset_per_class=p["subset_per_class"], cache_dir=p["cache_dir"])

    def read_metrics(self, tag: str) -> dict[str, Any]:
        """Metrics an earlier notebook wrote, e.g. read_metrics('A2')."""
        return load_json(self.run_dir / "metrics" / f"{tag}.json")

    def save_metrics(self) -> Path:
        """Write this notebook's metrics atomically; call it last."""
        self.metrics.setdefault("figures", self.figures)
        self.metrics.setdefault("params", self.params)
        return save_json(self.path("metrics", f"{self.tag}.json"), self.metrics)


def start(namespace: dict[str, Any], nb_name: str) -> Notebook:
    """Validate the injected parameters, fix seeds and threads, pick the device, make run dirs."""
    p = params_mod.check(namespace, nb_name)
    seed = p.get("seed", 0)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    set_threads(p.get("num_threads", 0))
    run_dir = project_path(p["run_dir"])
    figures_dir = project_path(p["figures_dir"]) if p.get("figures_dir") else run_dir / "figures"
    run_dir.mkdir(parents=True, exist_ok=True)
    figures_dir.mkdir(parents=True, exist_ok=True)
    import matplotlib
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "font.size": 9})
    return Notebook(nb_name, p, run_dir, figures_dir, pick_device(p.get("device", "auto")))
