"""bfloat16 convolutions in plain inference: close to float32, never in training, chosen by the Enhancer."""

from __future__ import annotations

import pytest
import torch

from conftest import needs_bfloat16
from lowface.bench.methods import cpu_precision, split_precision
from lowface.inference.enhancer import Enhancer
from lowface.models import RestoreNet
from lowface.models.precision import (
    amx_bfloat16,
    bfloat16_runs,
    conv_precision,
    int8_by_default,
    native_bfloat16,
    resolve_precision,
)


def trained_looking_restore_net() -> RestoreNet:
    """A RestoreNet whose zero-initialised last layers have weights, so the denoiser and tone head act."""
    torch.manual_seed(0)
    net = RestoreNet(tone_width=16, detail_guide_eps=0.01).eval()
    for layer in (net.denoiser.out, net.tone.layers[-1]):
        torch.nn.init.normal_(layer.weight, 0.0, 0.05)
    return net


@needs_bfloat16
def test_bfloat16_convolutions_stay_within_a_hundredth_of_float32_and_differ():
    net = trained_looking_restore_net()
    x = torch.rand(1, 3, 64, 96) * 0.3
    with torch.inference_mode():
        reference = net(x).reflectance
        with conv_precision(torch.bfloat16):
            reduced = net(x).reflectance
        after = net(x).reflectance  # the context is left: float32 again
    assert reduced.dtype == torch.float32 and reduced.shape == x.shape
    difference = (reduced - reference).abs()
    assert 0 < difference.max() < 0.02 and difference.mean() < 2e-3
    assert torch.equal(after, reference)


def test_training_and_gradients_ignore_the_reduced_precision():
    net = trained_looking_restore_net()
    x = torch.rand(1, 3, 32, 32) * 0.3
    reference = net(x).reflectance
    with conv_precision(torch.bfloat16):
        graph = net(x).reflectance  # grad enabled: the training graph, float32 throughout
    assert torch.equal(graph, reference)


def test_resolve_precision_and_its_errors():
    cpu = torch.device("cpu")
    assert resolve_precision("float32", cpu) == torch.float32
    if bfloat16_runs(cpu):  # else refused (test_a_capped_onednn_...)
        assert resolve_precision("bfloat16", cpu) == torch.bfloat16
    auto = torch.int8 if int8_by_default(cpu) else torch.bfloat16 if native_bfloat16(cpu) else torch.float32
    assert resolve_precision("auto", cpu) == auto
    assert resolve_precision("auto", torch.device("mps")) == torch.float32
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", cpu)
    with pytest.raises(ValueError, match="float32, bfloat16 or int8"), conv_precision(torch.float16):
        pass


def test_a_capped_onednn_has_no_native_bfloat16_and_auto_runs_int8_where_it_can(monkeypatch):
    """ONEDNN_MAX_CPU_ISA below bfloat16's instructions makes oneDNN refuse bfloat16 convolutions: auto is int8 on an
    x86 CPU whose PyTorch has oneDNN's int8 convolutions, else float32."""
    import platform

    from lowface.models.int8 import int8_can_run

    cpu = torch.device("cpu")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    int8 = int8_can_run(torch.zeros(1)) and platform.machine().lower() in ("x86_64", "amd64")
    assert not native_bfloat16(cpu) and int8_by_default(cpu) == int8
    assert resolve_precision("auto", cpu) == (torch.int8 if int8 else torch.float32)
    with pytest.raises(ValueError, match=r"this CPU cannot run bfloat16 convolutions .*use auto, float32 or int8"):
        resolve_precision("bfloat16", cpu)  # oneDNN has no bfloat16 path at AVX2: a clear refusal, not its crash
    monkeypatch.setattr(platform, "machine", lambda: "arm64")  # an ARM CPU: float32 (int8 not measured there)
    assert not int8_by_default(cpu) and resolve_precision("auto", cpu) == torch.float32
    assert not int8_by_default(torch.device("cuda"))
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX")
    assert native_bfloat16(cpu) == bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def test_int8_is_refused_where_this_pytorch_cannot_run_it(monkeypatch):
    """Asked for int8 without oneDNN's int8 convolutions, the network would run float and its records say int8."""
    import lowface.models.int8 as int8

    monkeypatch.setattr(int8, "QCONV", None)
    with pytest.raises(ValueError, match="this PyTorch has no oneDNN int8 convolutions; use auto, float32 or bfloat16"):
        resolve_precision("int8", torch.device("cpu"))
    assert resolve_precision("auto", torch.device("cpu")) != torch.int8  # auto does not pick it there either


