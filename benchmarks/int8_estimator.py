"""Post-training int8 for the illumination estimator of ``lowface-restore-real``: how fast, how far from float32.

Usage:
    python benchmarks/int8_estimator.py --data-root ../shared/data \\
        --out benchmarks/results/int8/estimator_ptq.json

The denoiser's U-Net runs int8 since 2026-12-07 (lowface.models.int8); the estimator (eleven 3x3 convolutions at 1/4
to 1/8 of the image) is the next largest block of bfloat16 work on CPUs without AMX. This measures what plain
post-training quantisation would give before anything is built: ranges are each map's minimum and maximum averaged
over every ``--every``-th under-exposed SICE train frame (as ``tools/calibrate_int8.py`` takes the denoiser's), maps
are uint8 on those ranges (the two concatenations' halves share one range), weights int8 per output channel, and the
estimator's output (the illumination residual, a sigmoid in [0, 1]) is compared with float32's on every under-exposed
SICE val frame, beside bfloat16's distance from float32 (what runs today). Then each map alone rounded to 8 bits in a
float32 run (which rounding costs most), and the time of one estimate at 1080p's working size on one thread. The
int8 rows run the library's runtime (:class:`lowface.models.int8_estimator.Int8Estimator`, shipped since round 8 of
``benchmarks/results/int8/README.md``) on this script's ranges.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from common import provenance, write_results
from torch import Tensor, nn

from lowface.data.sice import sice_pairs
from lowface.inference.catalogue import create_model
from lowface.io import image_to_tensor, read_image
from lowface.models.enhance_net import IlluminationEstimator
from lowface.models.int8 import Grid
from lowface.models.int8_aware import ActivationQuantiser, fake_quantised, int8_weights
from lowface.models.int8_estimator import Int8Estimator, estimator_grids, estimator_source
from lowface.models.precision import conv_precision


def estimator_inputs(model: nn.Module, data_root: Path, split: str, every: int) -> list[Tensor]:
    """What the estimator reads for each under-exposed frame of ``split`` (its context, float32)."""
    seen: list[Tensor] = []
    hook = model.enhancer.estimator.register_forward_pre_hook(lambda _, a: seen.append(a[0].detach().float()))
    with torch.inference_mode():
        for frame, _ in sice_pairs(data_root, split)[::every]:
            model.enhancer(image_to_tensor(read_image(frame).rgb).contiguous())
    hook.remove()
    return [x.contiguous() for x in seen]


def reference(estimator: nn.Module, x: Tensor, rounded: dict[str, Grid] | None = None, weights8: bool = False,
              spans: dict[str, list[tuple[float, float]]] | None = None) -> Tensor:  # fmt: skip
    """The estimator in float32 through plain ops, with the maps named in ``rounded`` rounded to 8 bits on their grid
    and, with ``weights8``, its weights rounded to int8 per output channel; each map's (min, max) appended to
    ``spans[name]`` where given."""
    maps = {"input": x}
    for name, (conv, relu) in estimator.convolutions().items():
        weight = int8_weights(conv.weight) if weights8 else conv.weight
        out = F.conv2d(estimator_source(maps, name), weight, conv.bias, padding=1)
        out = F.relu(out) if relu else out
        if spans is not None:
            spans.setdefault(name, []).append((float(out.min()), float(out.max())))
        maps[name] = fake_quantised(out, rounded[name]) if rounded and name in rounded else out
    return torch.sigmoid(maps["head4"])


def calibrate(estimator: nn.Module, inputs: list[Tensor]) -> dict[str, tuple[float, float]]:
    """Each map's range: its minimum and maximum averaged over the images (0 at least for maps after a ReLU), the
    input's from 0 (:func:`lowface.models.int8_estimator.estimator_grids` puts it on [0, 1] at least and the
    concatenated pairs on one grid)."""
    spans: dict[str, list[tuple[float, float]]] = {}
    with torch.no_grad():
        for x in inputs:
            reference(estimator, x, spans=spans)
    relu = {name for name, (_conv, after) in estimator.convolutions().items() if after}
    ranges = {n: (0.0 if n in relu else float(np.mean([s[0] for s in v])), float(np.mean([s[1] for s in v])))
              for n, v in spans.items() if n != "head4"}  # fmt: skip
    return {**ranges, "input": (0.0, float(np.mean([float(x.max()) for x in inputs])))}


def int8_estimator(estimator: nn.Module, ranges: dict[str, tuple[float, float]]) -> Int8Estimator:
    """The library's int8 runtime (:class:`lowface.models.int8_estimator.Int8Estimator`) for ``estimator`` on
    ``ranges``: an int8-aware copy whose quantisers hold them."""
    aware = copy.deepcopy(estimator)
    aware.quantisers = nn.ModuleDict({name: ActivationQuantiser() for name in IlluminationEstimator.QUANTISED_MAPS})
    for name, quantiser in aware.quantisers.items():
        quantiser.low.fill_(ranges[name][0])
        quantiser.high.fill_(ranges[name][1])
        quantiser.batches.fill_(1)
    return Int8Estimator(aware.eval())


def distance(outputs: list[Tensor], references: list[Tensor]) -> dict[str, float]:
    """Mean and largest absolute difference over all frames' pixels (the residual illumination, in [0, 1])."""
    differences = [(a - b).abs() for a, b in zip(outputs, references, strict=True)]
    return {"mean": float(torch.cat([d.flatten() for d in differences]).mean()),
            "max": max(float(d.max()) for d in differences)}  # fmt: skip


