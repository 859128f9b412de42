"""What C1 records of an int8 model: its source's counts, its own file and accuracy, and how often
it agrees with the fp32 graph it was quantized from."""
from __future__ import annotations

from torch import nn

from ..evaluation.paired import encode
from ..evaluation.predict import correct, predict
from .base import BaseModel, CompressionRecord
from .measure import file_size_mb, macs_and_params, sparsity


def measure_int8(method, base: BaseModel, source: nn.Module, int8: nn.Module, fp32: nn.Module, point: str,
                 source_record: CompressionRecord | None, ctx) -> CompressionRecord:
    """The record of `int8` (an `OnnxModel`), quantized from `source` (its fp32 graph `fp32`):
    parameters, non-zeros and MACs are the source's (int8 stores each weight in one byte instead of
    four, it removes none); accuracy on the validation and selection splits; `details.agreement`:
    the fraction of validation and selection images on which int8 and fp32 predict the same class."""
    data = ctx.data
    s = sparsity(source)
    macs, params = macs_and_params(source, (data.channels, data.image_size, data.image_size))
    splits = (data.valid, data.selection)
    int8_pred = [predict(int8, x.images, ctx.device).argmax(1) for x in splits]  # once per split: accuracy and agreement
    valid, selection = (p == x.labels for p, x in zip(int8_pred, splits))
    agree = sum(int((p == predict(fp32, x.images, ctx.device).argmax(1)).sum()) for p, x in zip(int8_pred, splits))
    path = ctx.layout.relative(int8.path)
    # the source's per-image outcomes: its record holds them; the dense model has none, so they are computed
    source_correct = ((source_record.correct, source_record.select_correct) if source_record else
                      tuple(encode(correct(source, x.images, x.labels, ctx.device)) for x in splits))
    return CompressionRecord(
        model=base.name, method=method.name, family=method.family, target=8.0, point=point, params=params,
        nonzero=s["nonzero"], sparsity=s["sparsity"], macs=macs, acc_pre_ft=None,
        acc=float(valid.float().mean()), select_acc=float(selection.float().mean()),
        correct=encode(valid), select_correct=encode(selection),
        size_mb=file_size_mb(int8.path), size_compressed_mb=file_size_mb(int8.path), path=path, compressed_path=path,
        details={"source_method": source_record.method if source_record else "dense",
                 "source_point": source_record.point if source_record else "–",
                 "source_correct": source_correct[0], "source_select_correct": source_correct[1],
                 "fp32_onnx_mb": file_size_mb(fp32.path), "agreement": agree / (len(valid) + len(selection)),
                 "sparsity_all": s["sparsity_all"]})
