"""Layer-wise relevance propagation (LRP) to every layer's output channels, with zennit.

Bach et al., "On Pixel-Wise Explanations for Non-Linear Classifier Decisions by Layer-Wise
Relevance Propagation", PLOS ONE 2015; as a pruning criterion, Yeom et al., "Pruning by
Explaining: A Novel Criterion for Deep Neural Network Pruning", Pattern Recognition 2021: the
relevance a filter receives, summed over a reference batch, ranks it. The relevance starts at the
logit of each image's true class and is propagated down with zennit's `EpsilonPlusFlat` composite
(z+, i.e. LRP-α1β0 as Yeom et al. use, on convolutions; ε on dense layers; flat on the first
layer). The model spec's canonizers first merge each BatchNorm into the layer before it and give
residual sums their own rule (captum's LRP rejects residual networks; zennit's canonizers are why
it is used here). In zennit's modified backward pass the gradient arriving at a layer's output is
the relevance of that output, so a hook on each Conv2d / Linear output reads it.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..core.device import eval_mode


def _hooks_reading_relevance(model: nn.Module, relevance: dict[str, torch.Tensor]) -> list:
    """Forward hooks that add |R| per output channel of every Conv2d / Linear into `relevance`."""
    def reader(name: str):
        def on_forward(_module, _inputs, output):
            def on_backward(grad: torch.Tensor) -> None:
                dims = [0] + list(range(2, grad.dim()))  # every axis but the channels
                per_channel = grad.detach().abs().sum(dim=dims).float().cpu()
                relevance[name] = relevance.get(name, 0) + per_channel
            output.register_hook(on_backward)
        return on_forward
    return [m.register_forward_hook(reader(n)) for n, m in model.named_modules()
            if isinstance(m, (nn.Conv2d, nn.Linear))]


def filter_relevance(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device,
                     canonizers: list | None = None, batch_size: int = 64) -> dict[str, torch.Tensor]:
    """Per Conv2d / Linear layer (by its name in `named_modules()`), the summed |relevance| of each
    output channel over the batch: {name: float [out_channels]}, not normalised.

    images: uint8 [N, C, H, W] (pixels, as the study keeps them) or float in [0, 1]; labels: int
    [N], the class whose logit the relevance starts from. `canonizers`: zennit canonizers for this
    architecture (default: those of the model's spec). `model` is not changed (a copy is explained).
    """
    from zennit.composites import EpsilonPlusFlat

    from ..models.registry import spec_of

    work = copy.deepcopy(model).to(device).float()
    for module in work.modules():  # zennit's hooks wrap layer outputs: in-place activations would overwrite them
        if hasattr(module, "inplace"):
            module.inplace = False
    if canonizers is None:
        canonizers = spec_of(model).canonizers()
    relevance: dict[str, torch.Tensor] = {}
    composite = EpsilonPlusFlat(canonizers=canonizers)
    # enable_grad: Torch-Pruning asks its importances for scores under no_grad
    with torch.enable_grad(), eval_mode(work), composite.context(work) as explained:
        handles = _hooks_reading_relevance(explained, relevance)
        try:
            for start in range(0, len(images), batch_size):
                x = images[start:start + batch_size].to(device)
                x = (x.float() / 255 if x.dtype == torch.uint8 else x.float()).requires_grad_(True)
                y = labels[start:start + batch_size].to(device)
                logits = explained(x)
                start_relevance = torch.zeros_like(logits).scatter_(1, y.view(-1, 1), 1.0) * logits.detach()
                torch.autograd.backward(logits, start_relevance)
        finally:
            for handle in handles:
                handle.remove()
    return relevance
