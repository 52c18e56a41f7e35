"""Batch enhancement on Ray (two worker processes on this machine): the local run's outputs, video segments joined
without a seam, a worker killed with kill -9, a driver stopped and rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from conftest import smooth_test_image
from lowface.inference.batch import BatchReport, run_batch
from lowface.inference.enhancer import Enhancer
from lowface.inference.jobs import OutputOptions, plan_jobs
from lowface.io import ImageData, write_image
from samples import damaged_clip, make_clip, streams

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'lowface[ray]'")

from lowface.inference.ray_batch import EnhancerSpec, run_on_ray  # noqa: E402

pytestmark = pytest.mark.slow  # processes, a browser, a Ray cluster or the docs build


@pytest.fixture(scope="module")
def cluster():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def photos(folder: Path, count: int, side: int = 96) -> None:
    for i in range(count):
        write_image(folder / f"{i:02d}.png", ImageData(smooth_test_image(side, side, seed=i) * 0.2))


def local_run(inputs: Path, output: Path, model: str, options: OutputOptions) -> BatchReport:
    torch.set_num_threads(1)  # as each Ray worker runs (--threads 1)
    try:
        return run_batch(Enhancer.from_pretrained(model, device="cpu"), plan_jobs([inputs], output), options=options,
                         progress="none")  # fmt: skip
    finally:
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def frames_of(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24").astype(np.float32) for f in container.decode(video=0)])


def test_ray_gives_the_local_outputs_and_joins_video_segments_without_a_seam(cluster, tmp_path: Path):
    photos(tmp_path / "in", 5)
    make_clip(tmp_path / "in" / "clip.mp4", frames=90, panning=True)
    # stateful: temporal denoiser, smoothed gate and router; CRF 0 (lossless H.264): x264's look-ahead would carry a
    # difference in later frames back into the coding of earlier ones, and coding noise would hide the comparison.
    # Footage of one scene, as the temporal denoiser meets it: on a clip of unrelated frames (every frame a cut) its
    # motion-compensated state takes about 60 frames to settle (the warm-up Ray runs by default), not 25
    options = OutputOptions(temporal_frames=4.0, video_quality=0)
    local_run(tmp_path / "in", tmp_path / "local", "lowface-auto", options)
    jobs = plan_jobs([tmp_path / "in"], tmp_path / "ray")
    report = run_on_ray(EnhancerSpec("lowface-auto"), jobs, options, segment_frames=30, warmup_frames=25)
    assert report.ok and len(report.done) == 6, report.as_dict()
    for i in range(5):  # photos: bit for bit
        name = f"{i:02d}.png"
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    source, joined = streams(tmp_path / "in" / "clip.mp4"), streams(tmp_path / "ray" / "clip.mp4")
    assert joined["pts"] == source["pts"] and joined["audio"] == source["audio"] and joined["rotation"] == {90}
    ray_frames, local_frames = frames_of(tmp_path / "ray" / "clip.mp4"), frames_of(tmp_path / "local" / "clip.mp4")
    steps = np.abs(np.diff(ray_frames, axis=0)).mean(axis=(1, 2, 3))  # steps[t]: frame t -> t + 1
    joins = [29, 59]  # the last frame of a segment -> the first of the next
    inside = np.delete(steps, joins)
    assert steps[joins].max() <= inside.max(), (steps[joins], inside.max())
    difference = np.abs(ray_frames - local_frames).mean(axis=(1, 2, 3))
    assert difference[:30].max() == 0  # the first segment has no warm-up to miss: exactly the local frames
    # the rest settled by the warm-up: nearly local (under one grey level; this clip's router probability lies in
    # lowface-auto's blend bands, where the restoring network's shares move about twice as fast as the smoothed
    # probability, so the 25-frame warm-up leaves more than the under 0.5 level of a hard choice)
    assert difference.max() < 1.0, np.round(difference, 2).tolist()
    assert not any(p.name.endswith(".segments") for p in (tmp_path / "ray").iterdir())  # work folders removed


def test_a_damaged_packet_costs_its_frame_on_ray_as_in_a_local_run_and_is_said(cluster, tmp_path: Path):
    (tmp_path / "in").mkdir()
    damaged_clip(tmp_path / "in" / "cctv.mp4")  # packet 15 of 30 damaged: the segment of frames 10-19 skips it
    options = OutputOptions(video_quality=0)
    local_run(tmp_path / "in", tmp_path / "local", "gamma", options)
    said: list[str] = []
    report = run_on_ray(EnhancerSpec("gamma"), plan_jobs([tmp_path / "in"], tmp_path / "ray"), options,
                        segment_frames=10, warmup_frames=5, log=said.append)  # fmt: skip
    assert report.ok and len(report.done) == 1, report.as_dict()
    assert sum("cctv.mp4: 1 damaged video packet(s) skipped" in line for line in said) == 1, said
    assert [(source.name, note.split(",")[0]) for source, note in report.notes] == [
        ("cctv.mp4", "1 damaged video packet(s) skipped")
    ]
    local, joined = streams(tmp_path / "local" / "cctv.mp4"), streams(tmp_path / "ray" / "cctv.mp4")
    assert len(joined["pts"]) == 29 and joined["pts"] == local["pts"]
    assert np.array_equal(frames_of(tmp_path / "ray" / "cctv.mp4"), frames_of(tmp_path / "local" / "cctv.mp4"))


def test_a_video_cut_short_is_said_on_ray_as_in_a_local_run(cluster, tmp_path: Path):
    """A Matroska file cut short (an interrupted copy): Ray enhances the frames that are there, as a local run does,
    and says once, as the local run does, that the file ends before its header says; and that an HDR photo (a PQ
    HEIC) was written as SDR."""
    import pillow_heif

    (tmp_path / "in").mkdir()
    data = make_clip(tmp_path / "whole.mkv", frames=60, panning=True).read_bytes()
    (tmp_path / "in" / "download.mkv").write_bytes(data[: int(len(data) * 0.6)])
    pq = {"color_primaries": 9, "transfer_characteristics": 16, "matrix_coefficients": 9, "full_range_flag": 1}
    dark = (smooth_test_image(48, 64) * 0.3 * 65535).astype(np.uint16).tobytes()
    pillow_heif.from_bytes(mode="RGB;16", size=(64, 48), data=dark).save(tmp_path / "in" / "hdr.heic", nclx_profile=pq)
    options = OutputOptions(video_quality=0)
    local = local_run(tmp_path / "in", tmp_path / "local", "gamma", options)
    said: list[str] = []
    report = run_on_ray(EnhancerSpec("gamma"), plan_jobs([tmp_path / "in"], tmp_path / "ray"), options,
                        segment_frames=10, warmup_frames=5, log=said.append)  # fmt: skip
    assert report.ok and sorted(report.notes) == sorted(local.notes), (report.notes, local.notes)
    notes = dict((source.name, note) for source, note in report.notes)
    assert notes["download.mkv"].startswith("the file is cut short (its header states a longer video")
    assert notes["hdr.heic"] == "HDR photo (PQ): enhanced and written as SDR (BT.709)" and len(report.notes) == 2
    assert sum("download.mkv: the file is cut short" in line for line in said) == 1, said
    assert sum("hdr.heic: HDR photo (PQ)" in line for line in said) == 1, said
    ray, alone = streams(tmp_path / "ray" / "download.mkv"), streams(tmp_path / "local" / "download.mkv")
    assert 0 < len(ray["pts"]) < 60 and ray["pts"] == alone["pts"]


def test_ray_workers_apply_the_denoising_strength_and_record_it(cluster, tmp_path: Path):
    dark = smooth_test_image(96, 96) * 0.15 + np.random.default_rng(2).normal(0, 0.02, (96, 96, 3))
    write_image(tmp_path / "in" / "noisy.png", ImageData(np.clip(dark, 0, 1).astype(np.float32)))
    torch.set_num_threads(1)
    try:
        local = Enhancer.from_pretrained("lowface-restore-real", device="cpu", gate=False, denoise=0.4)
        run_batch(local, plan_jobs([tmp_path / "in"], tmp_path / "local"), progress="none")
    finally:
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    spec = EnhancerSpec("lowface-restore-real", gate=False, denoise=0.4)
    assert run_on_ray(spec, plan_jobs([tmp_path / "in"], tmp_path / "ray")).ok
    assert (tmp_path / "ray" / "noisy.png").read_bytes() == (tmp_path / "local" / "noisy.png").read_bytes()
    record = json.loads((tmp_path / "ray" / ".noisy.png.lowface.json").read_text())
    assert record["recipe"]["denoise"] == 0.4


def _actor_pids() -> list[int]:
    """Processes of this machine whose title Ray set to the enhancing actor's (``ray::MapWorker(...)``)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if entry.name.isdigit() and b"MapWorker(MapBatches(EnhanceActor))" in title:
            pids.append(int(entry.name))
    return pids


