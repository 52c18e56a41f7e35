"""``lowface bench``: every enhancer on quality, detection, recognition and speed; JSON, markdown and HTML."""

from __future__ import annotations

from pathlib import Path

import click

from lowface.cli.common import data_root_option, names, typed_command, user_errors


@click.command()
@data_root_option("lfw/, lowlight_real/, sice/ and celeba_wild/")
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
@click.option(
    "--wild/--no-wild",
    default=True,
    show_default=True,
    help="Also identification and false matches of the CelebA test people in the wild (celeba_wild/).",
)
@click.option("--wild-limit", type=int, default=None, help="Use only the first N CelebA test people.")
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
    wild,
    wild_limit,
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
    from lowface.bench.figures import Figures
    from lowface.bench.report import provenance, write_outputs
    from lowface.bench.runner import Bench, BenchConfig, default_methods

    try:
        height, width = (int(v) for v in speed_size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{speed_size!r} is not HEIGHTxWIDTH", param_hint="--speed-size") from None
    config = BenchConfig(
        data_root=data_root, limit=limit, presets=names(presets),
        methods=names(methods) if methods else default_methods(), judges=names(judges),
        detectors=names(detectors), sample=sample, real=real, real_limit=real_limit, sice=sice, sice_split=sice_split,
        sice_limit=sice_limit, wild=wild, wild_limit=wild_limit,
        speed_size=(height, width),
        threads=threads, cache_dir=cache_dir, progress=not quiet, lpips_vgg=lpips_vgg,
    )  # fmt: skip
    with user_errors():
        runner = Bench(config)
        record = runner.run()
    about = {**provenance(threads), "command": typed_command(ctx)}
    record = {**about, **record}
    figures = Figures(runner, record, focus, public=public_figures).all()
    write_outputs(output, record, about, figures, public_figures)
    click.echo(f"results in {output}/: bench.json, bench.md, report.html")
