"""A finished run as the explorer sees it: its parameters, its images and every model it made.

The variants of a model are the ones the study saved: the dense model (A2), its adversarially
fine-tuned version (B3), and every compressed point C1 kept (int8 graphs included). A variant
without parameters (an int8 or other exported graph) has no gradients: attacks are crafted on the
fp32 model it was made from and replayed on it, and it has no saliency or Grad-CAM map.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config.resolution import resolve
from ..core.device import set_threads
from ..core.files import load_json
from ..core.layout import RunLayout

DENSE, HARDENED = "dense", "adversarially fine-tuned"


class ExplorerError(RuntimeError):
    """The run cannot be explored (nothing trained yet, an unknown model or variant)."""


@dataclass
class Variant:
    """One model file of the run. `source`: the label of the variant attacks are crafted on when
    this one has no gradients (None: itself)."""
    model: str
    label: str
    method: str
    point: str
    path: Path
    source: str | None = None


def _c1_variants(c1: dict[str, Any], layout: RunLayout, model: str) -> list[Variant]:
    from ..compression import method_class

    out = []
    for r in c1.get("records", []):
        if r["model"] != model or not r.get("path"):
            continue
        source = None
        if hasattr(method_class(r["method"]), "source_of"):  # a graph quantized from another variant
            method, point = method_class(r["method"]).source_of(r["point"])
            source = DENSE if method == "dense" else f"{method} {point}"
        out.append(Variant(model, f"{r['method']} {r['point']}", r["method"], r["point"], layout.resolve(r["path"]),
                           source))
    return out


class ExplorerRun:
    """The run a parameter file describes (`python -m helpers.run <param_file>` made it)."""

    def __init__(self, param_file: str, overrides: list[str] | None = None):
        self.param_file = param_file
        self.params = resolve(param_file, overrides)
        set_threads(self.params["num_threads"])  # as the study's stages: the same threads give the same numbers
        self.layout = RunLayout.from_params(self.params)
        self.models = [m for m in self.params["models"] if self.layout.trained(m).exists()]
        if not self.models:
            raise ExplorerError(f"the run {self.layout.root} of {param_file} has no trained model yet: run "
                                f"`python -m helpers.run {param_file}` (at least A1 and A2) first")
        self._data, self._loaded, self._metrics = None, {}, {}

    def metrics(self, tag: str) -> dict[str, Any] | None:
        """A stage's metrics ('C1', 'C2'), None when that stage has not run (read once: every change
        of a widget asks for the variants, and C1's file holds every point's per-image outcomes)."""
        if tag not in self._metrics:
            path = self.layout.metrics(tag)
            self._metrics[tag] = load_json(path) if path.exists() else None
        return self._metrics[tag]

    def variants(self, model: str) -> list[Variant]:
        """Dense first, then the adversarially fine-tuned model and C1's points, where present."""
        if model not in self.models:
            raise ExplorerError(f"model {model!r} has no checkpoint in {self.layout.root}; models: {self.models}")
        out = [Variant(model, DENSE, DENSE, "–", self.layout.trained(model))]
        if self.layout.hardened(model).exists():
            out.append(Variant(model, HARDENED, "adversarial", "–", self.layout.hardened(model)))
        return out + _c1_variants(self.metrics("C1") or {}, self.layout, model)

    def variant(self, model: str, label: str) -> Variant:
        found = {v.label: v for v in self.variants(model)}
        if label not in found:
            raise ExplorerError(f"{model} has no variant {label!r}; its variants: {list(found)}")
        return found[label]

    def load(self, v: Variant) -> nn.Module:
        """The variant's model in eval mode on the CPU (loaded once)."""
        if v.path not in self._loaded:
            from ..compression import method_class
            from ..models.checkpoints import load_model
            if v.method in (DENSE, "adversarial"):
                model = load_model(v.path, v.model)[0]
            else:
                model = method_class(v.method)().load(v.path)
            self._loaded[v.path] = model.float().eval()
        return self._loaded[v.path]

    @staticmethod
    def differentiable(model: nn.Module) -> bool:
        """A model with parameters can be attacked white-box and explained; a graph cannot."""
        return any(True for _ in model.parameters())

    @property
    def data(self):
        """The study's data (the decoded-image cache makes this fast after the run)."""
        if self._data is None:
            from ..data import load_dataset
            self._data = load_dataset(self.params)
        return self._data

    def image(self, class_name: str, index: int) -> tuple[torch.Tensor, int]:
        """The `index`-th validation image of `class_name`: (uint8 [C, H, W], label)."""
        valid = self.data.valid
        if class_name not in valid.classes:
            raise ExplorerError(f"no class {class_name!r}; classes: {valid.classes}")
        label = valid.classes.index(class_name)
        where = (valid.labels == label).nonzero().flatten()
        if not 0 <= index < len(where):
            raise ExplorerError(f"class {class_name!r} has {len(where)} validation images; index {index} is outside")
        return valid.images[where[index]], label

    def count(self, class_name: str) -> int:
        valid = self.data.valid
        return int((valid.labels == valid.classes.index(class_name)).sum())
