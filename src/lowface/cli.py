"""The ``lowface`` command line: enhance, score, serve, models, train, synth, export, demo, bench."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lowface")
def main() -> None:
    """Make dark face photos and video usable again, for people and for face recognition."""


@main.command()
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
    help="Enhancer name (see `lowface models`); lowface-auto: lowface-restore for noisy images, else lowface-fast.",
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
    type=click.Choice(["png", "jpg", "tif", "webp", "bmp", "heic"]),
    help="Write images in this format instead of the input's (camera RAW: tif by default).",
)
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True, help="JPEG/WebP/HEIC quality.")
@click.option(
    "--codec", type=click.Choice(["h264", "vp9", "av1", "mpeg4"]), help="Video codec (default: h264; vp9 in .webm)."
)
@click.option(
    "--crf",
    type=click.IntRange(0, 63),
    default=None,
    help="Video quality, lower is better (default: h264 18, vp9/av1 30).",
)
@click.option("--suffix", default="", help="Add this to each output's name (photo.jpg -> photo_enh.jpg with _enh).")
@click.option("--tree", is_flag=True, help="Keep each input's path below the inputs' common folder (no name clashes).")
@click.option(
    "--overwrite", is_flag=True, help="Redo every output, also ones made the same way or not made by lowface."
)
@click.option("--half", is_flag=True, help="Half precision (CUDA only).")
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
    "--temporal-denoise",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="FRAMES",
    help="Video: average static pixels over up to FRAMES frames before enhancing (still camera; 0: off; try 8).",
)
@click.option(
    "--compare",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write side-by-side before / after JPEGs (images) into this folder.",
)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads (per Ray worker with --ray).")
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
    inputs, output, model, weights, device, tile, out_format, quality, codec, crf, suffix, tree, overwrite, half,
    gate, strength, temporal_denoise, compare, threads, ray_address, workers, segment_frames, quiet, as_json,
) -> None:  # fmt: skip
    """Enhance image files, folders (recursively, keeping the tree) and video files.

    Inputs are never modified; outputs are written atomically, each with a record of what made it
    (.NAME.lowface.json), so a rerun skips outputs made the same way and redoes the rest; a well-exposed image
    that the gate leaves alone is copied byte for byte; a file that fails is reported and the batch goes on.
    Videos keep their audio and subtitles, timestamps and rotation. `-` reads one image from stdin; `-o -` writes
    one to stdout. Exit code 1 when anything failed or an existing file was not replaced.
    """
    from lowface.inference.batch import run_batch
    from lowface.inference.enhancer import Enhancer
    from lowface.inference.jobs import OutputOptions, plan_jobs

    if threads:
        import torch

        torch.set_num_threads(threads)
    if ray_address is not None:
        _enhance_on_ray(
            inputs, output, model, weights, tile, out_format, quality, codec, crf, suffix, tree, overwrite, half, gate,
            strength, temporal_denoise, compare, threads, ray_address, workers, segment_frames, as_json,
        )  # fmt: skip
        return
    if "-" in map(str, inputs) or str(output) == "-":
        _enhance_stream(inputs, output, model, weights, device, tile, out_format, quality, gate, strength)
        return
    options = OutputOptions(quality, codec, crf, temporal_denoise or None)
    try:
        jobs = plan_jobs(inputs, output, out_format, suffix, tree)
        for job in jobs:  # video codec / container / quality checked before any work
            options.for_job(job)
        enhancer = Enhancer.from_pretrained(
            model, device=device, tile=tile, weights=weights, half=half, gate=gate, strength=strength
        )
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    report = run_batch(
        enhancer, jobs, overwrite, options, progress="none" if quiet else "auto", compare=compare, output=output
    )
    click.echo(_summary(report, output), err=True)
    if enhancer.route_counts:
        picks = ", ".join(f"{count} with {name}" for name, count in sorted(enhancer.route_counts.items()))
        which = "the exposure gate did not leave alone" if enhancer.gate is not None else "enhanced"
        click.echo(f"{enhancer.name}: {picks} (images or video frames {which})", err=True)
    for _, message in report.failed:
        click.echo(f"  failed: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"output": str(output), "model": enhancer.name, **report.as_dict()}, indent=1))
    sys.exit(0 if report.ok else 1)


def _summary(report, output) -> str:
    parts = [f"{len(report.done)} enhanced"]
    parts += [f"{len(report.copied)} copied unchanged (well exposed)"] if report.copied else []
    parts += [f"{len(report.skipped)} skipped (already made the same way)"] if report.skipped else []
    parts += [f"{len(report.kept)} kept (not made by lowface; --overwrite replaces)"] if report.kept else []
    parts.append(f"{len(report.failed)} failed")
    return f"{', '.join(parts)} -> {output}"


def _enhance_on_ray(
    inputs, output, model, weights, tile, out_format, quality, codec, crf, suffix, tree, overwrite, half, gate,
    strength, temporal_denoise, compare, threads, address, workers, segment_frames, as_json,
) -> None:  # fmt: skip
    """``enhance --ray``: the same plan and checks, executed by lowface.inference.ray_batch."""
    from lowface.inference.enhancer import Enhancer
    from lowface.inference.jobs import OutputOptions, plan_jobs
    from lowface.inference.ray_batch import EnhancerSpec, RayMissing, require_ray, run_on_ray

    if compare is not None or "-" in map(str, inputs) or str(output) == "-":
        raise click.ClickException("--ray works on files and folders; --compare and - (stdin / stdout) are local only")
    options = OutputOptions(quality, codec, crf, temporal_denoise or None)
    try:
        require_ray()
        jobs = plan_jobs(inputs, output, out_format, suffix, tree)
        for job in jobs:
            options.for_job(job)
        Enhancer.recipe_for(model, weights, gate, strength)  # an unknown model is refused here, not on the cluster
        spec = EnhancerSpec(model, str(weights) if weights else None, tile, gate, strength, half)
        report = run_on_ray(spec, jobs, options, overwrite, address, workers, threads or 1, segment_frames,
                            log=lambda message: click.echo(message, err=True))  # fmt: skip
    except (RayMissing, ValueError, KeyError, FileNotFoundError, RuntimeError, ConnectionError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    click.echo(_summary(report, output), err=True)
    for _, message in report.failed:
        click.echo(f"  failed: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"output": str(output), "model": model, **report.as_dict()}, indent=1))
    sys.exit(0 if report.ok else 1)


def _enhance_stream(inputs, output, model, weights, device, tile, out_format, quality, gate, strength) -> None:
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
    try:
        data = decode_image(sys.stdin.buffer.read(), "<stdin>") if source == "-" else read_image(source)
        enhancer = Enhancer.from_pretrained(
            model, device=device, tile=tile, weights=weights, gate=gate, strength=strength
        )
        payload = encode_image(data.with_rgb(enhancer.enhance(data).rgb), suffix, quality)
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    if target == "-":
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()
    else:
        atomic_write_bytes(target, payload)


@main.command()
@click.argument("pattern", default="*")
@click.option("-v", "--verbose", is_flag=True, help="Show files, checksums, licences and training commands.")
def models(pattern: str, verbose: bool) -> None:
    """List the enhancers (optionally matching a glob PATTERN) and the frozen face networks."""
    from lowface.face.packages import PACKAGED_FILES, FaceModelMissing, packaged_file
    from lowface.inference.catalogue import list_models, model_card

    click.echo("Enhancers:")
    for name in list_models(pattern):
        card = model_card(name)
        click.echo(f"  {name:22s} {card.architecture:24s} {card.description}")
        if verbose:
            if card.file:
                click.echo(f"  {'':22s} file {card.file}  sha256 {card.sha256}")
            click.echo(f"  {'':22s} licence {card.licence}")
            if card.command:
                click.echo(f"  {'':22s} trained with: {card.command}")
    click.echo("Frozen face networks (from registry packages):")
    for entry in PACKAGED_FILES.values():
        try:
            status = f"installed at {packaged_file(entry.name)}" if verbose else "installed"
        except FaceModelMissing:
            status = f"missing: install {entry.requirement}"
        except ValueError as exc:
            status = f"checksum mismatch: {exc}"
        click.echo(f"  {entry.name:22s} {entry.description}")
        click.echo(f"  {'':22s} {status}")
        if verbose:
            click.echo(f"  {'':22s} package {entry.requirement}  file {entry.relative_path}")
            click.echo(f"  {'':22s} sha256 {entry.sha256}  licence {entry.licence}")


@main.command()
@click.option(
    "-c",
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML training config (keys: the fields of lowface.train.config.TrainConfig).",
)
@click.option(
    "-s",
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. --set steps=2000 --set model.type=fast_enhance_net.",
)
@click.option(
    "--ablation",
    default=None,
    help="Run one of Table IV's ablations: full, no-negatives, no-contrastive, no-feature, no-semantic, no-face.",
)
def train(config: Path | None, overrides: tuple[str, ...], ablation: str | None) -> None:
    """Train an enhancer without paired data (resumes from the run folder's checkpoint if there is one).

    Data parallel over N processes: torchrun --nproc_per_node N -m lowface.cli train -c CONFIG
    """
    from lowface.backbones import FrozenBackboneMissing
    from lowface.data.lfw import DatasetMissing
    from lowface.train.config import load_config
    from lowface.train.trainer import train as run_training

    try:
        cfg = load_config(config, list(overrides) + ([f"ablation={ablation}"] if ablation else []))
        path = run_training(cfg)
    except (ValueError, KeyError, DatasetMissing, FrozenBackboneMissing) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"weights written to {path}")


@main.command()
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("-p", "--preset", default="linear", show_default=True, help="Synthesis preset (see --list).")
@click.option("--seed", default=0, show_default=True, help="The same preset and seed give the same images.")
@click.option("--list", "list_presets", is_flag=True, help="List the presets and exit.")
def synth(inputs: tuple[Path, ...], output: Path, preset: str, seed: int, list_presets: bool) -> None:
    """Darken clean images (files or folders, recursively) into OUTPUT with a named low-light preset.

    Writes PNGs keeping the folder tree and a synth.json with each image's drawn parameters.
    """
    from lowface.data.synth import SYNTHESIS_PRESETS
    from lowface.data.synth_files import run_synth

    if list_presets:
        for entry in SYNTHESIS_PRESETS.values():
            click.echo(f"{entry.name:20s} {entry.description}")
        return
    if not inputs or output is None:
        raise click.UsageError("give INPUTS and -o OUTPUT (or --list to see the presets)")
    if preset not in SYNTHESIS_PRESETS:
        raise click.ClickException(f"unknown preset {preset!r}; available: {', '.join(SYNTHESIS_PRESETS)}")
    try:
        count = run_synth(list(inputs), output, preset, seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} images darkened with {preset!r} (seed {seed}) -> {output}")


@main.command()
@click.argument("model")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output file: .onnx for ONNX, .pt/.ts for TorchScript.",
)
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--height", default=256, show_default=True, help="Height of the tracing example.")
@click.option("--width", default=256, show_default=True, help="Width of the tracing example.")
def export(model: str, output: Path, weights: Path | None, height: int, width: int) -> None:
    """Export MODEL to ONNX (dynamic size) or TorchScript for deployment."""
    from lowface.inference.catalogue import create_model
    from lowface.inference.export import export_onnx, export_torchscript
    from lowface.models.classical import NumpyImageOperator

    try:
        net = create_model(model, weights)
    except (KeyError, ValueError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    if isinstance(net, NumpyImageOperator):
        raise click.ClickException(f"{model} is a NumPy/OpenCV method, not a network, and cannot be exported")
    if output.suffix not in (".onnx", ".pt", ".ts"):
        raise click.ClickException(f"{output}: use a .onnx or .pt/.ts file name")
    try:
        (export_onnx if output.suffix == ".onnx" else export_torchscript)(net, output, height, width)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"exported {model} to {output}")


@main.command()
@click.option(
    "--data-root",
    type=click.Path(path_type=Path),
    default=Path("../shared/data"),
    show_default=True,
    help="Folder holding lfw/ (falls back to a sample image when absent).",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("demo_out"), show_default=True)
@click.option("-n", "--count", default=4, show_default=True, help="Number of darkened LFW faces.")
@click.option(
    "--models",
    "model_names",
    default="lowface-auto,lowface,lowface-fast,gamma,lime",
    show_default=True,
    help="Comma-separated enhancers to show side by side.",
)
def demo(data_root: Path, output: Path, count: int, model_names: str) -> None:
    """Darken a few LFW test faces, enhance them with shipped models, write images and a comparison grid."""
    from lowface.demo import run_demo

    grid = run_demo(data_root, output, count, [m.strip() for m in model_names.split(",") if m.strip()])
    click.echo(f"enhanced images in {output}/, side-by-side grid: {grid}")


def _names(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _typed_command(ctx: click.Context) -> str:
    """The command as typed (options given on the command line, in declaration order), for provenance."""
    parts = ["lowface", ctx.info_name or "bench"]
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) != click.core.ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        if isinstance(param, click.Option) and param.is_flag:
            parts.append(param.opts[0] if value else param.secondary_opts[0])
        else:  # an empty value stays (shlex quotes it: --presets '')
            parts += [param.opts[-1], str(value)] if isinstance(param, click.Option) else [str(value)]
    return shlex.join(parts)


@main.command()
@click.option(
    "--data-root",
    type=click.Path(path_type=Path),
    default=Path("../shared/data"),
    show_default=True,
    help="Folder holding lfw/, lowlight_real/ and sice/.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("bench_out"),
    show_default=True,
    help="Folder for bench.json, bench.md, report.html and the grids.",
)
@click.option("--limit", default=600, show_default=True, help="Use the images of the first N LFW pairs.")
@click.option("--presets", default="linear,gamma-noise,physical-3", show_default=True, help="Synthesis presets.")
@click.option("--methods", default=None, help="Comma-separated: names or label=name:weights. Default: all.")
@click.option("--judges", default="facenet,dlib", show_default=True, help="Recognizers, each reported separately.")
@click.option("--detectors", default="mtcnn,hog,blazeface", show_default=True)
@click.option("--sample", default=200, show_default=True, help="Images for NIQE, LOE and detection.")
@click.option("--real/--no-real", default=True, show_default=True, help="Also the real low-light photos.")
@click.option("--real-limit", type=int, default=None, help="Use only the first N real photos.")
@click.option("--sice/--no-sice", default=True, show_default=True, help="Also the real pairs of SICE (sice/).")
@click.option(
    "--sice-split",
    type=click.Choice(["train", "val", "test"]),
    default="test",
    show_default=True,
    help="Which SICE scenes: choose models on val, report on test.",
)
@click.option("--sice-limit", type=int, default=None, help="Use only the first N SICE pairs of the split.")
@click.option("--speed-size", default="1000x1000", show_default=True, help="HxW of the speed image; 0x0 skips.")
@click.option("--focus", default=None, help="Method whose failure cases are shown (default: the first lowface*).")
@click.option(
    "--public-figures",
    is_flag=True,
    help="Grids on a public-domain face instead of dataset images, failure cases without images: a publishable report.",
)
@click.option(
    "--lpips-vgg",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="VGG-16 ImageNet weights (torchvision layout): adds LPIPS-VGG (no registry ships them).",
)
@click.option("--threads", default=1, show_default=True)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/bench-cache"),
    show_default=True,
    help="Enhanced images, embeddings and rows are cached here: a rerun resumes.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def bench(
    ctx: click.Context,
    data_root,
    output,
    limit,
    presets,
    methods,
    judges,
    detectors,
    sample,
    real,
    real_limit,
    sice,
    sice_split,
    sice_limit,
    speed_size,
    focus,
    public_figures,
    lpips_vgg,
    threads,
    cache_dir,
    quiet,
) -> None:
    """Benchmark every enhancer: image quality, face detection, recognition (two judges), speed; writes JSON,
    markdown tables and a self-contained HTML report."""
    from lowface.bench.report import html_report, image_suffix, markdown_report, provenance
    from lowface.bench.runner import Bench, BenchConfig, Figures, default_methods
    from lowface.data.lfw import DatasetMissing
    from lowface.io import atomic_write_bytes

    try:
        height, width = (int(v) for v in speed_size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{speed_size!r} is not HEIGHTxWIDTH", param_hint="--speed-size") from None
    config = BenchConfig(
        data_root=data_root, limit=limit, presets=_names(presets),
        methods=_names(methods) if methods else default_methods(), judges=_names(judges),
        detectors=_names(detectors), sample=sample, real=real, real_limit=real_limit, sice=sice, sice_split=sice_split,
        sice_limit=sice_limit,
        speed_size=(height, width),
        threads=threads, cache_dir=cache_dir, progress=not quiet, lpips_vgg=lpips_vgg,
    )  # fmt: skip
    try:
        runner = Bench(config)
        record = runner.run()
    except (DatasetMissing, KeyError, ValueError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    about = {**provenance(threads), "command": _typed_command(ctx)}
    record = {**about, **record}
    figures = Figures(runner, record, focus, public=public_figures).all()
    output.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(output / "bench.json", json.dumps(record, indent=1).encode())
    atomic_write_bytes(output / "bench.md", ("\n".join(markdown_report(record, about)) + "\n").encode())
    atomic_write_bytes(output / "report.html", html_report(record, about, figures).encode())
    for section, items in figures.items():
        if items and items[0][1]:
            stem = f"public-{section.removeprefix('lfw/')}" if public_figures else section.replace("/", "-")
            name = f"grid-{stem}.{image_suffix(items[0][1])}"
            atomic_write_bytes(output / name, items[0][1])
    click.echo(f"results in {output}/: bench.json, bench.md, report.html")


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-r",
    "--references",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Reference images (same relative paths, any image suffix): PSNR, SSIM, CIEDE2000 and faces found / invented.",
)
@click.option(
    "--originals",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The images before enhancement (same relative paths): LOE.",
)
@click.option(
    "--detectors",
    default="mtcnn,hog,blazeface",
    show_default=True,
    help="Face detectors to count faces with (comma-separated; empty: none).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every file's scores and the summary: .csv (one row per file, then the mean row) or .json.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def score(folder, references, originals, detectors, output, quiet) -> None:
    """Score a folder of images with the benchmark's metrics: NIQE, BRISQUE, LOE (with --originals), PSNR / SSIM /
    CIEDE2000 raw and brightness-matched (with --references), faces per detector. Prints the summary."""
    import csv
    import io

    from lowface.bench.score import LOWER_IS_BETTER, format_value, score_folder
    from lowface.io import atomic_write_bytes

    if output is not None and output.suffix.lower() not in (".csv", ".json"):
        raise click.BadParameter(f"{output}: give a .csv or .json file", param_hint="--output")
    try:
        rows, summary, problems = score_folder(folder, references, originals, _names(detectors), not quiet)
    except (ValueError, KeyError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    width = max(map(len, summary), default=10)
    for key, value in summary.items():
        metric = key.removesuffix("_matched")
        hint = {True: "  (lower is better)", False: "  (higher is better)"}.get(LOWER_IS_BETTER.get(metric), "")
        click.echo(f"{key:{width}s}  {format_value(value)}{hint}")
    if output is not None:
        if output.suffix.lower() == ".json":
            record = {"folder": str(folder), "summary": summary, "files": rows, "problems": problems}
            payload = json.dumps(record, indent=1)
        else:
            buffer = io.StringIO()
            columns = ["file", *[k for k in (rows[0] if rows else {}) if k != "file"]]
            writer = csv.writer(buffer)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([format_value(row.get(c)) for c in columns])
            writer.writerow(["mean / total", *[format_value(summary.get(c)) for c in columns[1:]]])
            payload = buffer.getvalue()
        atomic_write_bytes(output, payload.encode())
        click.echo(f"per-file scores in {output}", err=True)
    sys.exit(1 if problems else 0)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: every one).")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, mps.")
def serve(host: str, port: int, device: str) -> None:
    """A local web app: drop photos or a short video, pick a model and a strength, compare before / after with a
    split and zoom, see the faces found, download the result (same format, metadata kept) or a zip of a batch."""
    try:
        import uvicorn

        from lowface.web.app import create_app
    except ImportError:
        raise click.ClickException("lowface serve needs the web extra: pip install 'lowface[web]'") from None
    click.echo(f"lowface serve: http://{host}:{port}/ (Ctrl-C stops it)", err=True)
    uvicorn.run(create_app(None if device == "auto" else device), host=host, port=port, log_level="warning")


if __name__ == "__main__":
    main()
