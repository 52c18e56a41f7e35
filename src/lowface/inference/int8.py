"""int8 inference of the restoring networks' denoiser on CPU (issue 22: the default at video rate).

Most of ``lowface-restore-real``'s time at 1080p is its denoiser's U-Net (about 45 of its 51 convolution GMACs).
PyTorch's static post-training quantisation (FX graph mode, x86 backend) runs it with int8 convolutions (all but the
last, whose output is the noise estimate itself): weights
quantised per output channel at load (from the float weights, which stay what is saved and shipped), activations per
tensor with ranges calibrated once on training material and shipped beside the weights as
``lowface/weights/<weights>.int8.json`` (``tools/calibrate_int8.py``: SICE's train scenes and LFW training faces
darkened by the router's training presets; never test data). The quantised U-Net replaces the float one only in plain
CPU inference (:meth:`lowface.models.restore_net.ReflectanceDenoiser.use_int8`); training, tracing, export and GPU
runs see the float network. Quantisation is per pixel with fixed ranges, so tiling stays exact.

Opt-in (``Enhancer(int8=True)``, ``lowface enhance --int8``): the outputs are not the float network's to the last
level (about 44 dB apart on SICE's validation frames); what that costs is measured in ``benchmarks/results/int8/``.
FX graph mode quantisation is deprecated upstream in favour of torchao's PT2E flow (which reaches int8 kernels on CPU
only through ``torch.compile``); it works in the pinned torch 2.13.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import Tensor, nn

from lowface.assets import WEIGHTS, AssetMissing, package_file
from lowface.models.restore_net import ReflectanceDenoiser, RestoreNet

BACKEND = "x86"
# Kept in float: the last convolution, whose output is the noise estimate itself. (Keeping the first in float too,
# whose input is the brightened noisy image, changed the mean error on SICE val frames only from 1.43 to 1.41 levels
# of 255: the error is spread over the 7-bit activations of every layer.)
FLOAT_LAYERS = ("denoiser.out",)
SUFFIX = ".int8.json"


class _UNet(nn.Module):
    """The traceable part of a denoiser: its U-Net on the folded view."""

    def __init__(self, denoiser: ReflectanceDenoiser):
        super().__init__()
        self.denoiser = denoiser

    def forward(self, folded: Tensor) -> Tensor:
        return self.denoiser.unet(folded)


def _prepare(denoiser: ReflectanceDenoiser) -> nn.Module:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_fx

    torch.backends.quantized.engine = BACKEND
    example = torch.zeros(1, denoiser.encode1[0][0].in_channels, 16, 16)
    with warnings.catch_warnings():  # the FX flow's deprecation notice (see the module docstring)
        warnings.simplefilter("ignore")
        mapping = get_default_qconfig_mapping(BACKEND)
        for name in FLOAT_LAYERS:
            mapping.set_module_name(name, None)
        return prepare_fx(_UNet(denoiser).eval(), mapping, (example,))


def _activation_observers(prepared: nn.Module) -> dict[str, tuple[nn.Module, list[str]]]:
    """{first name: (observer, every name it has)}: one observer can stand for several activations (a
    concatenation's inputs share theirs, so that they share their ranges)."""
    observers: dict[int, tuple[nn.Module, list[str]]] = {}
    for name, module in prepared.named_modules(remove_duplicate=False):
        if name.startswith("activation_post_process"):
            observers.setdefault(id(module), (module, []))[1].append(name)
    return {names[0]: (module, names) for module, names in observers.values()}


@torch.no_grad()
def calibrate(denoiser: ReflectanceDenoiser, folded_inputs: Iterable[Tensor]) -> dict[str, list[float]]:
    """Activation ranges of the denoiser's U-Net over ``folded_inputs`` ((B, 4 u^2, h, w), what
    :func:`lowface.models.restore_net.space_to_depth` makes in inference) -> {observer: [scale, zero_point,
    quant_min, quant_max]}, PyTorch's histogram observers (a range that drops rare outliers)."""
    prepared = _prepare(denoiser)
    for folded in folded_inputs:
        prepared(folded)
    ranges = {}
    for name, (observer, _) in _activation_observers(prepared).items():
        scale, zero_point = observer.calculate_qparams()
        ranges[name] = [float(scale), int(zero_point), int(observer.quant_min), int(observer.quant_max)]
    return ranges


def quantized_unet(denoiser: ReflectanceDenoiser, ranges: dict[str, list[float]]) -> nn.Module:
    """An int8 copy of the denoiser's U-Net with the given activation ranges: float (B, 4 u^2, h, w) in, float
    (B, 3 u^2, h, w) out. Raises ValueError when the ranges do not fit this denoiser's graph."""
    from torch.ao.quantization.observer import FixedQParamsObserver
    from torch.ao.quantization.quantize_fx import convert_fx

    prepared = _prepare(denoiser)
    observers = _activation_observers(prepared)
    if set(observers) != set(ranges):
        raise ValueError(f"int8 ranges for {len(ranges)} activations, this denoiser has {len(observers)}")
    for name, (scale, zero_point, quant_min, quant_max) in ranges.items():
        fixed = FixedQParamsObserver(scale, int(zero_point), quant_min=int(quant_min), quant_max=int(quant_max))
        for alias in observers[name][1]:
            setattr(prepared, alias, fixed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_fx(prepared).eval()


def int8_file(weights_file: str) -> str:
    """The name of the calibration shipped for a weights file (``x.safetensors`` -> ``x.int8.json``)."""
    return Path(weights_file).name.removesuffix(".safetensors") + SUFFIX


def load_calibration(weights_file: str, fingerprint: str) -> dict[str, list[float]]:
    """The shipped activation ranges of a weights file; ValueError when none is shipped or it was calibrated on
    another network (``fingerprint``: :func:`lowface.inference.catalogue.model_fingerprint`, weights and
    constructor arguments)."""
    try:
        record = json.loads(package_file(WEIGHTS, int8_file(weights_file)).read_text())
    except AssetMissing:
        raise ValueError(f"no int8 calibration is shipped for {weights_file}") from None
    if record["fingerprint"] != fingerprint:
        raise ValueError(f"{int8_file(weights_file)} was calibrated on another network than the shipped one")
    return record["ranges"]


def use_int8(network: nn.Module, ranges: dict[str, list[float]]) -> None:
    """Switch a :class:`RestoreNet`'s denoiser to its int8 U-Net (CPU plain inference only)."""
    if not isinstance(network, RestoreNet):
        raise ValueError(f"int8 runs a restoring network's denoiser; {type(network).__name__} has none")
    network.denoiser.use_int8(quantized_unet(network.denoiser, ranges))


def enable_int8(model: nn.Module, name: str) -> None:
    """Switch the shipped model ``name`` (``create_model(name)``; a restoring network, or a routed pair whose
    restoring network it switches) to its shipped int8 calibration. ValueError when there is none."""
    from lowface.inference.catalogue import model_card, model_fingerprint

    card = model_card(name)
    restore, network = (card.kwargs["restore"], model.networks[1]) if card.architecture == "routed" else (name, model)
    restore_card = model_card(restore)
    if restore_card.file is None or restore_card.architecture != "restore_net":
        raise ValueError(f"{name}: int8 needs a restoring network with shipped weights")
    use_int8(network, load_calibration(restore_card.file, model_fingerprint(restore)))
