"""The training recipe: one dataclass, shared by training from scratch and every fine-tuning."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 5e-4      # decoupled (AdamW); 0 gives plain Adam
    label_smoothing: float = 0.1
    warmup_epochs: int = 2
    patience: int = 10              # epochs without a better validation loss before stopping
    amp: str = "bf16"               # "bf16" autocast or "off" (fp32)
    seed: int = 0
    augment: bool = True
    rotation_deg: float = 15.0
    scale: float = 0.0              # random zoom in [1 - scale, 1 + scale]
    translate: float = 0.0          # random shift, fraction of the image size
    jitter: float = 0.2

    @classmethod
    def from_params(cls, params: dict[str, Any], **changes: Any) -> "TrainConfig":
        """The recipe of the study's parameters (training keys only), with `changes` applied."""
        fields = {k: params[k] for k in cls.__dataclass_fields__ if k in params}
        return replace(cls(**fields), **changes)

    def finetuning(self, epochs: int, lr: float, warmup_epochs: int) -> "TrainConfig":
        """This recipe as a fine-tuning of fixed length: no early stopping."""
        return replace(self, epochs=epochs, lr=lr, warmup_epochs=warmup_epochs, patience=epochs)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
