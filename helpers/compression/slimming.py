"""`slimming`: network slimming (Liu et al. 2017): sparsity training, one global threshold, fine-tuning.

Liu, Li, Shen, Huang, Yan & Zhang, "Learning Efficient Convolutional Networks through Network
Slimming", ICCV 2017: train with an L1 penalty λ·Σ|γ| on every BatchNorm scale γ, so that the
scales of unneeded channels shrink towards zero; remove the channels whose |γ| lies below one
threshold over all layers, chosen to remove a target fraction of them; fine-tune. Before
fine-tuning a high ratio often leaves the network near chance (their Table 2 reports 5-32 %).

Here: for each λ of `lambdas` the model is trained as A2 trained the dense model (the same recipe,
seed and initialisation, its early stopping on the selection split) with the penalty added to the
loss (`training.losses.with_bn_l1`); λ = 0 is A2's own model, reused. Each target is the fraction
of BatchNorm channels removed (0.5, 0.9) by one threshold on |γ| over all layers, Torch-Pruning's
dependency graph keeping residual groups coupled; no layer loses more than `max_layer_ratio` of
its channels, so where the threshold would empty a layer fewer channels go than asked, and the
record says how many went (`channels_removed`). Fine-tuning is `channel`'s budget (distilling the
dense model). A point is labelled `l<λ>-c<fraction>`.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Iterator

import torch
from torch import nn

from ..core.device import eval_mode
from ..core.reuse import reuse_key
from ..models.checkpoints import CHANNEL_PRUNED
from ..models.registry import build_model, get_spec, spec_of
from ..training.cached import Trained, fit_or_reuse
from ..training.config import TrainConfig
from .base import BaseModel, Compressed, CompressionContext, CompressionMethod
from .channel import ChannelPruning, global_threshold, scored_groups, widths


HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "select_loss", "select_acc")


def bn_scales(model: nn.Module) -> dict[str, torch.Tensor]:
    """|γ| of every BatchNorm layer, by name: float [channels]."""
    return {n: m.weight.detach().abs().float().cpu() for n, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None}


def prune_by_bn_threshold(model: nn.Module, fraction: float, image_shape: tuple[int, int, int],
                          round_to: int = 1, max_layer_ratio: float = 0.95) -> nn.Module:
    """Remove the channels whose |γ| lies at or below one threshold over all layers, set so that
    `fraction` of the BatchNorm-scaled channels would go (coupled channels score the mean of their
    scales); a layer keeps at least 1 − `max_layer_ratio` of its channels (and one), so where the
    threshold would empty a layer, fewer go than asked (`removed_share` measures it). Torch-Pruning's
    dependency graph removes each channel with everything coupled to it. Pruned in place and
    returned; image_shape (C, H, W)."""
    import torch_pruning as tp

    if not 0 < fraction < 1:
        raise ValueError(f"slimming target must be a fraction of channels in (0, 1), not {fraction}")
    example = torch.rand(1, *image_shape, device=next(model.parameters()).device)
    with eval_mode(model):
        graph, scored = scored_groups(model, tp.importance.BNScaleImportance(normalizer=None), example,
                                      spec_of(model).keep_whole(model))
        threshold = global_threshold([imp for *_, imp in scored], fraction)
        if threshold is None:  # the fraction is less than one channel
            return model
        for module, handler, imp in scored:  # one group at a time, as Torch-Pruning's own pruner does
            n = len(imp)
            keep = max(n - int((imp <= threshold).sum()), math.ceil(n * (1 - max_layer_ratio)), 1)
            keep = min(n, math.ceil(keep / round_to) * round_to)
            if keep < n:
                graph.get_pruning_group(module, handler, imp.argsort()[:n - keep].tolist()).prune()
    return model


def removed_share(before: dict[str, torch.Tensor], after: nn.Module) -> float:
    """The fraction of BatchNorm channels of `before` (bn_scales) missing from `after`."""
    now = bn_scales(after)
    return 1 - sum(len(now[n]) for n in before) / sum(len(v) for v in before.values())


def lambda_text(lam: float) -> str:
    """λ for labels and file names: '0', '1e-5', '2.5e-4'."""
    if lam == 0:
        return "0"
    mantissa, exponent = f"{lam:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


class NetworkSlimming(CompressionMethod):
    """See the module docstring."""
    name = "slimming"
    title = "network slimming (Liu et al.)"
    citation = "Liu et al., ICCV 2017"
    family = "structured"
    target_name = "channels removed"
    default_targets = (0.5, 0.9)
    default_budget = ChannelPruning.default_budget
    narrative = ("**slimming**: network slimming (Liu et al. 2017): the model is trained again from the same "
                 "initialisation with an L1 penalty λ·Σ|γ| on its BatchNorm scales (λ = 0 is A2's own model), the "
                 "channels whose |γ| falls below one threshold over all layers are removed (the threshold set to "
                 "remove each targeted fraction), and the slimmed network is fine-tuned with channel pruning's "
                 "budget.")

    @dataclass(frozen=True)
    class Settings:
        # L1 weights on |γ|; 0 reuses A2's model. Liu et al.'s 1e-5 and 1e-4 (SGD at 0.1 for 160 epochs) barely
        # move the scales under this kit's AdamW recipe on a small training set; 1e-3 shrinks them (experiments/)
        lambdas: tuple = (0.0, 1e-4, 1e-3)
        round_to: int = 1                    # the paper's widths are whatever the threshold leaves
        max_layer_ratio: float = 0.95        # no layer loses more of its channels than this

        def __post_init__(self):
            if not self.lambdas or any(not isinstance(v, (int, float)) or v < 0 for v in self.lambdas):
                raise ValueError(f"compression_settings: slimming lambdas must be numbers ≥ 0, not {self.lambdas!r}")

    dense_value = 0.0

    def label(self, target: float) -> str:
        return f"c{target:g}"

    def point(self, lam: float, target: float) -> str:
        return f"l{lambda_text(lam)}-{self.label(target)}"

    def check_target(self, target: float) -> str | None:
        return None if 0 < target < 1 else "a fraction of channels must lie in (0, 1)"

    def achieved(self, record, dense_macs: int) -> float:
        return record.details.get("channels_removed", record.target)

    def series(self, record) -> str:
        return f"{self.name} λ={lambda_text(record.details['lambda'])}"

    def budget_text(self) -> str:
        return (f"{self.budget.describe()} after slimming, once each λ > 0 has been trained with the dense model's "
                "own recipe (A2's) and the penalty")

    def point_count(self, targets: list[float], made: tuple = ()) -> int:
        return len(self.settings.lambdas) * len(targets)

    def training_epochs(self) -> int:  # per target: one fine-tuning per λ
        return len(self.settings.lambdas) * self.budget.epochs

    def shared_training(self, model_epochs: int, targets: list[float]) -> list[tuple[str, int]]:
        return [(f"sparsity training λ={lambda_text(lam)}", model_epochs) for lam in self.settings.lambdas if lam > 0]

    def checkpoint_metadata(self, details: dict[str, Any]) -> dict[str, Any]:
        return {"structure": CHANNEL_PRUNED}

    def findings(self, records, dense) -> tuple[str, list]:
        from .slimming_report import findings
        return findings(records, dense)

    def finish(self, model: nn.Module) -> nn.Module:
        return model

    def save_twins(self, model, path, base):
        return path

    def sparse_model(self, base: BaseModel, lam: float, ctx: CompressionContext) -> Trained | None:
        """The model trained with penalty `lam` as A2 trained `base` (None for λ = 0: `base` itself)."""
        from ..training.losses import with_bn_l1

        if lam == 0:
            return None
        cfg = TrainConfig(**base.checkpoint["train_config"])
        arch, arch_args = base.checkpoint["arch"], base.checkpoint["arch_args"]
        torch.manual_seed(cfg.seed)  # A2's initialisation: λ is the only difference
        model = build_model(arch, **arch_args)
        key = reuse_key(code=[__name__, "helpers.training.cached", "helpers.training.losses", get_spec(arch).module],
                        kind="sparsity-trained", base=base.checkpoint.get("run_key"), config=cfg, lam=lam)
        path = ctx.layout.compressed(self.name, base.name, f"sparse-l{lambda_text(lam)}")
        return fit_or_reuse(path, key, lambda: (model, arch, arch_args), ctx.data.train, ctx.data.selection, cfg,
                            device=ctx.device, name=f"{base.name} sparsity training λ={lambda_text(lam)}",
                            expected_arch=arch, loss_fn=with_bn_l1(model, lam, cfg.label_smoothing),
                            classes=base.checkpoint.get("classes"), slimming_lambda=lam)

    def apply(self, base: BaseModel, target: float, ctx: CompressionContext) -> Compressed:
        raise NotImplementedError("slimming makes its points per λ: see sweep")

    def sweep(self, base: BaseModel, targets: list[float], ctx: CompressionContext) -> Iterator[Compressed]:
        if not bn_scales(base.model):
            raise ValueError(f"compression method slimming needs BatchNorm layers; {base.name} has none")
        for lam in self.settings.lambdas:
            sparse = self.sparse_model(base, lam, ctx)
            summary = sparse_summary(base, sparse, ctx)
            for target in targets:
                yield self._point(base, sparse, lam, target, summary, ctx)

    def _point(self, base: BaseModel, sparse: Trained | None, lam: float, target: float, summary: dict[str, Any],
               ctx: CompressionContext) -> Compressed:
        """Slim the λ model to `target` (a fraction of channels), fine-tune it, measure it."""
        from ..evaluation.predict import accuracy
        from .finetune import finetune_or_load
        from .measure import measure

        start = base.model if sparse is None else sparse.model
        image_shape = (ctx.data.channels, ctx.data.image_size, ctx.data.image_size)
        scales = bn_scales(start)
        pruned = prune_by_bn_threshold(copy.deepcopy(start), target, image_shape, self.settings.round_to,
                                       self.settings.max_layer_ratio)
        acc_pre = accuracy(pruned, ctx.data.valid.images, ctx.data.valid.labels, ctx.device)
        point = self.point(lam, target)
        details = {"lambda": lam, "channels_removed": removed_share(scales, pruned), "widths": widths(pruned)}
        trained = finetune_or_load(self, ctx.layout.compressed(self.name, base.name, point), pruned, base, target,
                                   details, ctx, after=sparse.key if sparse is not None else "")
        record = measure(self, trained, base, target, point, acc_pre, trained.path, ctx)
        record.details.update(details, sparse_training=summary,
                              gamma_abs=[round(float(v), 6) for v in torch.cat(list(scales.values()))])
        return Compressed(trained.model, record)


def sparse_summary(base: BaseModel, sparse: Trained | None, ctx: CompressionContext) -> dict[str, Any]:
    """What the report says of one λ's training: its curves (selection accuracy and training loss
    per epoch), the kept epoch, the seconds, its validation accuracy, and whether it was reused
    (A2's own model for λ = 0) with the time of the run that made it."""
    from ..evaluation.predict import accuracy

    result = base.checkpoint["training"] if sparse is None else sparse.result
    model = base.model if sparse is None else sparse.model
    return {"reused": True if sparse is None else sparse.reused,
            "created_at": base.checkpoint.get("created_at", "") if sparse is None else sparse.created_at,
            "train_s": result.get("total_train_s", 0.0), "best_epoch": result.get("best_epoch"),
            "history": [{k: h[k] for k in HISTORY_KEYS if k in h} for h in result["history"]],
            "acc": accuracy(model, ctx.data.valid.images, ctx.data.valid.labels, ctx.device)}


METHOD = NetworkSlimming
