"""Python API: Enhancer and lowface.enhance accept what users have and give the same kind back."""

from __future__ import annotations

import av
import numpy as np
import pytest
import torch
from PIL import Image

import lowface
from conftest import assert_close, smooth_test_image
from lowface.inference.enhancer import Enhancer


@pytest.fixture(scope="module")
def gamma() -> Enhancer:
    return Enhancer.from_pretrained("gamma", device="cpu", gate=False)


def expected(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb, 0, 1) ** (1 / 2.2)


def test_numpy_uint8_rgb(gamma):
    rgb = (smooth_test_image() * 0.3 * 255).astype(np.uint8)
    out = gamma.enhance(rgb)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    assert np.abs(out.astype(float) - expected(rgb / 255.0) * 255).max() <= 0.51


def test_numpy_bgr_from_opencv_keeps_channel_order(gamma):
    rgb = (smooth_test_image() * 0.3 * 255).astype(np.uint8)
    out_bgr = gamma.enhance(rgb[..., ::-1].copy(), bgr=True)
    assert np.array_equal(out_bgr[..., ::-1], gamma.enhance(rgb))


def test_numpy_uint16_gray_and_float(gamma):
    gray16 = (smooth_test_image()[..., 0] * 20000).astype(np.uint16)
    out16 = gamma.enhance(gray16)
    assert out16.dtype == np.uint16 and out16.shape == gray16.shape
    assert np.abs(out16 / 65535.0 - expected(gray16 / 65535.0)).max() < 1e-4
    floats = smooth_test_image().astype(np.float64) * 0.2
    out = gamma.enhance(floats)
    assert out.dtype == np.float64
    assert_close(out, expected(floats), atol=1e-6, rtol=1e-5)


def test_rgba_alpha_passes_through(gamma):
    rgba = np.dstack([(smooth_test_image() * 80).astype(np.uint8), np.full((48, 64), 77, np.uint8)])
    out = gamma.enhance(rgba)
    assert out.shape == rgba.shape and np.all(out[..., 3] == 77)


def test_pil_modes_come_back_in_the_same_mode(gamma):
    rgb = Image.fromarray((smooth_test_image() * 60).astype(np.uint8))
    assert gamma.enhance(rgb).mode == "RGB"
    assert gamma.enhance(rgb.convert("L")).mode == "L"
    assert gamma.enhance(rgb.convert("RGBA")).mode == "RGBA"


def test_tensors_chw_and_bchw(gamma):
    x = torch.rand(3, 40, 50) * 0.3
    out = gamma.enhance(x)
    assert out.shape == x.shape
    assert_close(out, x.pow(1 / 2.2), atol=1e-6, rtol=1e-5)
    assert gamma.enhance(x[None]).shape == (1, 3, 40, 50)


def test_bad_tensors_and_types_are_refused(gamma):
    with pytest.raises(ValueError, match="NaN or Inf"):
        gamma.enhance(torch.full((3, 16, 16), float("nan")))
    with pytest.raises(ValueError, match="shape"):
        gamma.enhance(torch.rand(4, 16, 16))
    with pytest.raises(TypeError, match="unsupported image type"):
        gamma.enhance(b"not an image")
    with pytest.raises(ValueError, match=r"nope\.jpg: cannot read file"):
        gamma.enhance("nope.jpg")


