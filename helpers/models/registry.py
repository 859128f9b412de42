"""The model registry: a `ModelSpec` declares everything the study needs to know about a model.

Built-in models are the modules of `helpers/models/zoo/`, each defining `SPEC`; a plugin adds one
with `register_model(spec)`. Nothing else in the package names a model: training, Grad-CAM,
pruning and benchmarks ask its spec.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from ..config import model_overrides
from ..config.schema import ParameterError, register_check
from ..core.registry import Registry


def conv_and_linear(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every Conv2d and Linear layer, in model order: what pruning may zero."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def merge_batch_norm() -> list:
    """zennit canonizers for a network without residual sums: each BatchNorm merged into the
    convolution or linear layer before it (what layer-wise relevance propagation needs)."""
    from zennit.canonizers import SequentialMergeBatchNorm
    return [SequentialMergeBatchNorm()]


def classifier_layer(model: nn.Module) -> list[nn.Module]:
    """The last Linear layer: its outputs are the classes, so channel pruning must keep them."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1:]


@dataclass(frozen=True)
class ModelSpec:
    """What the study needs to know about a model.

    build(num_classes=, mean=, std=, **settings) -> nn.Module taking x float [B, C, H, W] in [0, 1]
    (C = len(mean)) with normalization as its first layer. gradcam_layer: the name (as in
    `named_modules()`) of the layer Grad-CAM explains, None for a model without one (an MLP: saliency
    only). input_size: the only image size the model accepts, None for any. native_size: the
    resolution the model computes at; it takes the study's pixel grid (image_size) and resizes it
    inside (its Normalize layer), so ε means the same for every model of a study; None computes at
    the grid's size. normalization: "data" uses the training set's per-channel statistics, or a
    fixed (mean, std) pair, e.g. the statistics pretrained weights expect. weights(): constructor
    arguments that identify pretrained weights (their file's digest), computed when first needed;
    they are arguments, so they key the checkpoints trained from them.
    prunable(model): the (name, layer) pairs whose weights unstructured pruning may zero;
    keep_whole(model): layers whose outputs channel pruning must keep (the classifier).
    kind: the architecture family the report's questions compare ("cnn": a plain convolutional
    network, "residual", "mlp", or another word for a family none of them compares).
    canonizers(): fresh zennit canonizers that prepare the model for layer-wise relevance
    propagation (`explain.relevance`): BatchNorm merged, residual sums given their own rule.
    """
    name: str
    build: Callable[..., nn.Module]
    gradcam_layer: str | None
    input_size: int | None = None
    native_size: int | None = None
    normalization: str | tuple[list[float], list[float]] = "data"
    prunable: Callable[[nn.Module], list[tuple[str, nn.Module]]] = conv_and_linear
    keep_whole: Callable[[nn.Module], list[nn.Module]] = classifier_layer
    settings: dict[str, Any] = field(default_factory=dict)
    weights: Callable[[], dict[str, Any]] | None = None
    kind: str = "cnn"
    variant: str = ""  # what sets this spec apart from others building the same class (a training regime)
    recipe: dict[str, Any] = field(default_factory=dict)  # training settings the model needs (TrainConfig fields), over the study's
    canonizers: Callable[[], list] = merge_batch_norm

    @property
    def description(self) -> str:
        """The first paragraph of the model class's docstring, on one line."""
        doc = " ".join((getattr(self.build, "__doc__", "") or "").split("\n\n")[0].split())
        return f"{doc} {self.variant[:1].upper()}{self.variant[1:]}." if self.variant else doc

    @property
    def module(self) -> str:
        """The module that defines the model: its code keys the model's checkpoints."""
        return self.build.__module__

    def arch_args(self, num_classes: int, mean: list[float], std: list[float]) -> dict[str, Any]:
        """Constructor arguments for a dataset with these classes and channel statistics."""
        if self.normalization != "data":
            mean, std = self.normalization
        size = {} if self.native_size is None else {"native_size": self.native_size}
        return {"num_classes": num_classes, "mean": list(mean), "std": list(std), **size, **self.settings,
                **(self.weights() if self.weights is not None else {})}

    def check_input(self, image_size: int, channels: int) -> None:
        if self.input_size is not None and image_size != self.input_size:
            raise ParameterError(f"model {self.name} takes {self.input_size} px images, but image_size is {image_size}")
        if self.normalization != "data" and len(self.normalization[0]) != channels:
            raise ParameterError(f"model {self.name} takes {len(self.normalization[0])}-channel images, "
                                 f"the data has {channels}")


_MODELS: Registry[ModelSpec] = Registry("model", "helpers.models.zoo", "SPEC")


def register_model(spec: ModelSpec) -> ModelSpec:
    """Make a model available by name (`models: [<name>]`)."""
    return _MODELS.register(spec)


def model_names() -> list[str]:
    return _MODELS.names()


def get_spec(name: str) -> ModelSpec:
    return _MODELS.get(name)


def spec_of(model: nn.Module) -> ModelSpec:
    """The spec of a built model, found by its class (specs sharing a class, a network's training
    regimes, share what is asked of a built model: Grad-CAM layer, prunable and kept layers)."""
    for spec in _MODELS.values():
        if isinstance(spec.build, type) and type(model) is spec.build:
            return spec
    raise KeyError(f"no registered model builds a {type(model).__name__}")


def build_model(name: str, **kwargs) -> nn.Module:
    """Instantiate a registered model by name; kwargs are its constructor arguments, over the
    spec's own settings (what makes ResNetSmall-w32 half as wide, a regime's trainable part)."""
    spec = get_spec(name)
    return spec.build(**{**spec.settings, **kwargs})


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_trained_parameters(model: nn.Module) -> int:
    """The parameters training updates (a frozen part's have requires_grad off)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _check_model_names(names: Any, source: str, parameter: str) -> None:
    names = list(names)
    unknown = [n for n in names if n not in model_names()]
    if unknown:
        raise ParameterError(f"parameter '{parameter}' in {source} names unknown models {unknown}; "
                             f"registered: {sorted(model_names())}")


register_check("models", lambda v, s: _check_model_names(v, s, "models"))
register_check("training_only_models", lambda v, s: _check_model_names(v, s, "training_only_models"))
register_check("epochs_by_model", lambda v, s: _check_model_names(v, s, "epochs_by_model"))
register_check("recipe_by_model", lambda v, s: _check_model_names(v, s, "recipe_by_model"))
register_check("model_overrides", lambda v, s: _check_model_names(v, s, "model_overrides"))
register_check("model_overrides", model_overrides.check)
