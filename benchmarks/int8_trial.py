"""int8 post-training quantisation of ``lowface-restore-real``'s denoiser: what it saves, what it costs (issue 22;
tried 2026-12-01 on an AVX2 CPU and 2026-12-07 on an AVX-512 VNNI CPU, not adopted: benchmarks/results/int8/README.md).

Usage:
    python benchmarks/int8_trial.py --data-root ../shared/data --out benchmarks/results/int8/trial_vnni.json
    python benchmarks/int8_trial.py ... --float-layers encode1.0.0,encode1.1.0   # keep these convolutions float

The denoiser's U-Net (about 51 of the network's 59 convolution GMACs at 1080p) is quantised with PyTorch's static
post-training flow (FX graph mode; per-channel symmetric weights; activations per tensor from histogram observers, 8
bits with ``--engine onednn`` on a CPU with VNNI, 7 with ``x86`` on one without); the last convolution, whose output is
the noise estimate, stays float. Activation ranges: every 8th under-exposed frame of SICE's train scenes, as the
network's own enhancer prepares them. The shipped denoiser pads its convolutions with a mirror of their input, which a
quantised convolution cannot: every variant here (float32, bfloat16, int8) runs a copy whose convolutions pad with
zeros, so that only the number format differs. Then, in one process: one 1080p frame (uniform noise x 0.3), the
variants alternating, best of ``--repeats``, one thread; and SICE's validation frames through each, with each output's
PSNR against the float32 one and its fidelity to the references (lowface.bench.real_pairs.pair_fidelity). FX graph
mode quantisation is deprecated upstream in favour of torchao's PT2E flow, which reaches int8 kernels on a CPU only
through ``torch.compile``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from common import provenance, write_results
from torch import Tensor, nn

from lowface.bench.real_pairs import RealPairsSet, pair_fidelity
from lowface.data.sice import sice_pairs
from lowface.inference.catalogue import create_model
from lowface.inference.devices import keep_freed_memory
from lowface.io import image_to_tensor, read_image
from lowface.metrics.fidelity import psnr
from lowface.models.fused import upsampled_join
from lowface.models.precision import conv_precision


class UNet(nn.Module):
    """A denoiser's U-Net on the folded view as plain modules (what FX traces): the reference ops of its ``unet``."""

    def __init__(self, denoiser: nn.Module):
        super().__init__()
        self.denoiser = denoiser

    def forward(self, folded: Tensor) -> Tensor:
        net = self.denoiser
        e1 = net.encode1(folded)
        e2 = net.encode2(e1)
        d2 = net.decode2(upsampled_join(net.bottom(e2), e2))
        return net.out(net.decode1(upsampled_join(d2, e1)))


def zero_padded(module: nn.Module) -> nn.Module:
    """``module`` with every convolution of a subclass of ``nn.Conv2d`` (mirror padding) made a plain one, in place."""
    for name, child in module.named_children():
        if isinstance(child, nn.Conv2d) and type(child) is not nn.Conv2d:
            plain = nn.Conv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride, child.padding)
            plain.load_state_dict(child.state_dict())
            setattr(module, name, plain)
        else:
            zero_padded(child)
    return module


def quantise(denoiser: nn.Module, calibration: list[Tensor], engine: str, float_layers: list[str]) -> nn.Module:
    """An int8 copy of ``denoiser``'s U-Net, its activation ranges observed on the folded ``calibration`` inputs."""
    from torch.ao.quantization import QConfig, QConfigMapping
    from torch.ao.quantization.observer import HistogramObserver, PerChannelMinMaxObserver
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = engine
    activations = HistogramObserver.with_args(dtype=torch.quint8, reduce_range=engine == "x86")
    weights = PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    mapping = QConfigMapping().set_global(QConfig(activation=activations, weight=weights))
    for name in ["out", *float_layers]:
        mapping.set_module_name(f"denoiser.{name}", None)
    with warnings.catch_warnings():  # the FX flow's deprecation notices
        warnings.simplefilter("ignore")
        prepared = prepare_fx(UNet(denoiser).eval(), mapping, (calibration[0],))
        with torch.no_grad():
            for folded in calibration:
                prepared(folded)
        return convert_fx(prepared).eval()