def test_enhance_tensor_clips_an_overshoot_instead_of_returning_nan_and_refuses_nan():
    auto = Enhancer.from_pretrained("lowface-auto", device="cpu")
    x = torch.from_numpy(smooth_test_image()).permute(2, 0, 1)[None].float().contiguous() * 0.1
    overshoot = x.clone()
    overshoot[0, 0, 5, 5], overshoot[0, 2, 9, 9] = -0.01, 1.2  # a bicubic resize's or a denoiser's overshoot
    out = auto.enhance_tensor(overshoot)
    assert torch.isfinite(out).all()  # one negative pixel used to turn the whole output into NaN
    assert torch.equal(out, auto.enhance_tensor(overshoot.clamp(0, 1)))
    overshoot[0, 1, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        auto.enhance_tensor(overshoot)


def test_one_call_enhance_and_unknown_model_message():
    rgb = (smooth_test_image() * 60).astype(np.uint8)
    assert lowface.enhance(rgb, model="gamma").shape == rgb.shape
    with pytest.raises(KeyError, match=r"available: .*gamma"):
        lowface.enhance(rgb, model="no-such-model")


def test_list_models_has_classical_baselines():
    assert {"identity", "gamma", "he", "clahe", "lime"} <= set(lowface.list_models())


def test_auto_tiling_for_large_images_equals_whole_image():
    from lowface.models import FastEnhanceNet

    torch.manual_seed(0)
    net = FastEnhanceNet()
    x = torch.rand(1, 3, 300, 420) * 0.3
    whole = Enhancer(net, device="cpu", tile=0, gate=False).enhance_tensor(x)
    tiled = Enhancer(net, device="cpu", tile=128, gate=False).enhance_tensor(x)
    assert_close(whole, tiled, atol=1e-5, rtol=1e-5)


def test_a_model_runs_images_up_to_its_whole_side_in_one_piece_unless_a_tile_is_given(monkeypatch):
    import lowface.inference.enhancer as enhancer_module
    from lowface.models import RestoreNet

    calls = []
    tiled = enhancer_module.tiled_apply
    monkeypatch.setattr(enhancer_module, "tiled_apply", lambda *args, **kw: calls.append(1) or tiled(*args, **kw))
    net = RestoreNet(4, 8, denoiser_width=8)
    net.default_tile, net.whole_side = 64, 200
    for size, tile, expected in [((150, 180), None, 0), ((150, 300), None, 1), ((150, 180), 64, 1)]:
        calls.clear()
        Enhancer(net, device="cpu", tile=tile, gate=False).enhance_tensor(torch.rand(1, 3, *size) * 0.3)
        assert len(calls) == expected, (size, tile)


def test_paths_are_accepted_and_output_is_written_like_the_cli(tmp_path):
    from lowface.io import ImageData, read_image, write_image

    dark = (smooth_test_image() * 0.2 * 255).astype(np.uint8)
    write_image(tmp_path / "dark.png", ImageData(dark / np.float32(255)))
    for source in (tmp_path / "dark.png", str(tmp_path / "dark.png")):
        result = lowface.enhance(source, model="gamma")
        assert isinstance(result, ImageData) and result.size == dark.shape[:2]
    written = lowface.enhance(tmp_path / "dark.png", model="gamma", output=tmp_path / "out" / "dark.png")
    assert written == tmp_path / "out" / "dark.png"
    assert np.array_equal(np.round(read_image(written).rgb * 255), np.round(result.rgb * 255))
    with pytest.raises(TypeError, match="output= needs image to be a path"):
        lowface.enhance(dark, model="gamma", output=tmp_path / "x.png")


def test_a_video_path_is_enhanced_into_the_output_video(tmp_path):
    from samples import make_clip, streams

    source = make_clip(tmp_path / "clip.mp4", frames=6)
    written = lowface.enhance(source, model="gamma", output=tmp_path / "out" / "clip.mkv")
    before, after = streams(source), streams(written)
    assert written == tmp_path / "out" / "clip.mkv" and len(after["pts"]) == 6 and after["audio"]
    assert min(after["levels"]) > max(before["levels"])  # brightened
    with pytest.raises(TypeError, match=r"clip\.mp4 is a video: give output="):
        lowface.enhance(source, model="gamma")
    with pytest.raises(ValueError, match=r"cannot write \.ts videos"):
        lowface.enhance(source, model="gamma", output=tmp_path / "clip.ts")


def test_a_damaged_packet_in_a_video_is_skipped_with_a_warning_naming_the_file(tmp_path):
    from samples import damaged_clip, streams

    source = damaged_clip(tmp_path / "dashcam.mp4")
    with pytest.warns(UserWarning, match=r"dashcam\.mp4: 1 damaged video packet\(s\) skipped"):
        written = lowface.enhance(source, model="gamma", output=tmp_path / "out.mp4")
    assert len(streams(written)["pts"]) == 29


def test_a_video_is_steadied_by_temporal_denoise_through_the_one_call_api(tmp_path):
    from samples import noisy_panning_avi

    source = noisy_panning_avi(tmp_path / "pan.avi")
    along = {}
    for frames in (None, 8.0):
        written = lowface.enhance(source, model="gamma", output=tmp_path / f"out-{frames}.avi", temporal_denoise=frames)
        with av.open(str(written)) as video:
            pixels = np.stack([f.to_ndarray(format="rgb24").astype(np.float32) for f in video.decode(video=0)])
        # each frame against the last one moved along the pan (2 px): what changes is noise
        along[frames] = np.abs(pixels[9:, :, :-2] - pixels[8:-1, :, 2:]).mean()
    assert along[8.0] < 0.5 * along[None]
    with pytest.raises(ValueError, match="temporal_denoise averages a video's frames"):
        lowface.enhance(smooth_test_image(), model="gamma", temporal_denoise=8)


def test_the_gate_is_on_by_default_everywhere_and_strength_scales_the_change():
    bright = smooth_test_image() * 0.9 + 0.05  # well exposed: the gate leaves it alone
    x = torch.from_numpy(bright).permute(2, 0, 1)[None]
    assert Enhancer.from_pretrained("gamma", device="cpu").gate is not None
    assert torch.equal(Enhancer.from_pretrained("gamma", device="cpu").enhance_tensor(x), x)
    assert torch.equal(lowface.enhance(x, model="gamma"), x)
    dark = x * 0.1
    full = Enhancer.from_pretrained("gamma", device="cpu", gate=False).enhance_tensor(dark)
    half = Enhancer.from_pretrained("gamma", device="cpu", gate=False, strength=0.5).enhance_tensor(dark)
    assert_close(half, dark + 0.5 * (full - dark), rtol=1.3e-6, atol=1e-5)
    none = Enhancer.from_pretrained("gamma", device="cpu", strength=0.0).enhance_tensor(dark)
    assert torch.equal(none, dark)
    with pytest.raises(ValueError, match=r"strength must be in \[0, 1\]"):
        Enhancer.from_pretrained("gamma", strength=1.5)
    with pytest.raises(ValueError, match="half precision needs a CUDA device"):
        Enhancer.from_pretrained("gamma", device="cpu", half=True)
    with pytest.raises(ValueError, match="unknown device 'gpu'; use auto, cpu"):
        Enhancer.from_pretrained("gamma", device="gpu")


def test_a_stream_of_opencv_frames_goes_through_the_video_pipelines_frame_enhancer():
    """lowface.FrameEnhancer: frames as OpenCV gives them (uint8 BGR) in, the same kind out, each the frame that the
    video pipeline's tensor path gives on a stream of its own (the gate, router and exposure smoothed over the
    frames); one frame at a time."""
    enhancer = Enhancer.from_pretrained("lowface-auto", device="cpu")
    rng = np.random.default_rng(0)
    frames = [(np.clip(smooth_test_image(48, 64) * 0.08 * (1 + 0.2 * i) + rng.normal(0, 0.01, (48, 64, 3)), 0, 1)
               * 255).round().astype(np.uint8) for i in range(6)]  # fmt: skip
    by_array, by_tensor = lowface.FrameEnhancer(enhancer), lowface.FrameEnhancer(enhancer)
    for frame in frames:
        out = by_array.enhance(np.ascontiguousarray(frame[..., ::-1]), bgr=True)
        reference = by_tensor(torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255)
        assert out.dtype == np.uint8 and out.shape == frame.shape
        expected_rgb = np.round(reference[0].permute(1, 2, 0).numpy() * 255)
        assert np.abs(out[..., ::-1].astype(np.float32) - expected_rgb).max() <= 1
        assert out.mean() > 1.5 * frame.mean()
    with pytest.raises(ValueError, match="one frame at a time"):
        by_array.enhance(torch.rand(2, 3, 8, 8))
