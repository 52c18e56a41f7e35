"""``lowface serve``: a local web app to try, compare and batch-enhance (Starlette; page, script and style served
from the package - nothing is fetched from elsewhere).

A job is one upload of photos or a short video with a model, a strength and optionally a face detector. Jobs
wait in a bounded queue and one worker thread runs them in order, so several browser tabs never hold more than
one model run in memory. Each job lives in its own folder under the app's temporary folder, named by a random
id; request paths only ever select a job id (checked against a pattern) and a file number, never a file name.
Uploads are bounded in bytes while they stream in and in pixels by the image reader (the CLI's limits and
messages). Results are made by the CLI's own function (:func:`lowface.inference.batch.enhance_image_file`), so a result
is the file ``lowface enhance`` writes. Jobs are removed on request, after ``JOB_TTL_S``, and all at shutdown.
"""

from __future__ import annotations

import contextlib
import io
import json
import queue
import re
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

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
    status: str = "queued"  # queued, running, done, failed, cancelled
    done: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    similarity: dict[str, Any] | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    created: float = field(default_factory=time.time)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "done": self.done, "total": len(self.inputs),
                "model": self.model, "strength": self.strength, "detector": self.detector, "results": self.results,
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

    def _enhancer(self, name: str, strength: float):
        from lowface.inference.catalogue import create_model, model_fingerprint
        from lowface.inference.enhancer import Enhancer

        if name not in self._models:
            self._models[name] = create_model(name)
        return Enhancer(self._models[name], name, self.device, strength=strength, fingerprint=model_fingerprint(name))

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

        from lowface.inference.batch import enhance_image_file, enhance_video_file
        from lowface.inference.jobs import Job, OutputOptions
        from lowface.io import image_to_tensor, read_image

        enhancer = self._enhancer(job.model, job.strength)
        for number, (source, name) in enumerate(zip(job.inputs, job.names, strict=True)):
            if job.cancel.is_set():
                return
            target = job.folder / "out" / f"{number:03d}{_output_suffix(source)}"
            entry: dict[str, Any] = {"name": name, "number": number, "video": source.suffix in VIDEO_SUFFIXES}
            try:
                if entry["video"]:
                    enhance_video_file(enhancer, Job(source, target), OutputOptions(), show_progress=False)
                else:
                    entry["made"] = enhance_image_file(enhancer, Job(source, target))
                    before, after = read_image(source), read_image(target)
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
        from lowface.io import image_to_tensor, read_image

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
                images = [image_to_tensor(read_image(next(folder.glob(pattern.format(i)))).rgb) for i in range(2)]
                with torch.inference_mode():
                    vectors = [pipeline.embed(x, [pipeline.align(x[0])]) for x in images]
                row[stage] = round(float((vectors[0] * vectors[1]).sum()), 4)
            scores[name] = row
        return scores


def web_detectors() -> list[str]:
    """"none" and every registered face detector (``lowface.registry.DETECTORS``)."""
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


async def _read_upload(request: Request) -> tuple[dict[str, str], list[tuple[str, bytes]]]:
    """The form fields and the uploaded files; ValueError past MAX_UPLOAD_BYTES or MAX_FILES."""
    declared = int(request.headers.get("content-length") or 0)
    if declared > MAX_UPLOAD_BYTES:
        raise ValueError(f"upload of {declared / 2**20:.0f} MB is over the {MAX_UPLOAD_BYTES // 2**20} MB limit")
    form = await request.form(max_files=MAX_FILES, max_part_size=MAX_UPLOAD_BYTES)
    fields, files, total = {}, [], 0
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields[key] = value
            continue
        data = await value.read()
        total += len(data)
        if total > MAX_UPLOAD_BYTES:
            raise ValueError(f"upload is over the {MAX_UPLOAD_BYTES // 2**20} MB limit")
        files.append((Path(value.filename or "upload").name, data))
    await form.close()
    return fields, files


