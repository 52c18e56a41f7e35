"""`lowface serve`, driven from a real headless Chromium (Playwright with the system's chromium): upload, result
equal to `lowface enhance`, the strength and noise-removal controls, download; a truncated file; 20 concurrent jobs
with bounded memory and nothing left behind; no request leaves the machine."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import smooth_test_image
from lowface.inference.catalogue import model_card
from lowface.io import ImageData, read_image, write_image

pytestmark = pytest.mark.slow  # processes, a browser, a Ray cluster or the docs build

pytest.importorskip("starlette", reason="the web extra is not installed (make install)")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make install)")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    temp = tmp_path_factory.mktemp("serve-tmp")
    port = free_port()
    env = {**os.environ, "TMPDIR": str(temp), "OMP_NUM_THREADS": "2"}
    process = subprocess.Popen([sys.executable, "-m", "lowface.cli", "serve", "--port", str(port), "--device", "cpu"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/models", timeout=2)
            break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"the server did not start: {process.stderr.read()[-2000:]}")
    yield {"base": base, "pid": process.pid, "temp": temp}
    process.terminate()
    process.wait(timeout=60)
    assert not list(temp.glob("lowface-serve-*")), "the app's temporary folder outlived the server"


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine (make browser)")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def photo(tmp_path: Path) -> Path:
    """A dark, noisy photo of a face that may be shown anywhere (the screenshots go into the docs): the public-domain
    astronaut at an eighth of its light with sensor-like noise, so that lowface-auto restores it."""
    from lowface.data.public import public_face

    dark = public_face() * 0.12 + np.random.default_rng(0).normal(0, 0.015, (320, 320, 3))
    target = tmp_path / "night.png"
    write_image(target, ImageData(np.clip(dark, 0, 1).astype(np.float32)))
    return target


def cli_result(source: Path, out: Path, *extra: str) -> Path:
    done = subprocess.run([sys.executable, "-m", "lowface.cli", "enhance", str(source), "-o", str(out), "-q", *extra],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def open_page(browser, base: str):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(base)
    page.wait_for_selector("body[data-ready='1']")
    return page, requests


def test_upload_compare_strength_noise_removal_and_download_in_chromium(server, browser, tmp_path: Path):
    source = photo(tmp_path)
    page, requests = open_page(browser, server["base"])
    page.set_input_files("#files", str(source))
    page.select_option("#detector", "mtcnn")
    page.click("#go")
    page.wait_for_selector("body[data-state='done']", timeout=300_000)
    page.wait_for_function("document.querySelector('#result-0') && document.querySelector('#result-0').complete")
    expected = cli_result(source, tmp_path / "cli.png")
    shown = page.evaluate("fetch(document.querySelector('#result-0').src).then(r => r.arrayBuffer())"
                          ".then(b => Array.from(new Uint8Array(b)))")  # fmt: skip
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(bytes(shown))).convert("RGB")),
                          np.asarray(Image.open(expected).convert("RGB")))  # fmt: skip
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-app.png"), full_page=True)
    with page.expect_download() as download:
        page.click("a.download")
    saved = tmp_path / "downloaded.png"
    download.value.save_as(saved)
    assert saved.read_bytes() == expected.read_bytes()  # the very file `lowface enhance` writes

    page.fill("#strength", "0.5")
    page.dispatch_event("#strength", "change")
    page.wait_for_selector("body[data-state='running']")
    page.wait_for_selector("body[data-state='done']", timeout=300_000)
    page.wait_for_function("document.querySelector('#result-0') && document.querySelector('#result-0').complete")
    half = cli_result(source, tmp_path / "half.png", "--strength", "0.5")
    shown = page.evaluate("fetch(document.querySelector('#result-0').src).then(r => r.arrayBuffer())"
                          ".then(b => Array.from(new Uint8Array(b)))")  # fmt: skip
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(bytes(shown))).convert("RGB")),
                          np.asarray(Image.open(half).convert("RGB")))  # fmt: skip
    page.screenshot(path=str(ARTIFACTS / "web-app-strength.png"), full_page=True)

    page.fill("#denoise", "0.5")
    page.dispatch_event("#denoise", "change")
    page.wait_for_selector("body[data-state='running']")
    page.wait_for_selector("body[data-state='done']", timeout=300_000)
    page.wait_for_function("document.querySelector('#result-0') && document.querySelector('#result-0').complete")
    grain = cli_result(source, tmp_path / "grain.png", "--strength", "0.5", "--denoise", "0.5")
    shown = page.evaluate("fetch(document.querySelector('#result-0').src).then(r => r.arrayBuffer())"
                          ".then(b => Array.from(new Uint8Array(b)))")  # fmt: skip
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(bytes(shown))).convert("RGB")),
                          np.asarray(Image.open(grain).convert("RGB")))  # fmt: skip
    assert not np.array_equal(np.asarray(Image.open(grain)), np.asarray(Image.open(half)))  # it was restored
    outside = [url for url in requests if not url.startswith(server["base"]) and not url.startswith("blob:")]
    assert outside == [], outside  # nothing fetched from the internet
    page.close()


def test_a_truncated_file_gets_the_clis_one_line_reason(server, browser, tmp_path: Path):
    whole = photo(tmp_path).read_bytes()
    broken = tmp_path / "broken.jpg"
    buffer = io.BytesIO()
    Image.open(io.BytesIO(whole)).convert("RGB").save(buffer, format="JPEG")
    broken.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 3])
    page, _ = open_page(browser, server["base"])
    page.set_input_files("#files", str(broken))
    page.click("#go")
    page.wait_for_selector("body[data-state='error']", timeout=60_000)
    message = page.inner_text("#error")
    assert message.startswith("broken.jpg: ") and "truncated" in message and "\n" not in message
    page.screenshot(path=str(ARTIFACTS / "web-app-error.png"))
    page.close()


def _multipart(path: Path, fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = '--{}\r\nContent-Disposition: form-data; name="{}"\r\n\r\n{}\r\n'
    parts = [head.format(boundary, k, v).encode() for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
                 "Content-Type: application/octet-stream\r\n\r\n".encode() + path.read_bytes() + b"\r\n")  # fmt: skip
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def test_twenty_concurrent_jobs_complete_in_bounded_memory_and_leave_nothing(server, tmp_path: Path):
    base = server["base"]
    source = tmp_path / "small.png"
    write_image(source, ImageData(smooth_test_image(240, 320) * 0.2))
    body, kind = _multipart(source, {"model": "lowface-auto", "strength": "1", "detector": "none"})
    before = _peak_rss_mb(server["pid"])
    ids, errors = [], []

    def post() -> None:
        request = urllib.request.Request(f"{base}/api/jobs", data=body, headers={"Content-Type": kind})
        try:
            ids.append(json.loads(urllib.request.urlopen(request, timeout=120).read())["id"])
        except OSError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(ids) == 20
    deadline = time.monotonic() + 600
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            status = json.loads(urllib.request.urlopen(f"{base}/api/jobs/{job_id}").read())
            if status["status"] in ("done", "failed", "cancelled"):
                assert status["status"] == "done" and status["results"][0].get("file"), status
                pending.discard(job_id)
        time.sleep(0.5)
    assert not pending
    peak = _peak_rss_mb(server["pid"])
    assert peak < 2500, f"peak RSS {peak:.0f} MB (before the burst: {before:.0f} MB)"
    print(f"server peak RSS: {before:.0f} MB before, {peak:.0f} MB after 20 concurrent jobs")
    for job_id in ids:
        urllib.request.urlopen(urllib.request.Request(f"{base}/api/jobs/{job_id}", method="DELETE"))
    roots = list(server["temp"].glob("lowface-serve-*"))
    assert len(roots) == 1 and [p for p in roots[0].iterdir() if p.name in ids] == []
    path_trick = urllib.request.Request(f"{base}/api/jobs/..%2F..%2Fetc/files/0/result")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(path_trick)
    assert refused.value.code == 404


def run_job(base: str, files: list[Path], model: str = "gamma", **fields: str) -> tuple[str, dict]:
    """Post ``files`` as one job through the API (with form ``fields``) and wait for it: (job id, its final status)."""
    boundary = uuid.uuid4().hex
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{p.name}"\r\n\r\n'.encode()
            + p.read_bytes()
            + b"\r\n"
            for p in files
        )
        + b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
            for key, value in {"model": model, **fields}.items()
        )
        + f"--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(f"{base}/api/jobs", data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})  # fmt: skip
    job_id = json.loads(urllib.request.urlopen(request).read())["id"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = json.loads(urllib.request.urlopen(f"{base}/api/jobs/{job_id}").read())
        if status["status"] not in ("queued", "running"):
            break
        time.sleep(0.3)
    assert status["status"] == "done", status
    return job_id, status


def test_a_camera_mov_is_enhanced_and_the_page_data_says_what_was_left_out(server, tmp_path: Path):
    """The web app tells what the CLI tells: a timecode track is not copied (the timecode kept as metadata)."""
    from samples import camera_mov

    _, status = run_job(server["base"], [camera_mov(tmp_path / "camera.mov")])
    assert status["results"][0]["notes"] == ["1 data stream(s) not copied (unknown; a timecode is kept as metadata)"]


def test_a_video_with_a_damaged_packet_is_enhanced_and_the_page_data_says_so(server, tmp_path: Path):
    from samples import damaged_clip

    _, status = run_job(server["base"], [damaged_clip(tmp_path / "dashcam.mp4")])
    assert [note.split(",")[0] for note in status["results"][0]["notes"]] == ["1 damaged video packet(s) skipped"]


def test_an_animated_gif_comes_back_animated_as_the_cli_makes_it(server, tmp_path: Path):
    """An animation goes through the CLI's function (every frame, timing kept); the page shows its first frame."""
    import zipfile

    frames = [Image.fromarray(np.round(smooth_test_image(120, 160, seed=i) * 40).astype(np.uint8)) for i in range(3)]
    source = tmp_path / "night.gif"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=[70, 80, 90], loop=0)
    job_id, status = run_job(server["base"], [source])
    assert "error" not in status["results"][0], status
    assert status["results"][0]["notes"] == ["an animation of 3 frames: the first one shown"]
    bundle = zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(f"{server['base']}/api/jobs/{job_id}/zip").read()))
    made = bundle.read("000-night.gif")
    assert made == cli_result(source, tmp_path / "cli.gif", "-m", "gamma").read_bytes()
    assert Image.open(io.BytesIO(made)).n_frames == 3