def folded_inputs(model: nn.Module, images: list[np.ndarray]) -> list[Tensor]:
    """What the denoiser's U-Net sees for each image (float32, contiguous), as the network makes it in inference."""
    captured: list[Tensor] = []
    unet = model.denoiser.unet

    def capture(folded: Tensor) -> Tensor:
        captured.append(folded.float().contiguous())
        return unet(folded)

    object.__setattr__(model.denoiser, "unet", capture)
    try:
        with torch.inference_mode():
            for image in images:
                model(image_to_tensor(np.asarray(image, np.float32)))
    finally:
        model.denoiser.__dict__.pop("unet", None)
    return captured


def run(model: nn.Module, x: Tensor, variant: str, int8: nn.Module) -> Tensor:
    """The network on x: ``variant`` float32 or bfloat16 (its convolutions' precision), or int8 (its U-Net ``int8``)."""
    if variant == "int8":
        object.__setattr__(model.denoiser, "unet", lambda folded: int8(folded.float().contiguous()))
    try:
        with torch.inference_mode(), conv_precision(torch.bfloat16 if variant == "bfloat16" else torch.float32):
            return model.enhance(x)
    finally:
        model.denoiser.__dict__.pop("unet", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="lowface-restore-real")
    parser.add_argument("--engine", choices=["onednn", "x86"], default="onednn")
    parser.add_argument("--float-layers", default="", help="comma-separated U-Net modules kept float (encode1.0.0)")
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/int8/trial_vnni.json"))
    args = parser.parse_args()
    keep_freed_memory()
    torch.set_num_threads(2)
    model = create_model(args.model)
    zero_padded(model.denoiser)
    train = [read_image(dark).rgb for dark, _ in sice_pairs(args.data_root, "train")[::8]]
    float_layers = [name for name in args.float_layers.split(",") if name]
    int8 = quantise(model.denoiser, folded_inputs(model, train), args.engine, float_layers)
    variants = ("float32", "bfloat16", "int8")

    torch.set_num_threads(1)
    x = torch.rand(1, 3, 1080, 1920, generator=torch.Generator().manual_seed(0)) * 0.3
    times: dict[str, list[float]] = {variant: [] for variant in variants}
    for _ in range(args.repeats + 1):  # the first round warms up
        for variant in variants:
            start = time.perf_counter()
            run(model, x, variant, int8)
            times[variant].append(time.perf_counter() - start)
    speed = {variant: min(t[1:]) for variant, t in times.items()}

    torch.set_num_threads(2)
    pairs = RealPairsSet.load(args.data_root, "val")
    outputs: dict[str, list[np.ndarray]] = {variant: [] for variant in variants}
    agreement: dict[str, list[float]] = {variant: [] for variant in variants[1:]}
    for dark in pairs.dark:
        x = image_to_tensor(np.asarray(dark, np.float32))
        results = {variant: run(model, x, variant, int8) for variant in variants}
        for variant, y in results.items():
            outputs[variant].append((y[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
            if variant != "float32":
                agreement[variant].append(float(psnr(y, results["float32"])))
    fidelity = {variant: pair_fidelity(images, pairs.references) for variant, images in outputs.items()}
    record = {**provenance(1), "model": args.model, "engine": args.engine, "float_layers": float_layers,
              "seconds_1080p_one_thread": speed,
              "psnr_db_vs_float32": {variant: {"mean": float(np.mean(db)), "min": float(np.min(db))}
                                     for variant, db in agreement.items()},
              "sice_val": fidelity, "calibration": f"{len(train)} under-exposed SICE train frames"}  # fmt: skip
    lines = [f"Command: `{record['command']}`, {record['date']}, {record['machine']}. Engine {args.engine}; float "
             f"layers: out{''.join(', ' + name for name in float_layers)}; every variant zero-padded.", "",
             "| variant | 1080p s (1 thread) | vs float32 PSNR dB (min) | SICE val PSNR | matched | SSIM | CIEDE2000 |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for variant in variants:
        close = agreement.get(variant)
        vs = f"{np.mean(close):.2f} ({np.min(close):.2f})" if close else "-"
        row = fidelity[variant]
        lines.append(f"| {variant} | {speed[variant]:.3f} | {vs} | {row['psnr']:.3f} | {row['psnr_matched']:.3f} | "
                     f"{row['ssim']:.4f} | {row['ciede2000']:.3f} |")  # fmt: skip
    print("\n".join(lines))
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