def test_a_worker_killed_mid_job_costs_only_its_items(cluster, tmp_path: Path):
    photos(tmp_path / "in", 16, side=320)
    local_run(tmp_path / "in", tmp_path / "local", "lowface-restore", OutputOptions())
    jobs = plan_jobs([tmp_path / "in"], tmp_path / "ray")
    result = {}
    driver = threading.Thread(target=lambda: result.update(report=run_on_ray(EnhancerSpec("lowface-restore"), jobs)))
    driver.start()
    deadline, killed = time.monotonic() + 300, None
    while time.monotonic() < deadline and killed is None:
        done = len(list((tmp_path / "ray").glob("*.png"))) if (tmp_path / "ray").is_dir() else 0
        pids = _actor_pids() if done >= 2 else []
        if pids:
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    assert killed is not None, "no worker to kill"
    done_at_kill = len(list((tmp_path / "ray").glob("*.png")))
    assert done_at_kill < 16, "the kill should land mid-job"
    driver.join(timeout=600)
    report = result["report"]
    assert report.ok and len(report.done) == 16, report.as_dict()
    for i in range(16):
        name = f"{i:02d}.png"
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert not [p for p in (tmp_path / "ray").iterdir() if ".part" in p.name]


def test_a_stopped_driver_reruns_only_the_missing_work(tmp_path: Path):
    photos(tmp_path / "in", 30, side=320)
    make_clip(tmp_path / "in" / "clip.mp4", frames=60)
    command = [sys.executable, "-m", "lowface.cli", "enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
               "-m", "lowface-restore", "--ray", "local", "--threads", "1", "--segment-frames", "20", "-q"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list((tmp_path / "out").glob("*.png"))) < 3:
        time.sleep(0.2)
    driver.kill()  # kill -9: no clean-up of any kind (Ray's local cluster shares the driver's fate)
    driver.wait(timeout=120)
    deadline = time.monotonic() + 120
    while _actor_pids() and time.monotonic() < deadline:  # workers finishing an item as they go down
        time.sleep(0.2)
    first = len(list((tmp_path / "out").glob("*.png")))
    assert 3 <= first < 30 and not (tmp_path / "out" / "clip.mp4").exists()
    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{30 - first + 1} enhanced, {first} skipped" in rerun.stderr
    assert streams(tmp_path / "out" / "clip.mp4")["pts"] == streams(tmp_path / "in" / "clip.mp4")["pts"]
