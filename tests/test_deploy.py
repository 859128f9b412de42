"""The deployment path: models exported as ONNX graphs (BatchNorm folded) and run by ONNX Runtime,
and the int8 method that quantizes the dense and the channel-pruned models."""
from __future__ import annotations

import copy

import pytest
import torch

from conftest import tiny_study_data
from helpers.compression import BaseModel, CompressionContext, build_method
from helpers.core.layout import RunLayout
from helpers.deploy.onnx_graph import ExportError, OnnxModel, PoolingMatrices, deployed, export, op_counts
from helpers.evaluation.predict import predict
from helpers.models import build_model
from helpers.training.config import TrainConfig

SHAPE = (3, 32, 32)


def _trained_like(arch: str, channels: int = 3, **kw) -> torch.nn.Module:
    """A model whose BatchNorm statistics are not the identity (as after training), eval mode."""
    torch.manual_seed(0)
    model = build_model(arch, num_classes=3, mean=[0.5] * channels, std=[0.25] * channels, **kw)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.weight.uniform_(0.5, 1.5, generator=g)
            bn.bias.uniform_(-0.2, 0.2, generator=g)
            bn.running_mean.uniform_(-0.3, 0.3, generator=g)
            bn.running_var.uniform_(0.5, 2.0, generator=g)
    return model.eval()


@pytest.mark.parametrize("arch,shape,kw", [("SimpleCNN", SHAPE, {}), ("ResNetSmall", SHAPE, {"width": 16}),
                                           ("LeNet5", (1, 28, 28), {})])
def test_an_exported_graph_folds_batchnorm_and_computes_the_model(tmp_path, arch, shape, kw):
    model = _trained_like(arch, shape[0], **kw)
    path = export(model, tmp_path / f"{arch}.onnx", shape)
    ops = op_counts(path)
    assert "BatchNormalization" not in ops and ops["Conv"] >= 2
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) >= (0 if arch == "LeNet5" else 3)
    graph = OnnxModel(path)
    x = torch.rand(5, *shape)  # another batch size than the export's: the batch axis is dynamic
    with torch.no_grad():
        assert torch.allclose(graph(x), model(x), atol=1e-4)
    assert list(graph.parameters()) == []
    assert torch.equal(copy.deepcopy(graph)(x), graph(x))  # a copy opens its own session on the same file
    assert torch.equal(predict(graph, (x * 255).to(torch.uint8), torch.device("cpu")),
                       predict(graph, (x * 255).to(torch.uint8).float() / 255, torch.device("cpu")))
    assert deployed(graph, tmp_path, "again", shape) is graph


def test_an_adaptive_pooling_that_does_not_divide_its_input_exports_as_matrices(tmp_path):
    model = _trained_like("SimpleCNN")  # at 16 px its 4×4 pooling meets a 2×2 map: no ONNX AveragePool does that
    path = export(model, tmp_path / "small.onnx", (3, 16, 16))
    assert "MatMul" in op_counts(path)
    x = torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(OnnxModel(path)(x), model(x), atol=1e-5)
    pool = PoolingMatrices((5, 7), (3, 2))
    y = torch.rand(2, 4, 5, 7)
    assert torch.allclose(pool(y), torch.nn.functional.adaptive_avg_pool2d(y, (3, 2)), atol=1e-6)


def test_a_missing_graph_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no exported model at .*absent.onnx"):
        OnnxModel(tmp_path / "absent.onnx")


def test_unfolded_batchnorm_is_an_error(tmp_path, monkeypatch):
    import helpers.deploy.onnx_graph as g
    monkeypatch.setattr(g, "op_counts", lambda path: {"BatchNormalization": 2, "Conv": 2})
    with pytest.raises(ExportError, match="2 BatchNormalization node"):
        g.export(_trained_like("SimpleCNN"), tmp_path / "m.onnx", SHAPE)


def _context(tmp_path):
    data = tiny_study_data(tmp_path, 30, ["a", "b", "c"])
    cfg = TrainConfig(epochs=1, batch_size=10, warmup_epochs=0, amp="off", augment=False, seed=3)
    return CompressionContext(data, cfg, RunLayout(tmp_path, tmp_path / "figures"), torch.device("cpu"))