def test_a_pair_of_photos_gets_both_recognizers_similarity_and_a_zip(server, tmp_path: Path):
    import zipfile

    base = server["base"]
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    write_image(first, ImageData(smooth_test_image(120, 160) * 0.2))
    write_image(second, ImageData(smooth_test_image(120, 160, seed=3) * 0.2))
    job_id, status = run_job(base, [first, second])
    for name in ("facenet", "dlib"):
        scores = status["similarity"][name]
        assert "error" in scores or (-1 <= scores["before"] <= 1 and -1 <= scores["after"] <= 1), scores
    bundle = zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(f"{base}/api/jobs/{job_id}/zip").read()))
    assert sorted(bundle.namelist()) == ["000-a.png", "001-b.png"]
    expected = read_image(cli_result(first, tmp_path / "cli.png", "-m", "gamma"))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(bundle.read("000-a.png")))), np.round(expected.rgb * 255))


def test_a_long_job_shows_progress_and_can_be_cancelled_and_the_view_zooms(server, browser, tmp_path: Path):
    files = []
    for i in range(12):
        files.append(tmp_path / f"big{i:02d}.png")
        write_image(files[-1], ImageData(smooth_test_image(720, 960, seed=i) * 0.15))
    page, _ = open_page(browser, server["base"])
    page.select_option("#model", "lowface-restore")
    title = page.eval_on_selector("#model", "s => s.selectedOptions[0].title")
    assert title == model_card("lowface-restore").headline  # each choice says what it is
    page.set_input_files("#files", [str(f) for f in files])
    page.click("#go")
    page.wait_for_function("Number(document.querySelector('#progress').value) >= 1", timeout=300_000)
    page.click("#cancel")
    page.wait_for_selector("body[data-state='cancelled']", timeout=300_000)
    shown = page.locator(".result").count()
    assert 1 <= shown < 12, shown  # stopped between files; what was done is shown
    page.locator(".compare").first.hover()
    page.mouse.wheel(0, -300)
    transform = page.eval_on_selector(".compare .stage", "e => e.style.transform")
    assert transform.startswith("scale(") and float(transform[6:-1]) > 1
    page.close()


