"""What int8 shows beyond its points: each int8 model against the fp32 model it was quantized from,
on the same images (validation and selection splits pooled, for resolution): accuracy difference in
points with its paired interval (within 1 point when the interval lies inside ±1 point), McNemar's
test, how often the two predict the same class, and the file each needs."""
from __future__ import annotations

from ..evaluation.paired import compare, evidence

WITHIN = 0.01  # the tolerance: int8 within 1 point of its fp32 model


def versus_source(record, alpha: float = 0.05) -> dict:
    """The int8 model of `record` against its fp32 source on validation + selection images pooled."""
    d = record.details
    result = compare(record.correct + record.select_correct, d["source_correct"] + d["source_select_correct"],
                     alpha=alpha)
    # within 1 point: the paired 95 % interval of the difference lies inside ±1 point (an equivalence
    # reading; a loss McNemar resolves can still be within it, and an unresolved one on few images not)
    return {**result, "n": len(record.correct) + len(record.select_correct),
            "within": -WITHIN <= result["ci_low"] and result["ci_high"] <= WITHIN}


def _line(r, alpha: float) -> str:
    v, d = versus_source(r, alpha), r.details
    source = "dense model" if d["source_method"] == "dense" else f"{d['source_method']} {d['source_point']}"
    verdict = (("within 1 point" if v["within"] else "not shown within 1 point (its interval reaches beyond)")
               + (", resolved" if v["better"] else ", not resolved"))
    return (f"- {source}: {v['difference'] * 100:+.1f} points against its fp32 model over {v['n']} images, {verdict} "
            f"({evidence(v)}); the same class on {d['agreement']:.1%} of them; {r.size_mb:.2f} MB against "
            f"{d['fp32_onnx_mb']:.2f} MB for the fp32 graph ({d['fp32_onnx_mb'] / r.size_mb:.1f}× smaller)")


def findings(records, dense, alpha: float = 0.05) -> tuple[str, list]:
    """(markdown, figures) for C1: per model one paragraph, one clause per int8 point."""
    text = []
    for model in dict.fromkeys(r.model for r in records):
        own = [r for r in records if r.model == model]
        within = sum(versus_source(r, alpha)["within"] for r in own)
        text.append(f"**int8, {model}** ({own[0].details['config']}; calibrated on {own[0].details['calibration_images']} "
                    f"training images): {within} of {len(own)} int8 model{'s' * (len(own) > 1)} shown within 1 point of "
                    "their fp32 model (the 95 % paired interval of the difference inside ±1 point):\n\n"
                    + "\n".join(_line(r, alpha) + "." for r in own))
    return "\n\n".join(text), []
