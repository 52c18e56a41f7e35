"""The web app's jobs: what one upload asks for (:class:`WebJob`), the worker thread that runs jobs one at a time
with the CLI's own functions, and the store of jobs and their folders (bounded in number and age)."""

from __future__ import annotations

import queue
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lowface.io import IMAGE_SUFFIXES, VIDEO_SUFFIXES, WRITABLE_SUFFIXES, ImageData, ImageReadError, encode_image

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # per request
MAX_FILES = 32  # per job
MAX_QUEUED = 64  # jobs waiting; more are answered 503
JOB_TTL_S = 3600
JOB_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class WebJob:
    id: str
    folder: Path
    names: list[str]  # the uploaded files' own names (shown, never used as paths)
    inputs: list[Path]
    model: str
    strength: float
    detector: str
    denoise: float = 1.0  # the share of the noise removed, where the model has a denoiser
    temporal: float = 0.0  # a video's temporal noise reduction, in frames (0: off), as --temporal-denoise
    status: str = "queued"  # queued, running, done, failed, cancelled
    done: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    similarity: dict[str, Any] | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    created: float = field(default_factory=time.time)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "done": self.done, "total": len(self.inputs),
                "model": self.model, "strength": self.strength, "denoise": self.denoise, "temporal": self.temporal,
                "detector": self.detector,
                "results": self.results,
                "similarity": self.similarity, "error": self.error}  # fmt: skip


class Worker:
    """The one thread that runs jobs, in order; models are loaded once and kept."""

    def __init__(self, device: str | None = None):
        self.jobs: queue.Queue[WebJob | None] = queue.Queue(MAX_QUEUED)
        self.device = device
        self._models: dict[str, Any] = {}
        self._detectors: dict[str, Any] = {}
        self._recognizers: dict[str, Any] = {}
        self.thread = threading.Thread(target=self._run, name="lowface-worker", daemon=True)
        self.thread.start()

    def _enhancer(self, name: str, strength: float, denoise: float):
        """The job's enhancer on the cached model; ``denoise`` acts where the model has a denoiser (the slider is
        there for every model)."""
        import torch

        from lowface.inference.catalogue import create_model, model_fingerprint
        from lowface.inference.enhancer import Enhancer

        if name not in self._models:
            self._models[name] = create_model(name)
        model = self._models[name]
        own = denoise == 1.0 or not Enhancer.takes_denoise(model)
        enhancer = Enhancer(model, name, self.device, strength=strength, denoise=None if own else denoise)
        enhancer.fingerprint = model_fingerprint(name, int8=enhancer.conv_dtype == torch.int8)  # as from_pretrained's
        return enhancer

    def _detector(self, name: str):
        from lowface.face.detect import create_detector

        if name not in self._detectors:
            self._detectors[name] = create_detector(name)
        return self._detectors[name]

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            if job.cancel.is_set():
                job.status = "cancelled"
                continue
            job.status = "running"
            try:
                self._process(job)
                job.status = "cancelled" if job.cancel.is_set() else "done"
            except Exception as exc:  # a job's failure is reported to its page, the server goes on
                job.status, job.error = "failed", str(exc)

    def _process(self, job: WebJob) -> None:
        import torch
        from PIL import Image

        from lowface.inference.batch import (
            computing_as_the_batch,
            enhance_image_file,
            enhance_video_file,
            image_notices,
            video_notices,
        )
        from lowface.inference.jobs import Job, OutputOptions
        from lowface.io import image_to_tensor
        from lowface.io.animation import is_animated, read_still
        from lowface.io.video_input import probe_video

        enhancer = self._enhancer(job.model, job.strength, job.denoise)
        for number, (source, name) in enumerate(zip(job.inputs, job.names, strict=True)):
            if job.cancel.is_set():
                return
            target = job.folder / "out" / f"{number:03d}{_output_suffix(source)}"
            entry: dict[str, Any] = {"name": name, "number": number, "video": source.suffix in VIDEO_SUFFIXES}
            try:
                if entry["video"]:
                    entry["notes"] = video_notices(probe_video(source))  # HDR written as SDR, data streams left out
                    options = OutputOptions(temporal_frames=job.temporal or None)
                    enhance_video_file(enhancer, Job(source, target), options, show_progress=False,
                                       notice=entry["notes"].append)  # damaged packets skipped  # fmt: skip
                else:
                    with computing_as_the_batch(enhancer) as turn:  # the bits `lowface enhance` writes
                        entry["made"] = enhance_image_file(enhancer, Job(source, target), turn=turn)
                    if entry["made"] == "enhanced" and (notes := image_notices(source)):
                        entry["notes"] = notes  # an HDR photo written as SDR
                    before, after = read_still(source), read_still(target)  # an animation: its first frame
                    if is_animated(source):
                        with Image.open(source) as animation:
                            entry["notes"] = [f"an animation of {animation.n_frames} frames: the first one shown"]
                    _preview(before, job.folder / "preview" / f"{number:03d}-before.png")
                    _preview(after, job.folder / "preview" / f"{number:03d}-after.png")
                    entry["size"] = list(after.size)
                    if job.detector != "none":
                        detector = self._detector(job.detector)
                        with torch.inference_mode():
                            entry["faces_before"] = _boxes(detector, image_to_tensor(before.rgb)[0])
                            entry["faces_after"] = _boxes(detector, image_to_tensor(after.rgb)[0])
                entry["routes"] = dict(enhancer.route_counts)
                entry["file"] = target.name
            except (ImageReadError, ValueError, OSError, RuntimeError) as exc:
                entry["error"] = str(exc).replace(str(source), name)
            job.results.append(entry)
            job.done = number + 1
        pictures = [e for e in job.results if not e["video"] and "error" not in e]
        if len(job.inputs) == 2 and len(pictures) == 2:
            job.similarity = self._similarity(job)

    def _similarity(self, job: WebJob) -> dict[str, Any]:
        """Cosine similarity of the two photos' faces, before and after, for both recognizers."""
        import torch

        from lowface.face.pipeline import RecognitionPipeline
        from lowface.io import image_to_tensor
        from lowface.io.animation import read_still

        scores: dict[str, Any] = {}
        for name in ("facenet", "dlib"):
            try:
                if name not in self._recognizers:
                    self._recognizers[name] = RecognitionPipeline(name).eval()
                pipeline = self._recognizers[name]
            except Exception as exc:  # a recognizer package that is not installed: say so
                scores[name] = {"error": str(exc)}
                continue
            row = {}
            for stage, folder, pattern in (("before", job.folder / "in", "{:03d}*"),
                                           ("after", job.folder / "out", "{:03d}*")):  # fmt: skip
                images = [image_to_tensor(read_still(next(folder.glob(pattern.format(i)))).rgb) for i in range(2)]
                with torch.inference_mode():
                    vectors = [pipeline.embed(x, [pipeline.align(x[0])]) for x in images]
                row[stage] = round(float((vectors[0] * vectors[1]).sum()), 4)
            scores[name] = row
        return scores