def best_ms(run, repeats: int = 15) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--every", type=int, default=8, help="every n-th under-exposed SICE train frame calibrates")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/int8/estimator_ptq.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = create_model("lowface-restore-real").eval()
    estimator = model.enhancer.estimator
    train = estimator_inputs(model, args.data_root, "train", args.every)
    val = estimator_inputs(model, args.data_root, "val", 1)
    ranges = calibrate(estimator, train)
    grids = estimator_grids(ranges)
    int8 = int8_estimator(estimator, ranges)
    with torch.inference_mode():
        float32 = [reference(estimator, x) for x in val]
        with conv_precision(torch.bfloat16):
            bfloat16 = [estimator(x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)).float()
                        for x in val]  # fmt: skip
        rows = {
            "bfloat16 (today)": distance(bfloat16, float32),
            "int8, oneDNN": distance([int8(x) for x in val], float32),
            "int8 weights alone": distance([reference(estimator, x, None, True) for x in val], float32),
        }
        for name in grids:
            if name not in ("input", "head4"):
                rows[f"{name} rounded alone"] = distance([reference(estimator, x, {name: grids[name]}) for x in val],
                                                         float32)  # fmt: skip
        torch.set_num_threads(1)
        x = torch.rand(1, 3, 135, 240, generator=torch.Generator().manual_seed(0)) * 0.3  # 1080p at 1/8
        with conv_precision(torch.bfloat16):
            reduced = x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
            bfloat16_ms = best_ms(lambda: estimator(reduced))
        int8_ms = best_ms(lambda: int8(x))
    record = {**provenance(args.threads), "train_frames": len(train), "val_frames": len(val),
              "grids": {n: [g.scale, g.zero_point] for n, g in grids.items()}, "distance_from_float32": rows,
              "ms_one_thread_135x240": {"bfloat16": bfloat16_ms, "int8": int8_ms}}  # fmt: skip
    lines = [
        "# Post-training int8 for lowface-restore-real's illumination estimator",
        "",
        f"`{record['command']}` - {record['date']}, {record['machine']}",
        "",
        f"Calibrated on {len(train)} under-exposed SICE train frames, compared on all {len(val)} SICE val frames: the "
        "estimator's output (illumination residual in [0, 1]) against float32's.",
        "",
        "| variant | mean abs difference | largest |",
        "| --- | --- | --- |",
        *[f"| {name} | {row['mean']:.5f} | {row['max']:.4f} |" for name, row in rows.items()],
        "",
        f"One estimate at 135 x 240 (1080p at 1/8), one thread: bfloat16 {bfloat16_ms:.1f} ms, int8 {int8_ms:.1f} ms.",
    ]
    write_results(args.out, record, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
