"""int8 post-training quantisation of ``lowface-restore-real``'s denoiser on this CPU: what it saves, what it costs
(issue 22; tried 2026-12-01 and not adopted, see benchmarks/results/int8/README.md).

Usage:
    python benchmarks/int8_trial.py --data-root ../shared/data --out benchmarks/results/int8/trial.json

The denoiser's U-Net (about 45 of the network's 51 convolution GMACs at 1080p) is quantised with PyTorch's static
post-training flow (FX graph mode, x86 backend: int8 convolutions on 7-bit activations, per-channel weights; the last
convolution, whose output is the noise estimate, stays float). Activation ranges: histogram observers over every 4th
under-exposed frame of SICE's train scenes, as the network's own enhancer prepares them. Then, in one process: the time
of one 1080p frame (uniform noise x 0.3), float and int8 alternating, best of ``--repeats``, one thread; and SICE's
validation frames through both, with the int8 output's PSNR against the float output and each one's fidelity to the
references (lowface.bench.real_pairs.pair_fidelity). FX graph mode quantisation is deprecated upstream in favour of
torchao's PT2E flow, which reaches int8 kernels on a CPU only through ``torch.compile``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from common import provenance
from torch import Tensor, nn

from lowface.bench.real_pairs import RealPairsSet, pair_fidelity
from lowface.data.sice import sice_pairs
from lowface.inference.catalogue import create_model
from lowface.inference.devices import keep_freed_memory
from lowface.io import image_to_tensor, read_image
from lowface.metrics.fidelity import psnr

FLOAT_LAYERS = ("denoiser.out",)  # the noise estimate itself stays float


class UNet(nn.Module):
    """The traceable part of a denoiser: its U-Net on the folded view."""

    def __init__(self, denoiser: nn.Module):
        super().__init__()
        self.denoiser = denoiser

    def forward(self, folded: Tensor) -> Tensor:
        return self.denoiser.unet(folded)


def quantise(denoiser: nn.Module, calibration: list[Tensor]) -> nn.Module:
    """An int8 copy of ``denoiser.unet``, its activation ranges observed on the folded ``calibration`` inputs."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    mapping = get_default_qconfig_mapping("x86")
    for name in FLOAT_LAYERS:
        mapping.set_module_name(name, None)
    with warnings.catch_warnings():  # the FX flow's deprecation notice
        warnings.simplefilter("ignore")
        prepared = prepare_fx(UNet(denoiser).eval(), mapping, (calibration[0],))
        with torch.no_grad():
            for folded in calibration:
                prepared(folded)
        return convert_fx(prepared).eval()


def folded_inputs(model: nn.Module, images: list[np.ndarray]) -> list[Tensor]:
    """What the denoiser's first layer sees for each image, as the network makes it in inference."""
    captured: list[Tensor] = []
    hook = model.denoiser.encode1.register_forward_pre_hook(lambda _, inputs: captured.append(inputs[0].clone()))
    with torch.inference_mode():
        for image in images:
            model(image_to_tensor(np.asarray(image, np.float32)))
    hook.remove()
    return captured


def run(model: nn.Module, x: Tensor, unet: nn.Module | None) -> Tensor:
    """The network on x with its U-Net replaced by ``unet`` (None: float)."""
    if unet is not None:
        object.__setattr__(model.denoiser, "unet", unet)  # in the instance dict (not a submodule): shadows the method
    try:
        with torch.inference_mode():
            return model.enhance(x)
    finally:
        model.denoiser.__dict__.pop("unet", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="lowface-restore-real")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/int8/trial.json"))
    args = parser.parse_args()
    keep_freed_memory()
    torch.set_num_threads(2)
    model = create_model(args.model)
    train = [read_image(dark).rgb for dark, _ in sice_pairs(args.data_root, "train")[::4]]
    int8 = quantise(model.denoiser, folded_inputs(model, train))

    torch.set_num_threads(1)
    x = torch.rand(1, 3, 1080, 1920, generator=torch.Generator().manual_seed(0)) * 0.3
    times: dict[str, list[float]] = {"float": [], "int8": []}
    for _ in range(args.repeats + 1):  # the first round warms up
        for label, unet in (("float", None), ("int8", int8)):
            start = time.perf_counter()
            run(model, x, unet)
            times[label].append(time.perf_counter() - start)
    speed = {label: min(t[1:]) for label, t in times.items()}
    print(f"1080p, one thread: float {speed['float']:.3f} s, int8 {speed['int8']:.3f} s")

    torch.set_num_threads(2)
    pairs = RealPairsSet.load(args.data_root, "val")
    outputs: dict[str, list[np.ndarray]] = {"float": [], "int8": []}
    agreement = []
    for dark in pairs.dark:
        x = image_to_tensor(np.asarray(dark, np.float32))
        exact, quantised = run(model, x, None), run(model, x, int8)
        agreement.append(float(psnr(quantised, exact)))
        for label, y in (("float", exact), ("int8", quantised)):
            outputs[label].append((y[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    fidelity = {label: pair_fidelity(images, pairs.references) for label, images in outputs.items()}
    print(f"SICE val: int8 vs float PSNR {np.mean(agreement):.2f} dB (min {np.min(agreement):.2f})")
    for label, row in fidelity.items():
        print(f"{label:6s} PSNR {row['psnr']:.2f} matched {row['psnr_matched']:.2f} SSIM {row['ssim']:.3f} "
              f"dE00 {row['ciede2000']:.2f}")  # fmt: skip
    record = {**provenance(1), "model": args.model, "seconds_1080p_one_thread": speed,
              "int8_vs_float_psnr_db": {"mean": float(np.mean(agreement)), "min": float(np.min(agreement))},
              "sice_val": fidelity, "calibration": f"{len(train)} under-exposed SICE train frames"}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