def web_detectors() -> list[str]:
    """ "none" and every registered face detector (``lowface.registry.DETECTORS``)."""
    from lowface.registry import DETECTORS

    return ["none", *DETECTORS.names()]


def _boxes(detector, image) -> list[list[float]]:
    return [[round(float(v), 1) for v in d.box] for d in detector.detect(image)]


def _output_suffix(source: Path) -> str:
    from lowface.io import output_suffix

    return output_suffix(source).lower()


def _preview(data: ImageData, path: Path) -> None:
    """An 8-bit PNG the browser shows (any input format, 16-bit included)."""
    from lowface.io import atomic_write_bytes

    atomic_write_bytes(path, encode_image(ImageData(data.rgb), ".png"))


class JobStore:
    """The jobs of this app and their folders below one temporary folder."""

    def __init__(self, root: Path):
        self.root = root
        self.jobs: dict[str, WebJob] = {}
        self.lock = threading.Lock()

    def get(self, job_id: str) -> WebJob | None:
        if not JOB_ID.match(job_id):
            return None
        with self.lock:
            return self.jobs.get(job_id)

    def add(self, job: WebJob) -> None:
        with self.lock:
            self.jobs[job.id] = job

    def remove(self, job_id: str) -> None:
        with self.lock:
            job = self.jobs.pop(job_id, None)
        if job is not None:
            job.cancel.set()
            if job.status != "running":
                shutil.rmtree(job.folder, ignore_errors=True)

    def expire(self) -> None:
        """Remove jobs older than JOB_TTL_S, and the folders of removed jobs that were running then."""
        now = time.time()
        with self.lock:
            old = [j.id for j in self.jobs.values() if now - j.created > JOB_TTL_S]
            live = {j.folder.name for j in self.jobs.values()}
        for job_id in old:
            self.remove(job_id)
        for folder in self.root.iterdir():
            if folder.name not in live and not any(j.status == "running" for j in self.jobs.values()):
                shutil.rmtree(folder, ignore_errors=True)


def save_inputs(folder: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    """Write the uploads as ``in/NNN.suffix`` (the suffix from an allow-list, the name never used) and check that
    each opens: the CLI's one-line reason names the uploaded file."""
    from lowface.io import decode_image
    from lowface.io.animation import is_animated

    if len(files) > MAX_FILES:
        raise ValueError(f"{len(files)} files: at most {MAX_FILES} per job")
    (folder / "in").mkdir(parents=True)
    paths = []
    try:
        for number, (name, data) in enumerate(files):
            suffix = Path(name).suffix.lower()
            if suffix not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                raise ValueError(f"{name}: not an image or video this tool reads")
            if suffix not in VIDEO_SUFFIXES and suffix in WRITABLE_SUFFIXES and not is_animated(data):
                try:
                    decode_image(data, name)
                except ImageReadError as exc:
                    raise ValueError(str(exc)) from None
            path = folder / "in" / f"{number:03d}{suffix}"
            path.write_bytes(data)
            paths.append(path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return paths
