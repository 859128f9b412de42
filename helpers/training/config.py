"""The training recipe: one dataclass, shared by training from scratch and every fine-tuning.

Its defaults are the study's parameter defaults (helpers/config/defaults.py, their one source);
see that file for what each field means.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ..config.schema import defaults

_DEFAULT = defaults()


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = _DEFAULT["epochs"]
    batch_size: int = _DEFAULT["batch_size"]
    lr: float = _DEFAULT["lr"]
    weight_decay: float = _DEFAULT["weight_decay"]        # decoupled (AdamW); 0 gives plain Adam
    label_smoothing: float = _DEFAULT["label_smoothing"]
    warmup_epochs: int = _DEFAULT["warmup_epochs"]
    patience: int = _DEFAULT["patience"]                  # epochs without a lower selection loss before stopping
    amp: str = _DEFAULT["amp"]                            # auto | bf16 | fp16 | fp32 (core.device.resolve_precision)
    seed: int = _DEFAULT["seed"]
    augment: bool = _DEFAULT["augment"]
    rotation_deg: float = _DEFAULT["rotation_deg"]
    scale: float = _DEFAULT["scale"]                      # random zoom in [1 - scale, 1 + scale]
    translate: float = _DEFAULT["translate"]              # random shift, fraction of the image size
    jitter: float = _DEFAULT["jitter"]

    @classmethod
    def from_params(cls, params: dict[str, Any], **changes: Any) -> "TrainConfig":
        """The recipe of the study's parameters (training keys only), with `changes` applied."""
        fields = {k: params[k] for k in cls.__dataclass_fields__ if k in params}
        return replace(cls(**fields), **changes)

    def finetuning(self, epochs: int, lr: float, warmup_epochs: int) -> "TrainConfig":
        """This recipe as a fine-tuning of fixed length: no early stopping."""
        return replace(self, epochs=epochs, lr=lr, warmup_epochs=warmup_epochs, patience=epochs)

    def augmentation(self) -> dict[str, float]:
        """The keyword arguments of `data.augment.augment` this recipe trains with ({} without)."""
        if not self.augment:
            return {}
        return {"rotation_deg": self.rotation_deg, "scale": self.scale, "translate": self.translate,
                "brightness": self.jitter, "contrast": self.jitter, "saturation": self.jitter}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
