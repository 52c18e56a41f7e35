"""Where the time of an enhancer goes at one image size: torch.profiler's per-operator table and the wall time of
each top-level part of the network (estimator, upsampler, denoiser, ...), one thread by default. (Not named
``profile.py``: a script here by that name shadows the standard library's module, which torch's compiler imports.)

Usage:
    python benchmarks/layer_profile.py --methods lowface-fast,lowface-restore,zero-dce++-x12 --size 1080x1920 \
        --out benchmarks/results/profile_1080p.json

The network runs as the CLI runs it (freed memory kept for reuse) for an image of that size that fits one tile
(``model.enhance``, inference mode, after one warm-up on the full image); the operator table is from a second,
profiled run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from common import provenance, write_results
from torch.profiler import ProfilerActivity, profile

from lowface.inference.catalogue import create_model
from lowface.inference.devices import keep_freed_memory


def part_times(model: torch.nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Wall seconds spent in each part of the network (submodules two levels deep at most, module lists left out),
    one run; a part that runs inside another is counted in both."""
    parts = {
        name: child
        for name, child in model.named_modules()
        if name and name.count(".") <= 1 and not isinstance(child, torch.nn.ModuleList)
    }
    spent: dict[str, float] = dict.fromkeys(parts, 0.0)
    started: dict[str, float] = {}
    handles = []
    for name, child in parts.items():
        handles.append(child.register_forward_pre_hook(lambda _m, _i, n=name: started.update({n: time.perf_counter()})))
        handles.append(child.register_forward_hook(
            lambda _m, _i, _o, n=name: spent.update({n: spent[n] + time.perf_counter() - started[n]})))  # fmt: skip
    model.enhance(x)
    for handle in handles:
        handle.remove()
    return {name: seconds for name, seconds in spent.items() if seconds > 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="lowface-fast,lowface-restore,zero-dce++-x12,sci")
    parser.add_argument("--size", default="1080x1920", help="HEIGHTxWIDTH")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", type=int, default=10, help="operators listed per method")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/profile_1080p.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as the CLI runs
    height, width = (int(v) for v in args.size.lower().split("x"))
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0)) * 0.3
    record = {**provenance(args.threads), "size": [height, width], "methods": {}}
    lines = [f"Command: `{record['command']}`, {record['date']}, {record['machine']}. Image {width}x{height}, "
             "uniform noise x 0.3, the network alone (no gate, no tiling), inference mode.", ""]  # fmt: skip
    for method in args.methods.split(","):
        model = create_model(method)
        with torch.inference_mode():
            model.enhance(x)  # warm-up
            start = time.perf_counter()
            model.enhance(x)
            total = time.perf_counter() - start
            parts = part_times(model, x)
            with profile(activities=[ProfilerActivity.CPU]) as profiler:
                model.enhance(x)
        table = sorted(profiler.key_averages(), key=lambda e: -e.self_cpu_time_total)
        profiled = sum(e.self_cpu_time_total for e in table) / 1e6
        ops = [{"op": e.key, "seconds": e.self_cpu_time_total / 1e6, "calls": e.count} for e in table[: args.rows]]
        record["methods"][method] = {"seconds": total, "parts": parts, "operators": ops, "profiled_seconds": profiled}
        lines += [f"**{method}**: {total:.3f} s", "", "| part | s | share |", "|---|---|---|"]
        lines += [f"| {name} | {s:.3f} | {100 * s / total:.0f} % |" for name, s in parts.items()]
        lines += ["", "| operator | calls | s (self) | share of profiled |", "|---|---|---|---|"]
        lines += [f"| {o['op']} | {o['calls']} | {o['seconds']:.3f} | {100 * o['seconds'] / profiled:.0f} % |"
                  for o in ops]  # fmt: skip
        lines.append("")
        print(f"{method}: {total:.3f} s; " + ", ".join(f"{n} {s:.3f}" for n, s in parts.items()), flush=True)
    write_results(args.out, record, lines)


if __name__ == "__main__":
    main()
