"""Batch enhancement on a Ray cluster: the local job plan, executed by Ray Data with one model per actor.

The driver makes the same plan as a local run (:func:`lowface.inference.batch.plan_jobs`: inputs, outputs, name clashes)
and reads the same per-output records, so exactly the missing or differently made outputs become work items:
one per image, and per video one per segment of ``segment_frames`` frames. Ray Data's ``map_batches`` streams the
items (with backpressure) through a pool of :class:`EnhanceActor` - one enhancer loaded per actor, a GPU each
when the cluster has GPUs, else ``threads`` CPU threads each. Actors read and write files themselves, so every
node must see the input and output paths (a shared filesystem).

Images are enhanced by the very function of the local run (record, atomic output, byte-identical copies), so the
outputs are bit for bit those of ``lowface enhance`` with the same ``--threads`` (PyTorch's CPU kernels split
some sums by thread count: another count can move a rare pixel by one level). A video segment first runs the
``warmup_frames`` frames before it through the enhancer without writing them, so the temporal denoiser and the
smoothed gate and router arrive settled; it is written losslessly (:func:`lowface.io.video.encode_segment`) to a
hidden folder beside the output, and when a video's segments are all there the driver encodes them into the
output with the original's audio and subtitles (:func:`lowface.io.video.join_segments`): every frame once, in
order, at its own timestamp.

Precision: the plan and each output's record are made for the actors' device (a cluster with GPUs never runs int8,
whatever the driver's CPU), and the actors run what the plan records (:func:`actor_precision`): ``auto`` depends on
the CPU, so a driver and workers of different CPUs would otherwise compute one precision and record another.

Failures: an actor that dies (even ``kill -9``) is restarted by Ray and its in-flight items retried (Ray Data's
defaults for actor pools: ``max_restarts=-1``, ``max_task_retries=-1``; two items in flight per actor); outputs
are complete or absent (atomic renames); a bad file is reported with its reason and the job goes on; a driver
stopped and rerun finds the finished outputs by their records and the finished segments on disk, and does only
the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lowface.inference.batch import BatchReport, image_notices, needs_work, video_notices
from lowface.inference.devices import keep_freed_memory
from lowface.inference.jobs import Job, OutputOptions
from lowface.inference.records import (
    drop_orphan_record,
    recording,
)
from lowface.io.video_input import DecodeDamage, probe_video

SEGMENT_FRAMES = 300  # 10 s at 30 fps per work item
WARMUP_FRAMES = 60  # gate smoothing 0.9^60 = 0.002 of its start value left; the temporal denoiser's window


class RayMissing(ImportError):
    """Ray is an optional extra."""


def require_ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise RayMissing("--ray needs Ray: pip install 'lowface[ray]' (ray[data] 2.60)") from None
    return ray


@dataclass(frozen=True)
class EnhancerSpec:
    """How each actor builds its enhancer (what ``Enhancer.from_pretrained`` takes)."""

    model: str
    weights: str | None = None
    tile: int | None = None
    gate: bool = True
    strength: float = 1.0
    half: bool = False
    precision: str = "auto"
    denoise: float | None = None


def actor_precision(precision: str, int8: bool, device: str) -> str:
    """The precision an actor on ``device`` runs so that its outputs are what the driver's plan records: int8 where
    the plan says int8 (an ``auto`` that the driver's CPU resolved to it); elsewhere the asked precision, with
    ``auto`` kept off int8 (bfloat16 where native, else float32). Why: ``auto`` depends on the CPU, and a driver and
    workers of different CPUs would otherwise compute one precision and record another."""
    import torch

    from lowface.models.precision import float_dtype, resolve_precision

    if int8:
        return "int8"
    if precision == "auto" and resolve_precision("auto", torch.device(device)) == torch.int8:
        return str(float_dtype(torch.device(device))).removeprefix("torch.")
    return precision


class EnhanceActor:
    """One enhancer per actor; ``__call__`` does a batch of work items (dict of columns) and returns their status.
    ``int8``: whether the plan records int8 outputs (:func:`actor_precision`)."""

    def __init__(self, spec: dict, options: dict, threads: int, device: str, int8: bool = False):
        import torch

        from lowface.inference.enhancer import Enhancer

        torch.set_num_threads(threads)
        keep_freed_memory()
        spec = EnhancerSpec(**spec)
        self.enhancer = Enhancer.from_pretrained(
            spec.model, device=device, tile=spec.tile, weights=spec.weights, half=spec.half, gate=spec.gate,
            strength=spec.strength, precision=actor_precision(spec.precision, int8, device), denoise=spec.denoise,
        )  # fmt: skip
        self.options = OutputOptions(**options)
        self.pid = os.getpid()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        statuses, messages, pids = [], [], []
        for item in batch["item"]:
            try:
                status, skipped = self.run(json.loads(item))
                statuses.append(status)
                messages.append("; ".join(skipped.notices()))
            except (ValueError, OSError, RuntimeError) as exc:
                statuses.append("failed")
                messages.append(str(exc))
            pids.append(self.pid)
        return {"item": list(batch["item"]), "status": statuses, "message": messages, "pid": pids}

    def run(self, item: dict[str, Any]) -> tuple[str, DecodeDamage]:
        """One work item -> (status, the damaged packets a video segment skipped)."""
        from lowface.inference.batch import FrameEnhancer, make_image_output
        from lowface.io import image_to_tensor, tensor_to_uint8
        from lowface.io.video_segments import encode_segment

        if item["kind"] == "image":
            job = Job(Path(item["source"]), Path(item["target"]))
            return make_image_output(self.enhancer, job, item["record"], self.options.quality), DecodeDamage()
        stream = FrameEnhancer(self.enhancer, self.options.temporal_frames)

        def process(rgb):
            return tensor_to_uint8(stream(image_to_tensor(rgb))[0])

        segment, damage = Path(item["segment"]), DecodeDamage()
        encode_segment(item["source"], segment, process, item["start"], item["stop"], item["warmup_from"], damage)
        return "segment", damage


@dataclass
class VideoPlan:
    job: Job
    record: dict[str, Any]
    folder: Path
    segments: list[Path]


def _segment_folder(job: Job) -> Path:
    return job.target.with_name(f".{job.target.name}.segments")


def plan_work(
    enhancer_recipe: dict[str, Any],
    jobs: list[Job],
    options: OutputOptions,
    overwrite: bool,
    segment_frames: int,
    warmup_frames: int,
    report: BatchReport,
) -> tuple[list[dict[str, Any]], list[VideoPlan]]:
    """Work items for what is missing or made otherwise, and the videos to join; fills ``report`` with what is
    skipped or kept. Segments already on disk from an earlier run of the same recipe are not redone."""
    from lowface.io.video_segments import DAMAGE_SUFFIX, frame_times

    items, videos = [], []
    for job in jobs:
        try:
            record = needs_work(job, enhancer_recipe, options, overwrite, report)
            if record is None:
                continue
            if not job.is_video:
                items.append({"kind": "image", "source": str(job.source), "target": str(job.target),
                              "record": record})  # fmt: skip
                continue
            reading = DecodeDamage()
            times = frame_times(job.source, reading)
            report.notes += [(job.source, notice) for notice in video_notices(probe_video(job.source))]
            if reading.cut:  # (the damaged packets the segments skip are said as they are found)
                report.notes.append((job.source, reading.cut))
        except (ValueError, OSError) as exc:
            report.failed.append((job.source, str(exc) if str(job.source) in str(exc) else f"{job.source}: {exc}"))
            continue
        key = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:12]
        folder = _segment_folder(job)
        if folder.is_dir():  # segments of another recipe or another version of the source are stale
            for old in folder.iterdir():
                if not old.name.removesuffix(DAMAGE_SUFFIX).endswith(f"-{key}.mkv"):
                    old.unlink()
        segments = []
        for number, start in enumerate(range(0, len(times), segment_frames)):
            stop = start + segment_frames
            segment = folder / f"{number:05d}-{len(times)}-{key}.mkv"
            segments.append(segment)
            if segment.exists():
                continue
            items.append({
                "kind": "segment", "source": str(job.source), "segment": str(segment), "start": times[start],
                "stop": times[stop] if stop < len(times) else None,
                "warmup_from": times[max(0, start - warmup_frames)],
            })  # fmt: skip
        folder.mkdir(parents=True, exist_ok=True)
        videos.append(VideoPlan(job, record, folder, segments))
    return items, videos


def run_on_ray(
    spec: EnhancerSpec,
    jobs: list[Job],
    options: OutputOptions | None = None,
    overwrite: bool = False,
    address: str | None = None,
    workers: int | None = None,
    threads: int = 1,
    segment_frames: int = SEGMENT_FRAMES,
    warmup_frames: int = WARMUP_FRAMES,
    log=print,
) -> BatchReport:
    """Run ``jobs`` on the Ray cluster at ``address`` ("local" or None: start one on this machine; "auto": the
    running one; "ray://host:10001": a remote one). ``workers``: actors (default: one per GPU, else one per
    ``threads`` CPUs). Returns the same report as :func:`lowface.inference.batch.run_batch`."""
    ray = require_ray()
    from lowface.inference.enhancer import Enhancer
    from lowface.io.video_segments import join_segments

    options = options or OutputOptions()
    if jobs and not ray.is_initialized():  # (before the plan: the actors' device decides what it records)
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False,
                 configure_logging=False)  # fmt: skip
    gpus = int(ray.cluster_resources().get("GPU", 0)) if jobs else 0
    device = "cuda" if gpus else "cpu"
    recipe = Enhancer.recipe_for(spec.model, spec.weights, spec.gate, spec.strength, spec.denoise, spec.precision,
                                 device)  # fmt: skip
    report = BatchReport()
    items, videos = plan_work(recipe, jobs, options, overwrite, segment_frames, warmup_frames, report)
    for target in report.kept:
        log(f"kept: {target} exists and was not made by lowface (no record); --overwrite replaces it")
    for source, notice in report.notes:  # what a video's header says (HDR written as SDR, data streams, a cut file)
        log(f"{source}: {notice}")
    if items:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        count = workers or (gpus if gpus else max(1, cpus // threads))
        resources = {"num_gpus": 1} if gpus else {"num_cpus": threads}
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        dataset = ray.data.from_items([{"item": json.dumps(item)} for item in items], override_num_blocks=len(items))
        results = dataset.map_batches(
            EnhanceActor,
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=count, max_tasks_in_flight_per_actor=2),
            fn_constructor_kwargs={
                "spec": asdict(spec),
                "options": asdict(options),
                "threads": threads,
                "device": device,
                "int8": recipe.get("precision") == "int8",
            },
            **resources,
        )
        for row in results.iter_rows():
            item = json.loads(row["item"])
            if row["status"] == "failed":
                source = Path(item["source"])
                message = row["message"] if item["source"] in row["message"] else f"{source}: {row['message']}"
                report.failed.append((source, message))
                log(f"error: {message}")
            elif item["kind"] == "image":
                (report.copied if row["status"] == "copied" else report.done).append(Path(item["target"]))
                for notice in image_notices(Path(item["source"])) if row["status"] != "copied" else ():
                    report.notes.append((Path(item["source"]), notice))
                    log(f"{item['source']}: {notice}")
            elif row["message"]:  # a segment that skipped damaged packets
                report.notes.append((Path(item["source"]), row["message"]))
                log(f"{item['source']}: {row['message']}")
    failed_sources = {source for source, _ in report.failed}
    for plan in videos:
        if plan.job.source in failed_sources:
            continue
        try:
            join_segments(plan.job.source, plan.segments, plan.job.target, options.codec, options.video_quality,
                          recording(plan.job, plan.record), options.encode_speed)  # fmt: skip
        except (ValueError, OSError, RuntimeError) as exc:
            drop_orphan_record(plan.job)
            report.failed.append((plan.job.source, f"{plan.job.source}: {exc}"))
            log(f"error: {plan.job.source}: {exc}")
            continue
        shutil.rmtree(plan.folder, ignore_errors=True)
        report.done.append(plan.job.target)
    return report
