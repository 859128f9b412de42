"""Device, precision, model mode and thread settings shared by training, evaluation and benchmarks.

Precision follows the hardware (`resolve_precision`): bf16 autocast only where the device runs it
natively (a CPU whose oneDNN reports bf16 support: AMX or avx512_bf16; a CUDA GPU with bf16), fp16
autocast with a gradient scaler on a CUDA GPU without bf16, fp32 everywhere else. On a CPU without
native bf16 (AVX2 only), bf16 autocast is emulated and 9-17x slower than fp32 (measured on an AMD
EPYC Zen 3: SimpleCNN 9.4x, ResNetSmall 16.9x), so `auto` never picks it there. Evaluation, attacks
and maps always run in fp32.
"""
from __future__ import annotations

import contextlib
import platform
import warnings
from typing import Iterator

import torch
from torch import nn

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
_SPELLINGS = {"off": "fp32", "float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
_WARNED: set[str] = set()


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def pick_device(name: str = "auto") -> torch.device:
    """'auto' takes CUDA, then Apple's MPS, then the CPU; asking for a device that is not there is
    an error naming the parameter."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu")
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"parameter device must be auto, cpu, cuda or mps, not {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("parameter device is 'cuda' but no CUDA GPU is available (use 'auto' or 'cpu')")
    if name == "mps" and not mps_available():
        raise RuntimeError("parameter device is 'mps' but Apple's MPS backend is not available (use 'auto' or 'cpu')")
    return torch.device(name)


def cpu_bf16_probe() -> bool:
    """oneDNN's answer: does this CPU have bf16 instructions (avx512_bf16 or AMX)?"""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def cpu_fp16_probe() -> bool:
    """oneDNN's answer: does this CPU have fp16 instructions (avx512_fp16 or AMX-FP16)?"""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_fp16_supported", None)
    return bool(probe is not None and probe())


def native_bf16(device: torch.device) -> bool:
    """Does `device` run bf16 arithmetic natively (not emulated)?"""
    if device.type == "cpu":
        return cpu_bf16_probe()
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return False


def native_fp16(device: torch.device) -> bool:
    """Does `device` run fp16 autocast natively? (CUDA always; a CPU with AMX-FP16 or avx512_fp16.)"""
    return device.type == "cuda" or (device.type == "cpu" and cpu_fp16_probe())


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def resolve_precision(amp: str | bool, device: torch.device) -> str:
    """The training precision to use on `device`: 'bf16', 'fp16' or 'fp32'.

    amp 'auto': bf16 where native, else fp16 on CUDA, else fp32. 'bf16', 'fp16' and 'fp32' force one
    ('off' and YAML's False are fp32); a forced precision the device would only emulate warns once."""
    requested = "fp32" if amp is False else _SPELLINGS.get(str(amp), str(amp))
    if requested not in PRECISIONS:
        raise ValueError(f"parameter amp must be one of {', '.join(PRECISIONS)} (or off), not {amp!r}")
    if requested == "auto":
        return "bf16" if native_bf16(device) else "fp16" if device.type == "cuda" else "fp32"
    native = {"bf16": native_bf16, "fp16": native_fp16}.get(requested)
    if native is not None and not native(device):
        _warn_once(f"amp: {requested} on {device.type} ({cpu_name() if device.type == 'cpu' else device}) is not "
                   f"native there and is emulated, many times slower than fp32; amp: auto picks fp32 here")
    return requested


def autocast(device: torch.device, precision: str | bool):
    """Autocast to the precision's dtype ('bf16', 'fp16'); fp32 (or False) runs unchanged. A bool is
    the older spelling: True means bf16."""
    precision = "bf16" if precision is True else "fp32" if precision is False else precision
    if precision not in ("bf16", "fp16"):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """A gradient scaler, active only for fp16 on CUDA (where fp16 gradients underflow without it)."""
    return torch.amp.GradScaler("cuda" if device.type == "cuda" else "cpu",
                                enabled=precision == "fp16" and device.type == "cuda")


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what the platform says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description(device: torch.device, precision: str) -> dict[str, object]:
    """What the run used: device, precision, CPU, its vector extensions, threads, torch version."""
    return {"device": str(device), "precision": precision, "cpu": cpu_name(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "native_bf16": native_bf16(device),
            "threads": torch.get_num_threads(), "torch": torch.__version__}


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put `model` in eval mode for the block and give it back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def set_threads(n: int) -> int:
    """Fix the intra-op thread count (0 = leave torch's default); returns the count in use."""
    if n > 0:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
