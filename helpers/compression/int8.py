"""Post-training static int8 quantization (ONNX Runtime) of the dense and the compressed models.

Jacob et al. 2018 ("Quantization and training of neural networks for efficient integer-arithmetic-only
inference", CVPR) define the affine int8 scheme; ONNX Runtime's `quantize_static` implements it on an
exported graph. Nothing is fine-tuned: each source model (the dense model and every point of the
methods named in `sources`, made earlier in the same C1) is exported with BatchNorm folded
(`deploy.onnx_graph`), its activation ranges are calibrated on `calibration_per_class` seeded training
images per class, and its weights are quantized per output channel (`deploy.int8`). The result is an
ONNX graph, not a state_dict: C1 and C2 load, time, evaluate and replay it like any model, but it
has no gradients, so it is never attacked white-box. Each point is named after its source
('dense', 'channel-4x') and sits at its source's MAC reduction (int8 changes the arithmetic, not
the count of multiply-accumulates).
"""
from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from torch import nn

from .base import BaseModel, Compressed, CompressionContext, CompressionMethod, CompressionRecord, FineTuneBudget

DENSE_SOURCE = "dense"


class Int8Static(CompressionMethod):
    name = "int8"
    title = "int8 (post-training static, ONNX Runtime)"
    citation = "Jacob et al. 2018"
    family = "quantized"
    target_name = "MAC reduction"
    default_targets = (8.0,)  # bits: the only width this method makes
    default_budget = FineTuneBudget(epochs=0, lr=0.0)
    whitebox = False
    reads_points = True
    dense_value = 1.0
    narrative = (
        "**int8** quantizes a model after training, with no fine-tuning: the model is exported as an ONNX graph "
        "(BatchNorm folded into its convolutions), the range of every activation is calibrated on training images, "
        "and weights and activations become 8-bit integers with one scale per output channel for the weights "
        "(Jacob et al. 2018; ONNX Runtime's static quantization). The dense model and the channel-pruned models are "
        "quantized alike, so each int8 point is named after the model it came from. The file shrinks about fourfold; "
        "whether it also runs faster depends on the CPU's integer instructions, and is measured.")

    @dataclass(frozen=True)
    class Settings:
        sources: tuple[str, ...] = (DENSE_SOURCE, "channel")  # the dense model and the points of these methods
        calibration_per_class: int = 32  # training images per class whose activations set the ranges
        activation_type: str = "int8"
        weight_type: str = "int8"
        per_channel: bool = True
        reduce_range: bool = False
        calibration: str = "minmax"

    made_verb = "quantized"

    def targets_text(self, targets: list[float]) -> str:
        sources = ["the dense model" if s == DENSE_SOURCE else f"every {s} point" for s in self.settings.sources]
        return "Quantized to 8 bits: " + ", ".join(sources)

    def check_target(self, target: float) -> str | None:
        return None if target == 8 else "int8 quantizes to 8 bits only"

    def budget_text(self) -> str:
        return "no fine-tuning (post-training quantization)"

    def budget_words(self) -> str:
        return "no fine-tuning"

    def training_epochs(self) -> int:
        return 0

    def point_count(self, targets: list[float], made: tuple = ()) -> int:
        return sum(1 if s == DENSE_SOURCE else max(1, sum(k[1] == s for k in made)) for s in self.settings.sources)

    def achieved(self, record: CompressionRecord, dense_macs: int) -> float:
        return dense_macs / record.macs

    def findings(self, records, dense) -> tuple[str, list]:
        from .int8_report import findings
        return findings(records, dense)

    @staticmethod
    def source_of(point: str) -> tuple[str, str]:
        """(method, point) of the model an int8 point was quantized from ('dense', '–' for the dense model)."""
        method, _, source_point = point.partition("-")
        return (method, "–") if method == DENSE_SOURCE else (method, source_point)

    def load(self, path: Path) -> nn.Module:
        from ..deploy.onnx_graph import OnnxModel
        return OnnxModel(path)

    def apply(self, base: BaseModel, target: float, ctx: CompressionContext) -> Compressed:
        """The int8 model of the dense model alone (`sweep` adds the sources' points)."""
        return self._quantize(base, base.model, DENSE_SOURCE, None, ctx)

    def sweep(self, base: BaseModel, targets: list[float], ctx: CompressionContext) -> Iterator[Compressed]:
        """One int8 model per source point of `base` (the dense model first)."""
        from . import method_names
        unknown = [s for s in self.settings.sources if s != DENSE_SOURCE and s not in method_names()]
        if unknown:
            raise ValueError(f"compression_settings.int8.sources names {unknown}: neither '{DENSE_SOURCE}' nor a "
                             f"compression method ({sorted(method_names())})")
        for source in self.settings.sources:
            if source == DENSE_SOURCE:
                yield self._quantize(base, base.model, DENSE_SOURCE, None, ctx)
                continue
            made = [(m, r) for (model, method, _), (m, r) in ctx.made.items() if model == base.name and method == source]
            if not made:
                yield Compressed(None, CompressionRecord(base.name, self.name, self.family, 8.0, source,
                                                         skipped=f"no {source} model of {base.name} to quantize "
                                                                 "(that method does not run on it in this study)"))
            for model, record in made:
                yield self._quantize(base, model, f"{source}-{record.point}", record, ctx)

    def _quantize(self, base: BaseModel, source: nn.Module, point: str, source_record: CompressionRecord | None,
                  ctx: CompressionContext) -> Compressed:
        from .int8_measure import measure_int8
        from ..data.splits import stratified_subset
        from ..deploy.int8 import QuantConfig, quantize
        from ..deploy.onnx_graph import OnnxModel, export

        s, data = self.settings, ctx.data
        path = ctx.layout.compressed(self.name, base.name, point).with_suffix(".onnx")
        fp32 = path.with_name(f"{path.stem}-fp32.onnx")
        calibration = stratified_subset(data.train, s.calibration_per_class, ctx.train_cfg.seed)
        config = QuantConfig(s.activation_type, s.weight_type, s.per_channel, s.reduce_range, s.calibration)
        t0 = time.perf_counter()
        export(source, fp32, (data.channels, data.image_size, data.image_size))
        quantize(fp32, path, calibration.images, config)
        seconds = time.perf_counter() - t0
        int8 = OnnxModel(path)
        record = measure_int8(self, base, source, int8, OnnxModel(fp32), point, source_record, ctx)
        record.finetune_s = seconds
        record.created_at = datetime.datetime.now().isoformat(timespec="seconds")
        record.details.update(config=config.describe(), calibration_images=len(calibration.labels),
                              calibration_seed=ctx.train_cfg.seed, **_runtime())
        return Compressed(int8, record)


def _runtime() -> dict[str, Any]:
    import onnxruntime
    return {"onnxruntime": onnxruntime.__version__}


METHOD = Int8Static
