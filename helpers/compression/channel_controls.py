"""Controls of the channel criteria, at the same MAC reductions and budget as `relevance`.

`bn_scale`: channels ranked by |γ| of their BatchNorm (Liu et al., "Learning Efficient
Convolutional Networks through Network Slimming", ICCV 2017), here on the normally trained model,
so it shows what slimming's criterion gives without slimming's sparsity training.
`random_channels`: channels ranked at random (seeded by the study's seed): the control every
criterion must beat (Yeom et al. 2021 compare against it too).
Everything else is `channel`'s (uniform allocation by default, as `relevance`).
"""
from __future__ import annotations

from dataclasses import dataclass

from .channel import ChannelPruning


class BNScaleChannels(ChannelPruning):
    name = "bn_scale"
    title = "channel pruning by BatchNorm scale"
    citation = "Liu et al., ICCV 2017 (criterion only, on the normally trained model)"

    @dataclass(frozen=True)
    class Settings(ChannelPruning.Settings):
        criterion: str = "bn_scale"


class RandomChannels(ChannelPruning):
    name = "random_channels"
    title = "channel pruning at random (control)"
    citation = "seeded random ranking (the control of Yeom et al. 2021)"

    @dataclass(frozen=True)
    class Settings(ChannelPruning.Settings):
        criterion: str = "random"


METHOD = (BNScaleChannels, RandomChannels)
