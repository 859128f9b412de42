"""Why global magnitude pruning broke the fine-tuned EfficientNet-Lite0 at 50 % (experiments/README.md).

The EffNetL0-full checkpoint of the default study's cold run is pruned by one global magnitude
threshold, before any fine-tuning, at each amount: (a) over every convolution and the classifier
(the rule before the spec left the classifier out), (b) over the convolutions only (the spec's
`backbone_layers`), and (c) as (b), then with the BatchNorm running statistics re-estimated from
training images (weights untouched; only the BatchNorm layers in train mode, so that dropout and
drop-connect add no noise). Selection-split accuracy of each; McNemar's exact test pairs (b) with
(a) and (c) with (b) on the same images.
Usage: python experiments/effnet_pruning.py [n_train_images_for_batchnorm]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch  # noqa: E402
from torch import nn  # noqa: E402

from helpers.compression.magnitude import magnitude_masks, mask_weight, prunable  # noqa: E402
from helpers.config.resolution import resolve  # noqa: E402
from helpers.data import load_dataset  # noqa: E402
from helpers.evaluation.paired import mcnemar  # noqa: E402
from helpers.evaluation.predict import predict  # noqa: E402
from helpers.models.checkpoints import load_model  # noqa: E402
from helpers.models.registry import conv_and_linear  # noqa: E402

MODEL, AMOUNTS = "EffNetL0-full", (0.3, 0.5, 0.7)
CHECKPOINT = Path("runs/default/checkpoints") / f"{MODEL}-original.pt"


def pruned(amount: float, layers_of) -> nn.Module:
    """The checkpoint's model with the fraction `amount` of smallest |w| over `layers_of(model)` zeroed."""
    model, _ = load_model(CHECKPOINT, MODEL)
    layers = [m for _, m in layers_of(model)]
    for m, mask in zip(layers, magnitude_masks([m.weight for m in layers], amount, "global")):
        mask_weight(m, mask)
    return model.eval()


@torch.no_grad()
def reestimate_batchnorm(model: nn.Module, images: torch.Tensor, batch: int = 64) -> nn.Module:
    """Running mean and variance of every BatchNorm averaged anew over `images` (uint8 [N, C, H, W])."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches
        m.train()
    for i in range(0, len(images), batch):
        model(images[i:i + batch].float() / 255)
    return model.eval()


def main() -> None:
    n_train = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    torch.manual_seed(0)
    data = load_dataset(resolve("parameters/default.yaml", []))
    sel, cpu = data.selection, torch.device("cpu")
    pick = torch.randperm(len(data.train.labels))[:n_train]

    def correct(model):
        return predict(model, sel.images, cpu).argmax(1) == sel.labels

    for amount in AMOUNTS:
        with_head = pruned(amount, conv_and_linear)
        head_zeros = float((with_head._fc.weight == 0).float().mean())
        a = correct(with_head)
        b = correct(pruned(amount, prunable))
        c = correct(reestimate_batchnorm(pruned(amount, prunable), data.train.images[pick]))
        ab, bc = mcnemar(b, a), mcnemar(c, b)
        print(f"{amount:.0%}: (a) with the classifier {a.float().mean():.3f} ({head_zeros:.0%} of it zeroed); "
              f"(b) without {b.float().mean():.3f} (McNemar against a: {ab['only_a']} vs {ab['only_b']}, "
              f"p = {ab['p_value']:.2g}); (c) BatchNorm re-estimated on {n_train} images {c.float().mean():.3f} "
              f"(against b: {bc['only_a']} vs {bc['only_b']}, p = {bc['p_value']:.2g})", flush=True)


if __name__ == "__main__":
    main()
