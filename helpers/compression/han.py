"""`han`: iterative magnitude pruning with retraining and per-layer thresholds (Han et al. 2015).

Han, Pool, Tran & Dally, "Learning both Weights and Connections for Efficient Neural Networks",
NeurIPS 2015, section 3: prune the connections whose |w| lies below a layer's threshold, a quality
parameter times the standard deviation of the layer's weights; retrain the survivors; repeat.
The quality parameter of each layer comes from a sensitivity scan (their Figure 5): each layer
alone is pruned at growing quality parameters, and the more a layer loses, the smaller its
parameter. Dropout is scaled down as the layer it feeds loses connections (their eq. 2,
D_r = D_o · sqrt(C_r / C_o), C the layer's connections), because a smaller layer overfits less.

Here, so that every method is compared at the same sparsities: for a target sparsity s, the
per-layer thresholds are θ_l = c · q_l · std(W_l), W_l the dense layer's weights, with q_l the
largest scanned parameter whose one-layer pruning costs at most `tolerance` of selection accuracy
(before retraining) and one common factor c found by bisection so that the pruned layers reach s. The target is reached in
`rounds` rounds, each removing the same fraction of the remaining weights and each followed by
retraining (the method's budget is per round; C1's table gives the total). Successive targets
chain: 0.95 starts from the retrained 0.9 model, as Han et al.'s schedule grows the thresholds.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..evaluation.predict import accuracy
from .base import BaseModel, Compressed, CompressionContext, FineTuneBudget, PruneAndFineTune
from .magnitude import MagnitudePruning, make_permanent, mask_weight, prunable


def layer_sensitivity(model: nn.Module, qualities: tuple[float, ...], images: torch.Tensor, labels: torch.Tensor,
                      device) -> dict[str, list[float]]:
    """Per prunable layer, the accuracy on (images uint8 [N, C, H, W], labels [N]) with that layer
    alone pruned at |w| < q · std(W) for each quality parameter q (no retraining)."""
    out = {}
    for name, layer in prunable(model):
        w = layer.weight.data
        saved, std = w.clone(), float(w.std())
        accs = []
        for q in qualities:
            w.mul_((w.abs() >= q * std).to(w.dtype))
            accs.append(accuracy(model, images, labels, device))
            w.copy_(saved)
        out[name] = accs
    return out


def layer_qualities(scan: dict[str, list[float]], qualities: tuple[float, ...], dense_acc: float,
                    tolerance: float) -> dict[str, float]:
    """Per layer the largest quality parameter whose accuracy stays within `tolerance` of dense
    (the smallest scanned one when none does, so every layer still takes part)."""
    return {name: max([q for q, a in zip(qualities, accs) if a >= dense_acc - tolerance], default=qualities[0])
            for name, accs in scan.items()}


def masks_at(model: nn.Module, quality: dict[str, float], sparsity: float,
             stds: dict[str, float] | None = None) -> dict[str, torch.Tensor]:
    """Masks (1 keeps) of the thresholds c · quality[layer] · stds[layer], with c bisected so that
    the fraction of pruned weights over the layers reaches `sparsity` (to within one weight in 10^4).
    `stds` are the standard deviations of the dense layers' weights (default: of `model`'s): taken
    from the survivors instead, a pruned layer's threshold would grow with every round and empty it."""
    layers = {n: m.weight.detach() for n, m in prunable(model)}
    stds = stds or {n: float(w.std()) for n, w in layers.items()}
    total = sum(w.numel() for w in layers.values())

    def pruned_share(c: float) -> float:
        return sum(int((w.abs() < c * quality[n] * stds[n]).sum()) for n, w in layers.items()) / total

    lo, hi = 0.0, 1.0
    while pruned_share(hi) < sparsity:
        hi *= 2
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if pruned_share(mid) < sparsity else (lo, mid)
        if pruned_share(hi) - sparsity < 1e-4:
            break
    return {n: (w.abs() >= hi * quality[n] * stds[n]).to(w.dtype) for n, w in layers.items()}


def scale_dropout(model: nn.Module, original: dict[str, float]) -> dict[str, float]:
    """Han et al.'s eq. 2: each Dropout's rate p = p_0 · sqrt(kept connections of the next prunable
    layer); `original` maps Dropout names to p_0. Returns the new rates."""
    names = [n for n, _ in prunable(model)]
    modules = dict(model.named_modules())
    order = list(modules)
    rates = {}
    for name, p0 in original.items():
        following = [n for n in order[order.index(name) + 1:] if n in names]
        if not following:
            continue
        w = modules[following[0]].weight.detach()
        modules[name].p = rates[name] = p0 * math.sqrt(float((w != 0).float().mean()))
    return rates


