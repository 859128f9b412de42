"""Device and precision by capability: each choice with the hardware probes patched, so every branch
is tested on any machine (a CPU with or without native bf16, a CUDA GPU with or without it, MPS)."""
import warnings

import pytest
import torch

from helpers.config import schema
from helpers.core import device as dev

CPU, CUDA, MPS = torch.device("cpu"), torch.device("cuda"), torch.device("mps")


@pytest.fixture
def hardware(monkeypatch):
    """Set what the probes answer: hardware(cpu_bf16=..., cuda=..., cuda_bf16=..., mps=...)."""
    def setup(cpu_bf16=False, cpu_fp16=False, cuda=False, cuda_bf16=False, mps=False):
        monkeypatch.setattr(dev, "cpu_bf16_probe", lambda: cpu_bf16)
        monkeypatch.setattr(dev, "cpu_fp16_probe", lambda: cpu_fp16)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: cuda_bf16)
        monkeypatch.setattr(dev, "mps_available", lambda: mps)
        monkeypatch.setattr(dev, "_WARNED", set())
    return setup


@pytest.mark.parametrize("probes, device, expected", [
    ({"cpu_bf16": True}, CPU, "bf16"),             # AMX or avx512_bf16: native
    ({"cpu_bf16": False}, CPU, "fp32"),            # AVX2 only: bf16 would be emulated, 9-17x slower
    ({"cuda": True, "cuda_bf16": True}, CUDA, "bf16"),
    ({"cuda": True, "cuda_bf16": False}, CUDA, "fp16"),  # a T4: fp16 with a gradient scaler
    ({"mps": True}, MPS, "fp32"),
])
def test_auto_picks_the_native_precision(hardware, probes, device, expected):
    hardware(**probes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # auto never warns
        assert dev.resolve_precision("auto", device) == expected


@pytest.mark.parametrize("amp, expected", [("fp32", "fp32"), ("off", "fp32"), (False, "fp32"), ("bf16", "bf16"),
                                           ("fp16", "fp16")])
def test_a_forced_precision_is_used_as_asked(hardware, amp, expected):
    hardware(cpu_bf16=True, cpu_fp16=True)
    assert dev.resolve_precision(amp, CPU) == expected


def test_forced_bf16_on_a_cpu_without_it_warns_once(hardware):
    hardware(cpu_bf16=False)
    with pytest.warns(RuntimeWarning, match="amp: bf16 on cpu .* emulated, many times slower than fp32"):
        assert dev.resolve_precision("bf16", CPU) == "bf16"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dev.resolve_precision("bf16", CPU) == "bf16"  # the second time: no warning


def test_an_unknown_precision_names_the_parameter(hardware):
    hardware()
    with pytest.raises(ValueError, match="parameter amp must be one of auto, bf16, fp16, fp32"):
        dev.resolve_precision("fp8", CPU)


@pytest.mark.parametrize("probes, expected", [({"cuda": True, "mps": True}, "cuda"), ({"mps": True}, "mps"), ({}, "cpu")])
def test_auto_device_is_cuda_then_mps_then_cpu(hardware, probes, expected):
    hardware(**probes)
    assert dev.pick_device("auto").type == expected


def test_asking_for_a_missing_device_is_an_error_naming_the_parameter(hardware):
    hardware()
    with pytest.raises(RuntimeError, match="parameter device is 'cuda'"):
        dev.pick_device("cuda")
    with pytest.raises(RuntimeError, match="parameter device is 'mps'"):
        dev.pick_device("mps")
    with pytest.raises(ValueError, match="parameter device must be"):
        dev.pick_device("gpu")


def test_autocast_casts_to_the_precision_and_fp32_leaves_it():
    layer = torch.nn.Linear(4, 4)
    x = torch.rand(2, 4)
    with dev.autocast(CPU, "bf16"):
        assert layer(x).dtype == torch.bfloat16
    with dev.autocast(CPU, "fp32"):
        assert layer(x).dtype == torch.float32


def test_the_gradient_scaler_is_active_for_fp16_on_cuda_only():
    assert not dev.grad_scaler(CPU, "fp16").is_enabled() and not dev.grad_scaler(CPU, "bf16").is_enabled()


@pytest.mark.parametrize("item", ["amp=off", "amp=fp32", "amp=no", "amp=false"])
def test_yaml_booleans_come_back_as_the_word_fp32_means(item):
    value = schema.parse_overrides([item])["amp"]
    assert value in ("off", "fp32") and dev.resolve_precision(value, CPU) == "fp32"


def test_a_parameter_file_may_say_amp_off(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("amp: off\ndevice: auto\n")
    assert schema.load_yaml(f) == {"amp": "off", "device": "auto"}


def test_the_machine_description_names_device_precision_cpu_and_threads():
    d = dev.machine_description(CPU, "fp32")
    assert d["device"] == "cpu" and d["precision"] == "fp32" and d["cpu"] and d["threads"] == torch.get_num_threads()
