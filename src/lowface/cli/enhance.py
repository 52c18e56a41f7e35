"""``lowface enhance``: image files, folders and videos; stdin / stdout; on a Ray cluster with ``--ray``."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import click

from lowface.cli.common import passive_openmp, user_errors


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output folder (or a file path when enhancing a single file; - writes one image to stdout).",
)
@click.option(
    "-m",
    "--model",
    default="lowface-auto",  # = inference.enhancer.DEFAULT_MODEL (not imported: torch would load for --help)
    show_default=True,
    help="Enhancer name (see `lowface models`); lowface-auto: lowface-restore-real for noisy images, a mix with "
    "lowface-fast-tone (its tone, the restoring network's denoised detail) for the rest; lowface-fast-tone alone is "
    "several times faster on clean footage.",
)
@click.option(
    "--weights",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use these .safetensors weights with the model's architecture.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, mps.")
@click.option(
    "--tile",
    type=click.IntRange(min=0),
    default=None,
    help="Tile size in pixels for large images (exact); 0 disables. Default: automatic.",
)
@click.option(
    "--format",
    "out_format",
    type=click.Choice(["png", "jpg", "tif", "webp", "bmp", "heic", "avif"]),
    help="Write images in this format instead of the input's (camera RAW: tif by default).",
)
@click.option(
    "--quality", type=click.IntRange(1, 100), default=95, show_default=True, help="JPEG/WebP/HEIC/AVIF quality."
)
@click.option(
    "--codec",
    type=click.Choice(["h264", "hevc", "vp9", "av1", "mpeg4"]),
    help="Video codec (default: h264; vp9 in .webm; hevc: about a third of the size, about 3x the encoding time).",
)
@click.option(
    "--crf",
    type=click.IntRange(0, 63),
    default=None,
    help="Video quality, lower is better (default: h264 18, hevc 22, vp9/av1 30).",
)
@click.option(
    "--encode-speed",
    type=click.Choice(["balanced", "fast"]),  # = lowface.io.video_output.ENCODE_SPEEDS (no av import for --help)
    default="balanced",
    show_default=True,
    help="Video encoder effort: fast spends a third to a half of the encoding time for a larger file at the same "
    "--crf (h264: 1.7-2x on enhanced 1080p footage).",
)
@click.option("--suffix", default="", help="Add this to each output's name (photo.jpg -> photo_enh.jpg with _enh).")
@click.option("--tree", is_flag=True, help="Keep each input's path below the inputs' common folder (no name clashes).")
@click.option(
    "--overwrite", is_flag=True, help="Redo every output, also ones made the same way or not made by lowface."
)
@click.option("--half", is_flag=True, help="Half precision (CUDA only).")
@click.option(
    "--precision",
    type=click.Choice(["auto", "float32", "bfloat16", "int8"]),  # = lowface.models.precision.PRECISIONS (no torch here)
    default="auto",
    show_default=True,
    help="The restoring networks' convolutions: auto = int8 on x86 CPUs without AMX, bfloat16 on CPUs with AMX and "
    "on GPUs that multiply it natively (about 2x faster than float32, outputs within ~0.01), else float32; int8 "
    "(CPUs): the default's restoring U-Net in int8 on weights of its own (a third less time a frame than float32 on "
    "a CPU without AVX-512, a fifth less than bfloat16 on one thread of a CPU with AVX512-BF16 and VNNI; outputs "
    "about 51 dB from bfloat16's), the rest in bfloat16 where native, else float32.",
)
@click.option(
    "--gate/--no-gate",
    default=True,
    show_default=True,
    help="Do-no-harm exposure gate: well-exposed images (and frames) come back unchanged.",
)
@click.option(
    "--strength",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="How much of the enhancement to apply (x + strength (enhanced - x), on top of the gate).",
)
@click.option(
    "--denoise",
    type=click.FloatRange(0, 1),
    default=None,
    help="Share of the estimated noise the restoring network removes (lowface-auto: on the images it routes to "
    "lowface-restore-real); lower keeps more fine grain. Default: the model's own.",
)
@click.option(
    "--temporal-denoise",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="FRAMES",
    help="Video: average each pixel over up to FRAMES past frames along the camera's and the scene's motion before "
    "enhancing (less shimmering noise; 0: off; try 8).",
)
@click.option(
    "--compare",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write side-by-side before / after JPEGs (images) into this folder.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="CPU threads (per Ray worker with --ray). With two or more, video frames run two at a time on half each.",
)
@click.option(
    "--ray",
    "ray_address",
    metavar="ADDRESS",
    default=None,
    help="Run on a Ray cluster: local (start one here), auto (the running one) or ray://HOST:10001. "
    "Every node must see the input and output paths.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=None, help="Ray workers (default: one per GPU, or CPUs / threads)."
)
@click.option(
    "--segment-frames",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="With --ray: frames per video segment (one work item each).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress; only errors and the summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome of every file as JSON on stdout.")
def enhance(
    inputs, output, model, weights, device, tile, out_format, quality, codec, crf, encode_speed, suffix, tree,
    overwrite, half, precision, gate, strength, denoise, temporal_denoise, compare, threads, ray_address,
    workers, segment_frames, quiet, as_json,
) -> None:  # fmt: skip
    """Enhance image files, folders (recursively, keeping the tree) and video files.

    Inputs are never modified; outputs are written atomically, each with a record of what made it
    (.NAME.lowface.json), so a rerun skips outputs made the same way and redoes the rest; a well-exposed image
    that the gate leaves alone is copied byte for byte; a file that fails is reported and the batch goes on.
    Videos keep their audio and subtitles, timestamps, rotation and colours (interlaced video is deinterlaced, HDR
    written as SDR; .mts, .ts, .wmv, raw .h264 and other containers that are not written come out as .mp4). `-`
    reads one image from stdin; `-o -` writes one to stdout. Exit code 1 when anything failed or an existing file
    was not replaced.
    """
    passive_openmp()  # before torch loads
    from lowface.inference.batch import run_batch
    from lowface.inference.devices import keep_freed_memory
    from lowface.inference.enhancer import Enhancer

    keep_freed_memory()  # frame after frame: reuse freed blocks instead of page-faulting them back (~25 % faster)
    if threads:
        import torch

        torch.set_num_threads(threads)
    if ray_address is not None:
        _enhance_on_ray(
            inputs, output, model, weights, tile, out_format, quality, codec, crf, encode_speed, suffix, tree,
            overwrite, half, precision, gate, strength, denoise, temporal_denoise, compare, threads, ray_address,
            workers, segment_frames, as_json,
        )  # fmt: skip
        return
    if "-" in map(str, inputs) or str(output) == "-":
        _enhance_stream(
            inputs, output, model, weights, device, tile, out_format, quality, gate, strength, precision, denoise
        )
        return
    with user_errors():
        jobs, options, unread = _plan(
            inputs, output, out_format, suffix, tree, quality, codec, crf, encode_speed, temporal_denoise
        )
        enhancer = Enhancer.from_pretrained(
            model, device=device, tile=tile, weights=weights, half=half, gate=gate, strength=strength,
            precision=precision, denoise=denoise,
        )  # fmt: skip
    report = run_batch(
        enhancer, jobs, overwrite, options, progress="none" if quiet else "auto", compare=compare, output=output
    )
    routes = None
    if enhancer.route_counts:
        picks = ", ".join(f"{count} with {name}" for name, count in sorted(enhancer.route_counts.items()))
        which = "the exposure gate did not leave alone" if enhancer.gate is not None else "enhanced"
        routes = f"{enhancer.name}: {picks} (images or video frames {which})"
    _finish(report, output, enhancer.name, as_json, routes, unread)


def _plan(inputs, output, out_format, suffix, tree, quality, codec, crf, encode_speed, temporal_denoise):
    """(jobs, output options, the suffixes of the files in the input folders left unread), every job's video codec /
    container / quality checked before any work."""
    from lowface.inference.jobs import OutputOptions, plan_jobs

    options = OutputOptions(quality, codec, crf, temporal_denoise or None, encode_speed)
    unread = Counter()
    jobs = plan_jobs(inputs, output, out_format, suffix, tree, unread=unread)
    for job in jobs:
        options.for_job(job)
    return jobs, options, unread


def _finish(report, output, model: str, as_json: bool, routes: str | None = None,
            unread: Counter[str] | None = None) -> None:  # fmt: skip
    """The summary (and the routes taken, the files in the input folders left unread) on stderr, each failure, the
    JSON outcome with --json; exit code 1 when anything failed or an existing file was not replaced."""
    click.echo(_summary(report, output), err=True)
    if routes:
        click.echo(routes, err=True)
    if unread:
        kinds = ", ".join(f"{count} {suffix}" for suffix, count in sorted(unread.items()))
        click.echo(f"not read: {sum(unread.values())} other file(s) in the input folders ({kinds}): not images or "
                   "videos this tool reads", err=True)  # fmt: skip
    for _, message in report.failed:
        click.echo(f"  failed: {message}", err=True)
    if as_json:
        not_read = dict(sorted((unread or {}).items()))
        click.echo(
            json.dumps({"output": str(output), "model": model, **report.as_dict(), "not_read": not_read}, indent=1)
        )
    sys.exit(0 if report.ok else 1)


def _summary(report, output) -> str:
    parts = [f"{len(report.done)} enhanced"]
    parts += [f"{len(report.copied)} copied unchanged (well exposed)"] if report.copied else []
    parts += [f"{len(report.skipped)} skipped (already made the same way)"] if report.skipped else []
    parts += [f"{len(report.kept)} kept (not made by lowface; --overwrite replaces)"] if report.kept else []
    parts.append(f"{len(report.failed)} failed")
    return f"{', '.join(parts)} -> {output}"


def _enhance_on_ray(
    inputs, output, model, weights, tile, out_format, quality, codec, crf, encode_speed, suffix, tree, overwrite, half,
    precision, gate, strength, denoise, temporal_denoise, compare, threads, address, workers, segment_frames, as_json,
) -> None:  # fmt: skip
    """``enhance --ray``: the same plan and checks, executed by lowface.inference.ray_batch."""
    from lowface.inference.enhancer import Enhancer
    from lowface.inference.ray_batch import EnhancerSpec, require_ray, run_on_ray

    if compare is not None or "-" in map(str, inputs) or str(output) == "-":
        raise click.ClickException("--ray works on files and folders; --compare and - (stdin / stdout) are local only")
    with user_errors():
        require_ray()
        jobs, options, unread = _plan(
            inputs, output, out_format, suffix, tree, quality, codec, crf, encode_speed, temporal_denoise
        )
        Enhancer.recipe_for(model, weights, gate, strength)  # an unknown model is refused here, not on the cluster
        if denoise is not None:  # and a model without a denoiser (building it is cheap next to a cluster's start)
            Enhancer.from_pretrained(model, device="cpu", weights=weights, gate=False, denoise=denoise)
        spec = EnhancerSpec(model, str(weights) if weights else None, tile, gate, strength, half, precision, denoise)
        report = run_on_ray(spec, jobs, options, overwrite, address, workers, threads or 1, segment_frames,
                            log=lambda message: click.echo(message, err=True))  # fmt: skip
    _finish(report, output, model, as_json, unread=unread)


def _enhance_stream(
    inputs, output, model, weights, device, tile, out_format, quality, gate, strength, precision, denoise
) -> None:  # fmt: skip
    """One image between files and the standard streams (`-`)."""
    from lowface.inference.enhancer import Enhancer
    from lowface.io import IMAGE_SUFFIXES, atomic_write_bytes, decode_image, encode_image, read_image

    if len(inputs) != 1:
        raise click.ClickException("- (stdin / stdout) works with exactly one input")
    source, target = str(inputs[0]), str(output)
    suffix = "." + out_format if out_format else (Path(target).suffix if target != "-" else Path(source).suffix)
    if target == "-" and not out_format and source == "-":
        raise click.ClickException("give --format when reading stdin and writing stdout")
    if suffix.lower() not in IMAGE_SUFFIXES:
        raise click.ClickException(f"-o {target}: give --format (png, jpg, ...) for the output")
    with user_errors():
        data = decode_image(sys.stdin.buffer.read(), "<stdin>") if source == "-" else read_image(source)
        enhancer = Enhancer.from_pretrained(
            model, device=device, tile=tile, weights=weights, gate=gate, strength=strength, precision=precision,
            denoise=denoise,
        )  # fmt: skip
        payload = encode_image(data.with_rgb(enhancer.enhance(data).rgb), suffix, quality)
    if target == "-":
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()
    else:
        atomic_write_bytes(target, payload)