def test_auto_is_bfloat16_on_amx_and_int8_on_other_x86_cpus(monkeypatch):
    """AMX multiplies bfloat16 faster than int8 runs here: auto keeps bfloat16 there; on an x86 CPU whose bfloat16
    is AVX-512's dot products (AMD Zen 4) int8 took a fifth off the default's frame, so auto runs int8 there."""
    import platform

    from lowface.models.int8 import int8_can_run

    if not int8_can_run(torch.zeros(1)) or platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("this PyTorch or CPU has no oneDNN int8 convolutions")
    cpu = torch.device("cpu")
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)  # a Xeon with AMX
    assert amx_bfloat16(cpu) and native_bfloat16(cpu) and not int8_by_default(cpu)
    assert resolve_precision("auto", cpu) == torch.bfloat16
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")  # the same Xeon with oneDNN kept off its AMX tiles
    assert not amx_bfloat16(cpu) and native_bfloat16(cpu) and resolve_precision("auto", cpu) == torch.int8
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)  # AVX512-BF16 without AMX: AMD Zen 4
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert native_bfloat16(cpu) and not amx_bfloat16(cpu) and int8_by_default(cpu)
    assert resolve_precision("auto", cpu) == torch.int8
    if bfloat16_runs(cpu):
        assert resolve_precision("bfloat16", cpu) == torch.bfloat16  # still there when asked for
    assert not amx_bfloat16(torch.device("cuda"))


@needs_bfloat16
def test_the_enhancer_runs_the_precision_it_was_given():
    x = torch.rand(1, 3, 48, 64) * 0.3
    single = Enhancer.from_pretrained("lowface-restore-real", device="cpu", gate=False, precision="float32")
    reduced = Enhancer.from_pretrained("lowface-restore-real", device="cpu", gate=False, precision="bfloat16")
    assert single.conv_dtype == torch.float32 and reduced.conv_dtype == torch.bfloat16
    assert "precision=bfloat16" in repr(reduced)
    a, b = single.enhance_tensor(x), reduced.enhance_tensor(x)
    assert 0 < (a - b).abs().max() < 0.02
    with pytest.raises(ValueError, match="unknown precision"):
        Enhancer.from_pretrained("gamma", device="cpu", precision="double")


def test_benchmark_method_names_carry_a_precision():
    assert split_precision("lowface-restore-real@float32") == ("lowface-restore-real", "float32")
    assert split_precision("lowface-auto") == ("lowface-auto", "auto")
    assert split_precision("lowface-auto@float32+gate") == ("lowface-auto", "float32")  # +gate: see test_bench
    assert cpu_precision("gamma@float32") == "float32" and cpu_precision("gamma@int8") == "int8"
    assert not bfloat16_runs(torch.device("cpu")) or cpu_precision("gamma@bfloat16") == "bfloat16"
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        split_precision("lowface-auto@half")


def test_the_networks_that_run_reduced_precision_say_so():
    from lowface.inference.catalogue import create_model
    from lowface.models.precision import uses_reduced_precision

    assert uses_reduced_precision(create_model("lowface-restore-real"))
    assert uses_reduced_precision(create_model("lowface-fast"))
    assert uses_reduced_precision(create_model("lowface-auto"))  # through either of its networks
    assert not uses_reduced_precision(create_model("zero-dce++"))
    assert not uses_reduced_precision(create_model("lowface"))  # the paper's full-resolution Enhance-Net