class HanIterative(PruneAndFineTune):
    """See the module docstring."""
    name = "han"
    title = "iterative pruning with retraining (Han et al.)"
    family = "unstructured"
    target_name = "sparsity"
    citation = "Han, Pool, Tran & Dally, NeurIPS 2015"
    default_targets = (0.9, 0.92, 0.95)
    default_budget = FineTuneBudget(epochs=1, lr=5e-4, warmup_epochs=0)  # per round
    narrative = ("**han**: Han et al.'s protocol: per-layer thresholds (a quality parameter from a sensitivity scan "
                 "× the layer's weight standard deviation), reached in rounds of pruning and retraining, with dropout "
                 "scaled down as layers lose connections; each target continues from the previous one.")

    @dataclass(frozen=True)
    class Settings:
        rounds: int = 3                 # prune-retrain rounds per target
        tolerance: float = 0.01         # selection accuracy a layer may lose alone in the scan
        qualities: tuple = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0)
        scale_dropout: bool = True
        chain: bool = True

    def __init__(self, budget: FineTuneBudget | None = None, settings: Any = None):
        super().__init__(budget, settings)
        self._quality: dict[str, dict[str, Any]] = {}

    label = MagnitudePruning.label
    check_target = MagnitudePruning.check_target
    achieved = MagnitudePruning.achieved
    finish = MagnitudePruning.finish
    save_twins = MagnitudePruning.save_twins

    def training_epochs(self) -> int:
        return self.settings.rounds * self.budget.epochs

    def budget_text(self) -> str:
        return (f"{self.settings.rounds} rounds of pruning, each followed by {self.budget.describe()} "
                f"({self.training_epochs()} epochs per target; each target continues from the model of the previous "
                "one)")

    def quality(self, base: BaseModel, ctx: CompressionContext) -> dict[str, Any]:
        """The sensitivity scan of `base` on the selection split, once per model: per layer the
        accuracies and the chosen quality parameter."""
        if base.name not in self._quality:
            sel = ctx.data.selection
            model = copy.deepcopy(base.model).to(ctx.device).eval()
            dense = accuracy(model, sel.images, sel.labels, ctx.device)
            qualities = tuple(self.settings.qualities)
            scan = layer_sensitivity(model, qualities, sel.images, sel.labels, ctx.device)
            self._quality[base.name] = {"dense_select_acc": dense, "qualities": list(qualities), "scan": scan,
                                        "quality": layer_qualities(scan, qualities, dense, self.settings.tolerance),
                                        "std": {n: float(m.weight.detach().std()) for n, m in prunable(model)}}
        return self._quality[base.name]

    def prune(self, model: nn.Module, target: float, ctx) -> tuple[nn.Module, dict]:
        raise NotImplementedError("han prunes in rounds: see apply")

    def _round(self, model: nn.Module, sparsity: float, scan: dict[str, Any], dropout: dict[str, float]):
        masks = masks_at(model, scan["quality"], sparsity, scan["std"])
        for name, layer in prunable(model):
            mask_weight(layer, masks[name])
        return scale_dropout(model, dropout) if self.settings.scale_dropout else {}

    def apply(self, base: BaseModel, target: float, ctx: CompressionContext) -> Compressed:
        from .finetune import finetune_or_load
        from .measure import measure, sparsity

        point, scan = self.label(target), self.quality(base, ctx)
        start, after = base.model, ""
        if base.name in self._previous:
            start, _, after = self._previous[base.name]
        model = copy.deepcopy(start)
        dropout = {n: m.p for n, m in base.model.named_modules() if isinstance(m, nn.Dropout)}
        kept0, kept1 = 1 - sparsity(model)["sparsity"], 1 - target
        rounds, acc_pre, rates, trained, seconds = self.settings.rounds, None, {}, None, 0.0
        for k in range(1, rounds + 1):
            round_sparsity = 1 - kept0 * (kept1 / kept0) ** (k / rounds)  # the same share of survivors each round
            rates = self._round(model, round_sparsity, scan, dropout)
            if k == 1:  # the first cut, before any retraining, as every method reports it
                acc_pre = accuracy(model, ctx.data.valid.images, ctx.data.valid.labels, ctx.device)
            path = ctx.layout.compressed(self.name, base.name, point if k == rounds else f"{point}-round{k}")
            trained = finetune_or_load(self, path, model, base, round_sparsity, {}, ctx, after=after)
            model, after, seconds = copy.deepcopy(trained.model), trained.key, seconds + trained.result["total_train_s"]
            if rates:  # the loaded model has the checkpoint's dropout rates; training continues with the scaled ones
                for name, p in rates.items():
                    model.get_submodule(name).p = p
        smallest = self.save_twins(trained.model, trained.path, base)
        record = measure(self, trained, base, target, point, acc_pre, smallest, ctx)
        record.details.update(rounds=rounds, quality=scan["quality"], dropout=rates,
                              **({"chained_from": self._previous[base.name][1].point} if base.name in self._previous
                                 else {}))
        record.finetune_epochs, record.finetune_s = self.training_epochs(), seconds
        self._previous[base.name] = (trained.model, record, trained.key)
        return Compressed(trained.model, record)


METHOD = HanIterative