def test_a_video_is_enhanced_and_played_in_the_page(server, browser, tmp_path: Path):
    from samples import make_clip

    clip = make_clip(tmp_path / "clip.mp4", frames=20, rotation=0)
    page, _ = open_page(browser, server["base"])
    page.select_option("#model", "gamma")
    page.set_input_files("#files", str(clip))
    page.click("#go")
    page.wait_for_selector("body[data-state='done']", timeout=300_000)
    page.wait_for_function("document.querySelector('#video-0') && document.querySelector('#video-0').readyState >= 2",
                           timeout=60_000)  # fmt: skip
    assert page.eval_on_selector("#video-0", "v => [v.videoWidth, v.videoHeight]") == [64, 48]
    page.close()


def test_the_noise_removal_control_gives_the_clis_denoise_and_is_ignored_by_models_without_a_denoiser(
    server, tmp_path: Path
):
    import zipfile

    source = tmp_path / "noisy.png"
    dark = smooth_test_image(96, 128) * 0.15 + np.random.default_rng(1).normal(0, 0.02, (96, 128, 3))
    write_image(source, ImageData(np.clip(dark, 0, 1).astype(np.float32)))
    job_id, status = run_job(server["base"], [source], "lowface-restore-real", denoise="0.4")
    assert status["denoise"] == 0.4
    made = zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(f"{server['base']}/api/jobs/{job_id}/zip").read()))
    web = np.asarray(Image.open(io.BytesIO(made.read("000-noisy.png"))))
    cli = read_image(cli_result(source, tmp_path / "cli.png", "-m", "lowface-restore-real", "--denoise", "0.4"))
    own = read_image(cli_result(source, tmp_path / "own.png", "-m", "lowface-restore-real"))
    assert np.array_equal(web, np.round(cli.rgb * 255)) and not np.array_equal(web, np.round(own.rgb * 255))
    _, status = run_job(server["base"], [source], "gamma", denoise="0.4")  # the slider is there for every model
    assert status["status"] == "done"


