"""The explorer's widgets (ipywidgets, JupyterLab): layout and callbacks only; what they show is
computed by `inspection.inspect` and `compare.comparison_table`.

Tab "Inspect": model, variant, image (class and index, or an uploaded file, decoded and checked like
the dataset's images), attack, ε and target class; every change recomputes and redraws. Tab
"Compare": the variants of the chosen model with C1's and C2's measurements.
"""
from __future__ import annotations

import html

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import display

from ..attacks import attack_names, build_attack
from ..data.decode import decode_bytes
from ..data.splits import DataError
from .compare import comparison_note, comparison_table
from .figure import inspection_figure
from .inspection import Inspection, inspect
from .run import ExplorerRun

UNTARGETED = "untargeted"


class Explorer:
    """`Explorer(run, model=..., variant=..., ...)`; `show()` displays the widgets, `show_static()`
    the default selection's figure (what a papermill run keeps)."""

    def __init__(self, run: ExplorerRun, *, model: str = "", variant: str = "dense", image_class: str = "",
                 image_index: int = 0, attack: str = "pgd", eps: float = 0.03, target_class: str = ""):
        self.run, self.uploaded, self.current = run, None, None
        classes = run.data.classes
        self.model = W.Dropdown(options=run.models, value=model or run.models[0], description="model")
        self.variant = W.Dropdown(description="variant")
        self.image_class = W.Dropdown(options=classes, value=image_class or classes[0], description="class")
        self.image_index = W.BoundedIntText(value=image_index, min=0, description="index")
        self.upload = W.FileUpload(accept="image/*", multiple=False, description="upload")
        self.attack = W.Dropdown(options=[a for a in attack_names() if a in run.params["attacks"]] or attack_names(),
                                 value=attack, description="attack")
        self.eps = W.FloatSlider(value=eps, min=0.0, max=max(0.1, 2 * max(run.params["attack_eps"])), step=0.005,
                                 readout_format=".3f", description="ε", continuous_update=False)
        self.target = W.Dropdown(options=[UNTARGETED, *classes], value=target_class or UNTARGETED, description="target")
        self.summary = W.HTML()
        self.output, self.table = W.Output(), W.Output()
        self._quiet = False
        self._refresh_choices(variant)
        # the choices follow the model and the class first, then one recomputation follows any change
        self.model.observe(self._model_changed, names="value")
        self.image_class.observe(self._class_changed, names="value")
        for w in (self.model, self.variant, self.image_class, self.image_index, self.attack, self.eps, self.target):
            w.observe(self._changed, names="value")
        self.upload.observe(self._uploaded, names="value")

    # --- what is selected -------------------------------------------------------------------
    def _refresh_choices(self, variant: str | None = None) -> None:
        labels = [v.label for v in self.run.variants(self.model.value)]
        self._quiet = True  # no recomputation for the intermediate states
        try:
            self.variant.options = labels
            self.variant.value = variant if variant in labels else labels[0]
            self.image_index.max = max(0, self.run.count(self.image_class.value) - 1)
        finally:
            self._quiet = False

    def image(self):
        """(uint8 [C, H, W], label, name) of the selection: the upload when there is one."""
        if self.uploaded is not None:
            return self.uploaded
        x, label = self.run.image(self.image_class.value, self.image_index.value)
        return x, label, f"{self.image_class.value} #{self.image_index.value}"

    def compute(self) -> Inspection:
        """The inspection of the current selection (also kept as `current`)."""
        run, v = self.run, self.run.variant(self.model.value, self.variant.value)
        model = run.load(v)
        crafter, crafted_on, differentiable = model, v.label, run.differentiable(model)
        if not differentiable:  # an exported graph: craft on the fp32 model it came from
            crafted_on = v.source or "dense"
            crafter = run.load(run.variant(v.model, crafted_on))
        x, label, name = self.image()
        if label is None:
            label = int(model(x[None].float() / 255).argmax())
        target = None if self.target.value == UNTARGETED else run.data.classes.index(self.target.value)
        self.current = inspect(model, x, label, run.data.classes, build_attack(self.attack.value, run.params),
                               self.eps.value, variant=f"{v.model} {v.label}, {name}", target=target,
                               seed=run.params["seed"], attack_model=crafter, crafted_on=crafted_on,
                               explain=differentiable)
        return self.current

    # --- callbacks --------------------------------------------------------------------------
    def _model_changed(self, _):
        self._refresh_choices()
        self._show_table()  # the comparison depends on the model only

    def _class_changed(self, _):
        self.uploaded = None
        self._refresh_choices(self.variant.value)

    def _uploaded(self, change):
        files = change["new"]
        if not files:
            return
        f = files[0]
        channels = self.run.data.valid.images.shape[1]  # a grey study gets the luminance, as its images are
        try:
            x = decode_bytes(bytes(f["content"]), f["name"], self.run.params["image_size"], channels)
        except DataError as e:
            self.summary.value = f"<b>{html.escape(str(e))}</b>"
            return
        self.uploaded = (x, None, f"upload {f['name']} (true class unknown: attacked away from the prediction)")
        self._changed()

    def _changed(self, *_):
        if self._quiet:
            return
        try:
            ins = self.compute()
        except Exception as e:  # shown in the widget: a callback's exception would vanish into the log
            self.summary.value = f"<b>error:</b> {html.escape(f'{type(e).__name__}: {e}')}"
            return
        self.output.clear_output(wait=True)
        with self.output:
            fig = inspection_figure(ins)
            display(fig)
            plt.close(fig)  # displayed once; left open, the inline backend would draw it again
        self.summary.value = html.escape(ins.summary())  # last: a new summary means the figure is there

    def _show_table(self) -> None:
        self.table.clear_output(wait=True)
        with self.table:
            display(W.HTML(f"<p>{html.escape(comparison_note(self.run, self.model.value))}</p>"))
            table = comparison_table(self.run, self.model.value)
            if len(table):
                display(table.style.format(precision=3, na_rep="–").hide(axis="index"))

    # --- entry points -----------------------------------------------------------------------
    def widget(self) -> W.Widget:
        controls = W.VBox([W.HBox([self.model, self.variant]), W.HBox([self.image_class, self.image_index, self.upload]),
                           W.HBox([self.attack, self.eps, self.target]), self.summary])
        tabs = W.Tab(children=[W.VBox([controls, self.output]), self.table])
        tabs.set_title(0, "Inspect")
        tabs.set_title(1, "Compare")
        return tabs

    def show(self) -> None:
        display(self.widget())
        self._changed()
        self._show_table()

    def show_static(self) -> None:
        """Display the default selection's figure and its one-line summary (what papermill keeps);
        the inspection is kept as `current`."""
        ins = self.compute()
        print(ins.summary())
        fig = inspection_figure(ins)
        display(fig)
        plt.close(fig)
