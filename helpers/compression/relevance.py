"""`relevance`: channel pruning by explanation (Yeom et al. 2021).

Yeom, Seegerer, Lapuschkin, Binder, Wiedemann, Müller & Samek, "Pruning by Explaining: A Novel
Criterion for Deep Neural Network Pruning", Pattern Recognition 115, 2021: a filter's importance is
the relevance it receives when layer-wise relevance propagation explains the true class of a
small reference batch, normalised per layer and ranked over all layers at once. Their strongest
claim is the low-data regime: a few reference images per class, and the ranking holds up even
before any fine-tuning, which C1's accuracy before fine-tuning tests.

Everything else is `channel`'s: the coupled groups of Torch-Pruning's dependency graph, widths
rounded to `round_to`, every layer losing the same fraction (`allocation: uniform`), the ratio
searched to each MAC reduction, the same fine-tuning budget; only the ranking
(`criteria.Relevance`) differs, so the comparison at equal MAC reductions isolates the criterion.
Yeom et al. rank all layers together (`allocation: global`); measured before fine-tuning on the
selection split (experiments/criteria_before_finetuning.py), their per-layer sum normalisation then
cut mostly the widest layer (SimpleCNN's third convolution from 128 to 32 channels at 2x) and lost
to the uniform allocation at every reduction tried, on SimpleCNN and ResNetSmall-w32, so uniform
is the default and global a setting.
"""
from __future__ import annotations

from dataclasses import dataclass

from .channel import ChannelPruning


class RelevancePruning(ChannelPruning):
    name = "relevance"
    title = "relevance pruning (Yeom et al.)"
    citation = "Yeom et al., Pattern Recognition 2021; LRP with zennit (Anders et al. 2021)"

    @dataclass(frozen=True)
    class Settings(ChannelPruning.Settings):
        criterion: str = "relevance"


METHOD = RelevancePruning