def decoded(path: Path) -> np.ndarray:
    """A video's frames, (T, H, W, 3) float32 in 0-255."""
    import av

    with av.open(str(path)) as video:
        return np.stack([frame.to_ndarray(format="rgb24").astype(np.float32) for frame in video.decode(video=0)])


def test_the_steady_video_control_runs_the_temporal_denoiser_on_the_video(server, tmp_path: Path):
    import zipfile

    from samples import noisy_panning_avi

    source = noisy_panning_avi(tmp_path / "pan.avi")
    along = {}
    for temporal in ("0", "8"):
        job_id, status = run_job(server["base"], [source], "gamma", temporal=temporal)
        assert status["temporal"] == float(temporal)
        made = zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(f"{server['base']}/api/jobs/{job_id}/zip").read()))
        name = next(n for n in made.namelist() if n.startswith("000-pan"))
        (tmp_path / f"web-{temporal}-{name}").write_bytes(made.read(name))
        pixels = decoded(tmp_path / f"web-{temporal}-{name}")
        # each frame against the last one moved along the pan (2 px): what changes is noise
        along[temporal] = np.abs(pixels[9:, :, :-2] - pixels[8:-1, :, 2:]).mean()
    assert along["8"] < 0.5 * along["0"]  # as the CLI's --temporal-denoise 8 (tests/inference/test_api.py)
    with pytest.raises(urllib.error.HTTPError, match="400"):
        run_job(server["base"], [source], "gamma", temporal="0.5")


def test_an_hdr_heic_and_an_avif_are_enhanced_and_the_page_data_says_what_the_cli_says(server, tmp_path: Path):
    """A PQ HEIC is written as SDR and the page says so, as the CLI does; an AVIF comes back as an AVIF."""
    import pillow_heif

    pq = {"color_primaries": 9, "transfer_characteristics": 16, "matrix_coefficients": 9, "full_range_flag": 1}
    dark = (smooth_test_image(48, 64) * 0.3 * 65535).astype(np.uint16).tobytes()
    pillow_heif.from_bytes(mode="RGB;16", size=(64, 48), data=dark).save(tmp_path / "hdr.heic", nclx_profile=pq)
    Image.fromarray((smooth_test_image(48, 64) * 40).astype(np.uint8)).save(tmp_path / "dark.avif")
    job_id, status = run_job(server["base"], [tmp_path / "hdr.heic", tmp_path / "dark.avif"])
    hdr, avif = status["results"]
    assert hdr["notes"] == ["HDR photo (PQ): enhanced and written as SDR (BT.709)"] and not avif.get("notes")
    result = urllib.request.urlopen(f"{server['base']}/api/jobs/{job_id}/files/1/result").read()
    assert result[4:12] == b"ftypavif" and Image.open(io.BytesIO(result)).size == (64, 48)