def _base(tmp_path) -> BaseModel:
    ckpt = {"arch": "SimpleCNN", "arch_args": {"num_classes": 3}, "run_key": "base", "created_at": "2026-12-02T10:00:00"}
    return BaseModel("SimpleCNN", _trained_like("SimpleCNN"), ckpt, tmp_path / "base.pt")


def test_int8_quantizes_the_dense_model_and_every_point_of_its_sources(tmp_path):
    ctx = _context(tmp_path)
    base = _base(tmp_path)
    channel = build_method("channel", {"compression_budgets": {"channel": {"epochs": 0, "distill_alpha": 0.0}}})
    for made in channel.sweep(base, [2.0], ctx):
        ctx.made["SimpleCNN", "channel", made.record.point] = (made.model, made.record)
    method = build_method("int8", {"compression_settings": {"int8": {"calibration_per_class": 4}}})
    points = list(method.sweep(base, [8.0], ctx))
    assert [p.record.point for p in points] == ["dense", "channel-2x"]
    assert method.point_count([8.0], tuple(ctx.made)) == 2 and method.point_count([8.0]) == 2
    dense, pruned = (p.record for p in points)
    assert isinstance(points[0].model, OnnxModel) and not method.whitebox
    assert dense.path == "checkpoints/int8/SimpleCNN-dense.onnx" and dense.acc_pre_ft is None
    # one byte per weight instead of four (the fp32 graph beside it); MACs and parameters are the source's
    assert dense.details["fp32_onnx_mb"] / dense.size_mb > 3.5
    assert dense.macs > pruned.macs and dense.params > pruned.params
    assert method.achieved(pruned, dense.macs) == pytest.approx(dense.macs / pruned.macs)
    assert 0 < dense.details["agreement"] <= 1 and dense.details["calibration_images"] == 12
    x = ctx.data.valid.images.float() / 255
    with torch.no_grad():  # int8 logits track the fp32 model's: within a tenth of their spread
        fp32, int8 = base.model(x), method.load(tmp_path / dense.path)(x)
        assert (int8 - fp32).abs().max() < 0.1 * (fp32.max() - fp32.min())
    assert pruned.details["source_method"] == "channel" and pruned.details["source_point"] == "2x"


def test_int8_says_when_a_source_made_nothing_and_rejects_other_widths(tmp_path):
    ctx = _context(tmp_path)
    base = _base(tmp_path)
    method = build_method("int8", {"compression_settings": {"int8": {"sources": ["channel"]}}})
    (only,) = method.sweep(base, [8.0], ctx)
    assert only.model is None and "no channel model of SimpleCNN" in only.record.skipped
    assert "8 bits only" in method.check_target(4)
    bad = build_method("int8", {"compression_settings": {"int8": {"sources": ["dense"], "calibration": "best"}}})
    with pytest.raises(ValueError, match="int8 setting calibration is 'best'"):
        next(bad.sweep(base, [8.0], ctx))
    typo = build_method("int8", {"compression_settings": {"int8": {"sources": ["dense", "chanel"]}}})
    with pytest.raises(ValueError, match=r"compression_settings.int8.sources names \['chanel'\]"):
        next(typo.sweep(base, [8.0], ctx))


def _int8_record(right: int, source_right: int, n: int):
    from types import SimpleNamespace

    from conftest import outcome_bits
    return SimpleNamespace(model="M", point="dense", correct=outcome_bits(n, right), select_correct="", size_mb=1.0,
                           details={"source_correct": outcome_bits(n, source_right), "source_select_correct": "",
                                    "source_method": "dense", "source_point": "–", "agreement": 0.99,
                                    "fp32_onnx_mb": 4.0, "config": "S8S8", "calibration_images": 10})


def test_int8_is_within_one_point_only_when_the_paired_interval_is():
    from helpers.compression.int8_report import findings, versus_source
    # 10 images fewer of 2,000 (−0.5 point): resolved by McNemar, and its interval inside ±1 point
    many = versus_source(_int8_record(1790, 1800, 2000))
    assert many["within"] and many["better"] == "b"
    # 1 image fewer of 200: not resolved, but 200 images cannot show it within 1 point
    few = versus_source(_int8_record(179, 180, 200))
    assert not few["within"] and few["better"] is None
    text, figures = findings([_int8_record(1790, 1800, 2000)], {})
    assert "1 of 1 int8 model shown within 1 point" in text and "within 1 point, resolved" in text and not figures
