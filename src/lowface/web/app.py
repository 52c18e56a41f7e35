"""``lowface serve``: a local web app to try, compare and batch-enhance (Starlette; page, script and style served
from the package - nothing is fetched from elsewhere).

A job is one upload of photos or a short video with a model, a strength, a share of the noise to remove (for the
restoring networks) and optionally a face detector. Jobs
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
import shutil
import tempfile
import uuid
import zipfile
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lowface.web.jobs import (
    MAX_FILES,
    MAX_UPLOAD_BYTES,
    JobStore,
    WebJob,
    Worker,
    save_inputs,
    web_detectors,
)


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


def _share(value: object, name: str) -> float:
    """A control's value in [0, 1] (the strength, the share of the noise removed); ValueError otherwise."""
    share = float(value)
    if not 0 <= share <= 1:
        raise ValueError(f"{name} must be in [0, 1], got {share}")
    return share


def _frames(value: object) -> float:
    """The temporal noise reduction's frames: 0 (off) or 1-64; ValueError otherwise."""
    frames = float(value)
    if not (frames == 0 or 1 <= frames <= 64):
        raise ValueError(f"temporal must be 0 (off) or 1-64 frames, got {frames}")
    return frames


def create_app(device: str | None = None, workdir: Path | None = None) -> Starlette:
    """The web app; its temporary folder is ``workdir`` (default: a new one), emptied at shutdown."""
    root = Path(tempfile.mkdtemp(prefix="lowface-serve-", dir=workdir))
    store, worker = JobStore(root), Worker(device)
    static = Path(str(resources.files("lowface.web").joinpath("static")))

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse((static / "index.html").read_text())

    async def models(request: Request) -> JSONResponse:
        from lowface.inference.catalogue import list_models, model_card
        from lowface.inference.enhancer import DEFAULT_MODEL

        names = list_models()
        summaries = {name: model_card(name).headline for name in names}  # (the choices' tooltips)
        return JSONResponse({"models": names, "summaries": summaries, "default": DEFAULT_MODEL,
                             "detectors": web_detectors()})  # fmt: skip

    async def submit(request: Request) -> JSONResponse:
        from lowface.inference.catalogue import list_models

        store.expire()
        try:
            fields, files = await _read_upload(request)
            model = fields.get("model") or "lowface-auto"
            if model not in list_models():
                raise ValueError(f"unknown model {model!r}")
            strength = _share(fields.get("strength", "1"), "strength")
            denoise = _share(fields.get("denoise", "1"), "denoise")
            temporal = _frames(fields.get("temporal", "0"))
            detector = fields.get("detector") or "none"
            if detector not in web_detectors():
                raise ValueError(f"unknown detector {detector!r}; use one of {', '.join(web_detectors())}")
            if not files:
                raise ValueError("no file in the upload")
            job_id = uuid.uuid4().hex
            folder = root / job_id
            inputs = save_inputs(folder, files)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        job = WebJob(job_id, folder, [name for name, _ in files], inputs, model, strength, detector, denoise, temporal)
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
            strength = _share(body.get("strength", job.strength), "strength")
            denoise = _share(body.get("denoise", job.denoise), "denoise")
            temporal = _frames(body.get("temporal", job.temporal))
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
                       body.get("detector", job.detector), denoise, temporal)  # fmt: skip
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
