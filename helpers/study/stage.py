"""What a notebook needs around its own work: validated parameters, the run layout, the data,
figures, tables, narrative and metrics.

A notebook starts with `stage = start_stage(globals(), "A2_training")` right after its
parameters cell, shows every figure with `stage.show_figure`, tables with `stage.show_table`,
sentences computed from the results with `stage.say`, and ends with `stage.save_metrics(...)`.
Every number the report states is in `<run_dir>/metrics/<tag>.json`.
"""
from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from ..config import notebook_cells
from ..core import progress
from ..core.device import pick_device, resolve_precision, set_threads
from ..core.files import atomic_path, load_json, save_json
from ..core.layout import RunLayout


class StageParameters(Mapping):
    """The parameters a notebook declared; reading one it did not declare names the problem (the
    runner passes a notebook only the parameters its cell declares)."""

    def __init__(self, stem: str, values: dict[str, Any]):
        self.stem, self._values = stem, values

    def __getitem__(self, key: str) -> Any:
        if key not in self._values:
            raise KeyError(f"parameter '{key}' is not declared in the parameters cell of {self.stem}; copy its line "
                           "from helpers/config/defaults.py into that cell")
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@dataclass
class Stage:
    name: str                      # e.g. "A2_training"
    params: StageParameters
    layout: RunLayout
    device: torch.device
    figures: list[str] = field(default_factory=list)
    figure_checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # file name -> legibility.check_figure
    table_checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # table label -> table_fit.check
    tables: int = 0                # tables shown so far, for automatic labels tab:<tag>_<n>
    _data: Any = None

    @property
    def threads(self) -> int:
        """Torch's intra-op threads, as set from the parameter num_threads."""
        return torch.get_num_threads()

    @property
    def tag(self) -> str:
        """Short name used for metrics and figure files: 'A2' for 'A2_training'."""
        return self.name.split("_", 1)[0]

    def load_data(self):
        """The dataset the parameters name, loaded once per stage."""
        if self._data is None:
            from ..data import load_dataset
            self._data = load_dataset(self.params)
        return self._data

    def attacked_split(self, split: str = "valid"):
        """The images of `split` (valid, or selection for C2's rule) that attacks and split-wide maps
        read: `attack_subset_per_class` per class drawn with `selection_seed`
        (`splits.stratified_subset`), the whole split when 0."""
        from ..data.splits import stratified_subset
        return stratified_subset(self.load_data().splits()[split], self.params["attack_subset_per_class"],
                                 self.params["selection_seed"])

    def attacked_sentence(self) -> str:
        """What `attacked_split` holds, in a sentence for the report ('' when it is the whole split)."""
        attacked, whole = self.attacked_split(), self.load_data().valid
        if len(attacked) == len(whole):
            return ""
        k = self.params["attack_subset_per_class"]
        return (f"Attacks and split-wide maps read a stratified subset of the validation split: {len(attacked)} of its "
                f"{len(whole)} images, at most {k} per class, drawn with the selection seed "
                f"({self.params['selection_seed']}); every clean accuracy of A2 and C1 is over all {len(whole)}, and "
                f"C2's deployment rule attacks at most {k} selection images per class.")

    def trained_model(self, name: str):
        """(model on the stage's device in eval mode, checkpoint dict) of A2's model `name`."""
        from ..models.checkpoints import load_model
        model, ckpt = load_model(self.layout.trained(name), name)
        return model.to(self.device), ckpt

    def show_figure(self, fig, what: str, caption: str) -> None:
        """Save `fig` as <figures>/<tag>_<what>.png, show it with its caption, close it. The PDF
        numbers it ("Figure 12") and the text refers to it as `[Figure](#fig:<tag>_<what>)`.

        Before saving, `legibility.check_figure` checks it as it will print (text of at least 7 pt at
        its printed width, a colorbar on every colour scale, no hidden series, no legend over data);
        the result goes to the metrics under `figure_checks`, and a failing figure is named in a
        progress line (the run goes on)."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        from ..report import display as report_display
        dest = self.layout.figure(f"{self.tag}_{what}.png")
        self._check_figure(fig, dest.name)
        with atomic_path(dest) as tmp:
            fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(dest.name)
        for data, metadata in report_display.figure_outputs(dest, caption, f"fig:{self.tag}_{what}"):
            display(data, raw=True, metadata=metadata)

    def _check_figure(self, fig, name: str) -> None:
        """Record (and, when it fails, report) the print legibility of a figure about to be saved."""
        from ..report.legibility import check_figure
        try:
            check = check_figure(fig)
        except Exception as e:  # a diagnostic: it must never stop the figure from being saved
            self.figure_checks[name] = {"ok": None, "error": repr(e)}
            progress.emit(f"figure {name}: legibility check failed to run ({e!r})")
            return
        self.figure_checks[name] = check.as_dict()
        if not check.ok:
            progress.emit(f"figure {name} is not legible in print: " + "; ".join(check.problems()))

    def show_figure_parts(self, figs: list, what: str, caption: str) -> None:
        """Show a figure split into parts (`image_figures.explanation_figures`): the first as `what`,
        the others as `what`_2, `what`_3 ... with the caption marked as continued, and a sentence that
        refers to the continuation."""
        for k, fig in enumerate(figs, 1):
            self.show_figure(fig, what if k == 1 else f"{what}_{k}",
                             caption if k == 1 else f"{caption} (continued, part {k} of {len(figs)})")
        if len(figs) > 1:
            self.say(", ".join(f"[Figure](#fig:{self.tag}_{what}_{k})" for k in range(2, len(figs) + 1))
                     + f" {'continues' if len(figs) == 2 else 'continue'} [Figure](#fig:{self.tag}_{what}).")

    def show_figures(self, items: list[tuple[Any, str, str]]) -> None:
        """Show (figure, what, caption) triples in order (see `show_figure`)."""
        for fig, what, caption in items:
            self.show_figure(fig, what, caption)

    @staticmethod
    def say(text: str) -> None:
        """Show narrative markdown computed from results (never typed-in numbers); refer to figures
        and tables as `[Figure](#fig:B1_success_vs_eps)` and `[Table](#tab:B1_success)`."""
        from IPython.display import Markdown, display

        from ..report.wording import lists_opened
        if text:
            display(Markdown(lists_opened(text)))

    def show_table(self, df, caption: str = "", floatfmt: str = ".3f", index: bool = False,
                   label: str | None = None) -> None:
        """Show a pandas DataFrame as a table: markdown in JupyterLab, a numbered longtable in the
        PDF. `label` names it `tab:<tag>_<label>` for references from the text,
        `[Table](#tab:<tag>_<label>)`; without one it is `tab:<tag>_<n>`, n counting this stage's
        tables from 1. `floatfmt` is one format or one per column."""
        from IPython.display import display

        from ..report import display as report_display
        from ..report import table_fit
        self.tables += 1
        name = f"tab:{self.tag}_{label if label is not None else self.tables}"
        df, caption, floatfmt = table_fit.fitted(df, caption, floatfmt, index)
        self.table_checks[name] = table_fit.check(table_fit.wrapped_share(df, floatfmt, index))
        display(report_display.table_output(df, caption, name, floatfmt, index), raw=True)

    def show_tables(self, tables: list[tuple], floatfmt: str = ".3f") -> None:
        """Show (caption, DataFrame) or (caption, DataFrame, label) tuples in order."""
        for caption, df, *label in tables:
            self.show_table(df, caption, floatfmt, label=label[0] if label else None)

    def figure_refs(self, items: list[tuple]) -> str:
        """References from the text to (figure, what, caption) items shown by `show_figure`.

        The figures leave pyplot's list of open figures here: shown in a later cell (the appendix),
        they would otherwise be drawn by the inline backend at the end of this one, uncaptioned, in
        the main text; `show_figure` saves and shows a closed figure all the same."""
        import matplotlib.pyplot as plt
        for fig, _, _ in items:
            plt.close(fig)
        return ", ".join(f"[Figure](#fig:{self.tag}_{what})" for _, what, _ in items)

    def table_refs(self, items: list[tuple]) -> str:
        """References from the text to (caption, DataFrame, label) items shown by `show_tables`."""
        return ", ".join(f"[Table](#tab:{self.tag}_{label})" for _, _, label in items)

    def read_metrics(self, tag: str) -> dict[str, Any]:
        """Metrics an earlier notebook wrote, e.g. read_metrics('A2')."""
        return load_json(self.layout.metrics(tag))

    def save_metrics(self, metrics: dict[str, Any]) -> None:
        """Write this notebook's metrics atomically, with its figures and parameters; call it last."""
        metrics = {**metrics, "figures": self.figures, "figure_checks": self.figure_checks,
                   "table_checks": self.table_checks, "params": dict(self.params)}
        save_json(self.layout.metrics(self.tag), metrics)


def start_stage(namespace: dict[str, Any], stem: str) -> Stage:
    """Validate the injected parameters, fix seeds and threads, pick the device and the training
    precision (`amp: auto` becomes the precision it resolves to here, so every recipe, reuse key
    and table of the stage names what was used), make run dirs."""
    values = notebook_cells.check(namespace, stem)
    seed = values.get("seed", 0)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    set_threads(values.get("num_threads", 0))
    os.environ.setdefault(progress.ENV_STAGE, stem)
    layout = RunLayout.from_params(values)
    layout.root.mkdir(parents=True, exist_ok=True)
    import matplotlib
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 150, "font.size": 9})
    device = pick_device(values.get("device", "auto"))
    if "amp" in values:
        values["amp"] = resolve_precision(values["amp"], device)
    return Stage(stem, StageParameters(stem, values), layout, device)