def create_app(device: str | None = None, workdir: Path | None = None) -> Starlette:
    """The web app; its temporary folder is ``workdir`` (default: a new one), emptied at shutdown."""
    root = Path(tempfile.mkdtemp(prefix="lowface-serve-", dir=workdir))
    store, worker = JobStore(root), Worker(device)
    static = Path(str(resources.files("lowface.web").joinpath("static")))

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text())

    async def models(request: Request) -> JSONResponse:
        from lowface.inference.catalogue import list_models
        from lowface.inference.enhancer import DEFAULT_MODEL

        return JSONResponse({"models": list_models(), "default": DEFAULT_MODEL, "detectors": web_detectors()})

    async def submit(request: Request) -> JSONResponse:
        from lowface.inference.catalogue import list_models

        store.expire()
        try:
            fields, files = await _read_upload(request)
            model = fields.get("model") or "lowface-auto"
            if model not in list_models():
                raise ValueError(f"unknown model {model!r}")
            strength = float(fields.get("strength", "1"))
            if not 0 <= strength <= 1:
                raise ValueError(f"strength must be in [0, 1], got {strength}")
            detector = fields.get("detector") or "none"
            if detector not in web_detectors():
                raise ValueError(f"unknown detector {detector!r}; use one of {', '.join(web_detectors())}")
            if not files:
                raise ValueError("no file in the upload")
            job_id = uuid.uuid4().hex
            folder = root / job_id
            inputs = _save_inputs(folder, files)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        job = WebJob(job_id, folder, [name for name, _ in files], inputs, model, strength, detector)
        return _enqueue(job)

    def _enqueue(job: WebJob) -> JSONResponse:
        try:
            worker.jobs.put_nowait(job)
        except queue.Full:
            shutil.rmtree(job.folder, ignore_errors=True)
            return JSONResponse({"error": "the server is busy; try again in a minute"}, status_code=503)
        store.add(job)
        return JSONResponse(job.public(), status_code=202)

    async def rerun(request: Request) -> JSONResponse:
        """The same files again with another strength / model / detector (the strength slider)."""
        job = store.get(request.path_params["job_id"])
        if job is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        body = json.loads(await request.body() or b"{}")
        try:
            strength = float(body.get("strength", job.strength))
            if not 0 <= strength <= 1:
                raise ValueError(f"strength must be in [0, 1], got {strength}")
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        job_id = uuid.uuid4().hex
        folder = root / job_id
        (folder / "in").mkdir(parents=True)
        inputs = []
        for source in job.inputs:
            inputs.append(folder / "in" / source.name)
            shutil.copyfile(source, inputs[-1])
        again = WebJob(job_id, folder, job.names, inputs, body.get("model", job.model), strength,
                       body.get("detector", job.detector))  # fmt: skip
        return _enqueue(again)

    async def status(request: Request) -> JSONResponse:
        job = store.get(request.path_params["job_id"])
        if job is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse(job.public())

    async def cancel(request: Request) -> JSONResponse:
        job = store.get(request.path_params["job_id"])
        if job is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        job.cancel.set()
        return JSONResponse(job.public())

    async def delete(request: Request) -> Response:
        store.remove(request.path_params["job_id"])
        return Response(status_code=204)

    def _file(job_id: str, number: str, kind: str) -> Path | None:
        job = store.get(job_id)
        if job is None or not number.isdigit() or int(number) >= len(job.results):
            return None
        entry = job.results[int(number)]
        if "file" not in entry:
            return None
        if kind == "result":
            return job.folder / "out" / entry["file"]
        return job.folder / "preview" / f"{int(number):03d}-{kind}.png"

    async def file(request: Request) -> Response:
        params = request.path_params
        kind = params["kind"]
        if kind not in ("result", "before", "after"):
            return JSONResponse({"error": "no such file"}, status_code=404)
        path = _file(params["job_id"], params["number"], kind)
        if path is None or not path.is_file():
            return JSONResponse({"error": "no such file"}, status_code=404)
        job = store.get(params["job_id"])
        name = job.results[int(params["number"])]["name"] if job else path.name
        if kind == "result":
            stem = Path(name).stem
            return FileResponse(path, filename=f"{stem}-enhanced{path.suffix}")
        return FileResponse(path, media_type="image/png")

    async def archive(request: Request) -> Response:
        job = store.get(request.path_params["job_id"])
        if job is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as bundle:
            for entry in job.results:
                if "file" in entry:
                    name = f"{entry['number']:03d}-{Path(entry['name']).stem}{Path(entry['file']).suffix}"
                    bundle.write(job.folder / "out" / entry["file"], name)
        return Response(buffer.getvalue(), media_type="application/zip",
                        headers={"Content-Disposition": 'attachment; filename="lowface-results.zip"'})  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        worker.jobs.put(None)
        shutil.rmtree(root, ignore_errors=True)

    routes = [
        Route("/", index),
        Route("/api/models", models),
        Route("/api/jobs", submit, methods=["POST"]),
        Route("/api/jobs/{job_id}", status),
        Route("/api/jobs/{job_id}", delete, methods=["DELETE"]),
        Route("/api/jobs/{job_id}/cancel", cancel, methods=["POST"]),
        Route("/api/jobs/{job_id}/rerun", rerun, methods=["POST"]),
        Route("/api/jobs/{job_id}/zip", archive),
        Route("/api/jobs/{job_id}/files/{number}/{kind}", file),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.root, app.state.store = root, store
    return app


def _save_inputs(folder: Path, files: list[tuple[str, bytes]]) -> list[Path]:
    """Write the uploads as ``in/NNN.suffix`` (the suffix from an allow-list, the name never used) and check that
    each opens: the CLI's one-line reason names the uploaded file."""
    from lowface.io import decode_image

    if len(files) > MAX_FILES:
        raise ValueError(f"{len(files)} files: at most {MAX_FILES} per job")
    (folder / "in").mkdir(parents=True)
    paths = []
    try:
        for number, (name, data) in enumerate(files):
            suffix = Path(name).suffix.lower()
            if suffix not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                raise ValueError(f"{name}: not an image or video this tool reads")
            if suffix not in VIDEO_SUFFIXES and suffix in WRITABLE_SUFFIXES:
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
