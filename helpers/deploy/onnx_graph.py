"""Models as exported ONNX graphs run by ONNX Runtime: the study's one deployment path.

Eager PyTorch pays a per-layer dispatch overhead that dominates a small CNN's sub-millisecond
forward pass, so a pruned model's speedup measured eagerly is partly a baseline artefact. Every model
is therefore also exported (TorchScript-based `torch.onnx.export` in eval mode, which folds each
BatchNorm into the convolution before it) and timed in ONNX Runtime, where graph optimisations fuse
the remaining element-wise operations; the int8 models exist only in this path.

`OnnxModel` wraps an exported graph as an `nn.Module` without parameters, so C1 and C2 load, time,
evaluate and replay it like any other model; it has no gradients, so it is never attacked white-box.
"""
from __future__ import annotations

import collections
import copy
from pathlib import Path

import numpy as np
import torch
from torch import nn

INPUT, OUTPUT = "images", "logits"
OPSET = 17
SPIN = "0"  # ONNX Runtime worker threads sleep when idle (see `session`)


class ExportError(RuntimeError):
    """A model that cannot be exported, or whose exported graph does not compute what it does."""


def export(model: nn.Module, path: str | Path, image_shape: tuple[int, int, int]) -> Path:
    """Write `model` (eval mode, fp32, a copy on the CPU) as an ONNX graph taking images [B, C, H, W]
    in [0, 1] (any batch size B; C, H, W = `image_shape`) and returning logits [B, classes]; every
    BatchNorm folded into its convolution (checked: the graph has no BatchNormalization node)."""
    import warnings
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cpu = _exportable_pools(copy.deepcopy(model).float().cpu().eval(), image_shape)
    x = torch.rand(2, *image_shape)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TracerWarnings of the input layer's size checks (constant here)
        torch.onnx.export(cpu, (x,), str(path), input_names=[INPUT], output_names=[OUTPUT], opset_version=OPSET,
                          dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}}, do_constant_folding=True,
                          dynamo=False)
    left = op_counts(path).get("BatchNormalization", 0)
    if left:
        raise ExportError(f"{path}: {left} BatchNormalization node(s) were not folded into a convolution")
    return path


class PoolingMatrices(nn.Module):
    """An adaptive average pooling from a fixed input size (h, w) to (oh, ow) as two constant matrix
    products, P x Qᵀ, with PyTorch's windows (start ⌊i·h/oh⌋, end ⌈(i+1)·h/oh⌉): the same numbers,
    and exportable where the TorchScript-based exporter rejects an output size that does not divide
    the input (SimpleCNN's 4×4 pooling of a 2×2 map at 16 px)."""

    def __init__(self, size_in: tuple[int, int], size_out: tuple[int, int]):
        super().__init__()
        self.register_buffer("rows", self._windows(size_in[0], size_out[0]))
        self.register_buffer("cols", self._windows(size_in[1], size_out[1]))

    @staticmethod
    def _windows(n: int, m: int) -> torch.Tensor:
        w = torch.zeros(m, n)
        for i in range(m):
            start, end = (i * n) // m, -((-(i + 1) * n) // m)
            w[i, start:end] = 1.0 / (end - start)
        return w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rows @ x @ self.cols.T


def _exportable_pools(model: nn.Module, image_shape: tuple[int, int, int]) -> nn.Module:
    """`model` with every AdaptiveAvgPool2d whose output size does not divide its input (seen on one
    forward pass) replaced by `PoolingMatrices`."""
    seen: dict[str, tuple[int, int]] = {}
    pools = {n: m for n, m in model.named_modules() if isinstance(m, nn.AdaptiveAvgPool2d)}
    hooks = [m.register_forward_hook(lambda mod, inp, out, n=n: seen.__setitem__(n, tuple(inp[0].shape[-2:])))
             for n, m in pools.items()]
    with torch.no_grad():
        model(torch.rand(1, *image_shape))
    for h in hooks:
        h.remove()
    for name, size_in in seen.items():
        size_out = tuple(pools[name].output_size) if isinstance(pools[name].output_size, (tuple, list)) else \
            (pools[name].output_size,) * 2
        size_out = tuple(o or i for o, i in zip(size_out, size_in))  # None keeps that dimension
        if any(i % o for i, o in zip(size_in, size_out)):
            parent, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, leaf, PoolingMatrices(size_in, size_out))
    return model


def op_counts(path: str | Path) -> dict[str, int]:
    """How many nodes of each ONNX operator type the graph at `path` has."""
    import onnx
    return dict(collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node))


def session(path: str | Path, threads: int | None = None):
    """An ONNX Runtime CPU session of the graph at `path`: `threads` intra-op threads (default: as
    many as torch uses, so both paths get the same cores), one inter-op thread, every graph
    optimisation on, and no spinning: timed round-robin, the idle session's threads would spin
    while the next one runs and take its cores (ResNetSmall 9.2 ± 4.8 ms at batch 1 against
    3.3 ± 0.1 without, on 2 cores)."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or torch.get_num_threads()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", SPIN)
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class OnnxModel(nn.Module):
    """An exported graph (`export`, or its int8 version) as a module: forward(images [B, C, H, W],
    float in [0, 1], any device) -> logits float32 [B, classes] on the images' device. No
    parameters and no gradients. A deep copy opens its own session on the same file."""

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no exported model at {self.path}")
        self._session = session(self.path)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # numpy makes the contiguous copy: a torch copy kernel would wake torch's OpenMP threads, whose
        # spinning then competes with ONNX Runtime's for the cores (8 ms instead of 0.75 for SimpleCNN)
        x = images.detach().cpu()
        x = np.ascontiguousarray((x if x.dtype == torch.float32 else x.float()).numpy())
        return torch.from_numpy(self._session.run([OUTPUT], {INPUT: x})[0]).to(images.device)

    def __deepcopy__(self, memo) -> "OnnxModel":
        return OnnxModel(self.path)

    def extra_repr(self) -> str:
        return str(self.path)


def deployed(model: nn.Module, directory: str | Path, name: str, image_shape: tuple[int, int, int]) -> OnnxModel:
    """`model` in the deployment path: itself when it already is an exported graph, else exported
    to <directory>/<name>.onnx and loaded."""
    if isinstance(model, OnnxModel):
        return model
    return OnnxModel(export(model, Path(directory) / f"{name}.onnx", image_shape))
