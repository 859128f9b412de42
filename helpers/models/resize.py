"""Rebuilding a channel-pruned model from its state_dict, so it loads with weights_only."""
from __future__ import annotations

import torch
from torch import nn


def resize_to(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> nn.Module:
    """Give every Conv2d, BatchNorm2d and Linear of `model` the channel counts of `state_dict`.

    A channel-pruned model is its architecture with fewer channels: rebuilding it from the
    registry and resizing its layers to the saved tensors lets it load with a plain state_dict
    (weights_only), where pickling the pruned module would run code on load. Values are left
    uninitialised; load the state_dict next. KeyError names a layer the state_dict lacks. Depthwise
    convolutions (MobileNet's, EfficientNet's) keep one group per channel.
    """
    for name, m in model.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            w = state_dict[prefix + "weight"]
            if isinstance(m, nn.Conv2d):
                if m.groups == 1:
                    m.out_channels, m.in_channels = w.shape[0], w.shape[1]
                elif m.groups == m.in_channels == m.out_channels and w.shape[1] == 1:
                    # depthwise (one filter per channel): pruning keeps it depthwise, so the channel
                    # count is also the group count
                    m.out_channels = m.in_channels = m.groups = w.shape[0]
                else:
                    raise ValueError(f"layer {name}: resizing grouped convolutions other than depthwise ones "
                                     f"is not supported ({m.groups} groups of {m.in_channels} channels)")
            else:
                m.out_features, m.in_features = w.shape[0], w.shape[1]
            m.weight = nn.Parameter(torch.empty_like(w))
            if m.bias is not None:
                m.bias = nn.Parameter(torch.empty_like(state_dict[prefix + "bias"]))
        elif isinstance(m, nn.BatchNorm2d):
            n = state_dict[prefix + "running_mean"].shape[0]
            m.num_features = n
            if m.affine:
                m.weight, m.bias = nn.Parameter(torch.empty(n)), nn.Parameter(torch.empty(n))
            m.running_mean, m.running_var = torch.empty(n), torch.empty(n)
    return model
