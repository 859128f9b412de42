"""Interpretability maps in pixel space: vanilla-gradient saliency and Grad-CAM.

Inputs are images x float [B, 3, H, W] in [0, 1] (normalization is inside the model) and the
class each map explains, target int64 [B]. Maps are float [B, H, W]. The model is given back in
the mode it was in.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .runtime import eval_mode

# Grad-CAM layer per model: the last convolutional feature map that is still at least 4×4 at
# 32 px input. SimpleCNN: block 3's ReLU before its pooling (8×8 at 32 px; the pooled map would be
# 4×4). ResNetSmall: the last residual block (8×8 at 32 px).
GRADCAM_LAYERS: dict[str, Callable[[nn.Module], nn.Module]] = {
    "SimpleCNN": lambda m: m.features[2][2],
    "ResNetSmall": lambda m: m.layer3[-1],
}


def gradcam_layer(model: nn.Module) -> nn.Module:
    name = type(model).__name__
    if name not in GRADCAM_LAYERS:
        raise KeyError(f"no Grad-CAM layer registered for {name}; add it to explain.GRADCAM_LAYERS")
    return GRADCAM_LAYERS[name](model)


def saliency(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Vanilla gradient saliency (Simonyan, Vedaldi & Zisserman, "Deep Inside Convolutional
    Networks", ICLR workshop 2014): max over colour channels of |∂ logit_target / ∂ x|.

    x [B, 3, H, W] in [0, 1]; target int64 [B]; returns [B, H, W], in logit units per pixel unit.
    """
    x = x.detach().clone().requires_grad_(True)
    with eval_mode(model):
        logits = model(x)
        (grad,) = torch.autograd.grad(logits.gather(1, target.view(-1, 1)).sum(), x)
    return grad.abs().amax(dim=1)


def gradcam(model: nn.Module, x: torch.Tensor, target: torch.Tensor,
            layer: nn.Module | None = None) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
    Gradient-based Localization", ICCV 2017), computed by pytorch-grad-cam.

    ReLU(Σ_k α_k A^k) with α_k the spatial mean of ∂ logit_target / ∂ A^k over the layer's
    feature maps A^k, min-max scaled to [0, 1] per image, resized bilinearly to H×W and scaled
    to [0, 1] again.
    x [B, 3, H, W] in [0, 1]; target int64 [B]; returns float [B, H, W] in [0, 1].
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    layer = gradcam_layer(model) if layer is None else layer
    # GradCAM switches the model to eval and leaves it there; eval_mode restores the mode
    with eval_mode(model), GradCAM(model=model, target_layers=[layer]) as cam:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(int(t)) for t in target])
    return torch.from_numpy(maps)
