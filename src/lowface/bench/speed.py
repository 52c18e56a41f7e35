"""Cost of an enhancer: milliseconds per megapixel and peak resident memory, each measurement in a fresh
process so that its peak memory is its own.

    python -m lowface.bench.speed METHOD HEIGHT WIDTH THREADS REPEATS   # prints one JSON line
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident memory. /proc's VmHWM restarts at exec; ru_maxrss would carry over
    the parent's peak into a child process (Linux), so it is only the fallback."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def count_macs(model, height: int, width: int) -> int | None:
    """Convolution multiply-accumulates for one forward pass (None for non-network methods), on the input the timing
    uses (uniform noise x 0.3: a routed model makes the same choice) and through the reference graph (gradient mode,
    so that no plain-inference stand-in, e.g. a 1x1 convolution run as a matrix product, escapes the count)."""
    import torch
    from torch import nn

    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        return None
    total = 0

    def hook(module, _inputs, output):
        nonlocal total
        total += output.numel() * module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups

    handles = [m.register_forward_hook(hook) for m in convs]
    with torch.enable_grad():
        model(torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)) * 0.3)
    for h in handles:
        h.remove()
    return total


def measure_here(method: str, height: int, width: int, threads: int, repeats: int) -> dict:
    """Time (best of ``repeats`` after a warm-up run) and peak memory of enhancing one (height, width) image,
    through ``lowface.Enhancer`` exactly as the CLI runs it (tiling included), in this process."""
    import torch

    from lowface.bench.methods import pretrained
    from lowface.inference.devices import keep_freed_memory
    from lowface.models.precision import float_dtype, uses_reduced_precision
    from lowface.models.restore_net import ReflectanceDenoiser

    torch.set_num_threads(threads)
    keep_freed_memory()  # as the CLI runs
    enhancer = pretrained(method)
    reduces = uses_reduced_precision(enhancer.model)
    precision = enhancer.conv_dtype if reduces else torch.float32
    if precision == torch.int8 and not any(isinstance(m, ReflectanceDenoiser) for m in enhancer.model.modules()):
        precision = float_dtype(enhancer.device)  # (int8 has no U-Net here)
    x = (torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)) * 0.3).contiguous()
    # warm-up at the timed size (oneDNN builds its kernels for each new shape; a video or a folder of same-size
    # photos runs in that steady state), on a crop where only one run is timed (slow methods at 4K and up)
    enhancer.enhance_tensor(x if repeats > 1 else x[..., :128, :128])
    base_rss = peak_rss_mb()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        enhancer.enhance_tensor(x)
        times.append(time.perf_counter() - start)
    peak_rss = peak_rss_mb()
    best = min(times)
    return {
        "method": method,
        "height": height,
        "width": width,
        "threads": threads,
        "seconds": best,
        "ms_per_megapixel": 1000 * best / (height * width / 1e6),
        "images_per_second": 1 / best,
        "peak_rss_mb": peak_rss,
        "peak_rss_increase_mb": max(peak_rss - base_rss, 0),
        "repeats": repeats,
        "routed_to": sorted(enhancer.route_counts) if enhancer.routed else None,  # lowface-auto: what it ran
        "precision": str(precision).removeprefix("torch."),
    }


def measure(method: str, height: int, width: int, threads: int = 1, repeats: int = 2) -> dict:
    """:func:`measure_here` in a fresh Python process (its peak memory is the method's own)."""
    command = [sys.executable, "-m", "lowface.bench.speed", method, str(height), str(width), str(threads)]
    done = subprocess.run([*command, str(repeats)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"speed measurement of {method!r} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    name, h, w, t, r = sys.argv[1:6]
    print(json.dumps(measure_here(name, int(h), int(w), int(t), int(r))))
