"""Grad-CAM in pixel space, at the layer each model's spec names."""
from __future__ import annotations

import torch
from torch import nn

from ..core.device import eval_mode
from ..models.registry import spec_of


def gradcam_layer_name(model: nn.Module) -> str:
    """The name (as in `named_modules()`) of the layer the model's spec chooses for Grad-CAM."""
    return spec_of(model).gradcam_layer


def has_gradcam(model: nn.Module) -> bool:
    """Whether the model's spec names a Grad-CAM layer (an MLP has none: saliency only)."""
    return spec_of(model).gradcam_layer is not None


def gradcam_layer(model: nn.Module) -> nn.Module:
    name = gradcam_layer_name(model)
    if name is None:
        raise ValueError(f"model {type(model).__name__} has no Grad-CAM layer (no convolution): explain it with saliency")
    return model.get_submodule(name)


@torch.no_grad()
def map_size(model: nn.Module, layer: nn.Module, image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """Height and width of `layer`'s output for one input image of `image_shape` (C, H, W)."""
    seen = {}
    device = next(model.parameters()).device
    hook = layer.register_forward_hook(lambda module, inputs, output: seen.update(shape=tuple(output.shape[-2:])))
    try:
        with eval_mode(model):
            model(torch.zeros(1, *image_shape, device=device))
    finally:
        hook.remove()
    return seen["shape"]


def gradcam(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
            layer: nn.Module | None = None) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
    Gradient-based Localization", ICCV 2017), computed by pytorch-grad-cam.

    ReLU(Σ_k α_k A^k) with α_k the spatial mean of ∂ logit_target / ∂ A^k over the layer's
    feature maps A^k, min-max scaled to [0, 1] per image, resized bilinearly to H×W and scaled
    to [0, 1] again. x float [B, C, H, W] in [0, 1]; target int64 [B]; returns float [B, H, W] in
    [0, 1]. The layer defaults to the one the model's spec names.
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    layer = gradcam_layer(model) if layer is None else layer
    # GradCAM switches the model to eval and leaves it there; eval_mode restores the mode
    with torch.enable_grad(), eval_mode(model), GradCAM(model=model, target_layers=[layer]) as cam:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in target])
    return torch.from_numpy(maps)
