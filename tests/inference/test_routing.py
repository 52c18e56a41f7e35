"""lowface-auto: the noise estimate, the shipped router's choices, the Enhancer's routing, video hysteresis."""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import assert_close
from lowface.cli import main
from lowface.data.public import public_face
from lowface.data.synth import synthesize
from lowface.inference import enhancer as api
from lowface.inference.batch import FrameEnhancer
from lowface.inference.catalogue import create_model, model_card, model_fingerprint
from lowface.inference.enhancer import Enhancer
from lowface.inference.exposure import shipped_exposure
from lowface.inference.logistic import fit_logistic
from lowface.inference.routing import RoutedModel, RouteSmoother, shipped_router, tone_and_detail
from lowface.inference.statistics import exposure_features, noise_features, noise_sigma
from lowface.models.precision import conv_precision

AUTO_RESTORE = model_card("lowface-auto").kwargs["restore"]  # the restoring network the default routes noise to
AUTO_FAST = model_card("lowface-auto").kwargs["fast"]  # and the one it runs on images with little noise
AUTO_BANDS = ((0.25, 0.75), (0.0, 0.55))  # its tone and detail bands (benchmarks/results/split_routing/)


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, np.float32)).permute(2, 0, 1)[None]


def test_noise_sigma_recovers_the_std_of_white_noise_and_ignores_smooth_content():
    y, x = torch.meshgrid(torch.linspace(0, 1, 300), torch.linspace(0, 1, 200), indexing="ij")
    smooth = (0.2 + 0.3 * x + 0.2 * y**2 + 0.1 * x * y).expand(1, 3, 300, 200)  # quadratic: cancelled exactly
    assert noise_sigma(smooth).item() == pytest.approx(0.0, abs=1e-6)
    generator = torch.Generator().manual_seed(0)
    for std in (0.005, 0.02, 0.05):
        noisy = smooth + std * torch.randn(smooth.shape, generator=generator)
        assert noise_sigma(noisy).item() == pytest.approx(std, rel=0.03)


def test_noise_sigma_strip_by_strip_equals_the_whole_image():
    generator = torch.Generator().manual_seed(1)
    tall = torch.rand(2, 3, 1300, 40, generator=generator)  # three strips of 512 rows
    kernel = torch.tensor([[1.0, -2, 1], [-2, 4, -2], [1, -2, 1]]).expand(3, 1, 3, 3)  # Immerkær's kernel
    direct = torch.nn.functional.conv2d(tall, kernel, groups=3).abs().mean((1, 2, 3)) * (np.pi / 2) ** 0.5 / 6
    assert_close(noise_sigma(tall), direct, rtol=1e-5, atol=0)
    with pytest.raises(ValueError, match="at least 3 x 3"):
        noise_sigma(torch.zeros(1, 3, 2, 10))


def test_noise_sigma_through_opencv_in_inference_equals_the_torch_reference():
    generator = torch.Generator().manual_seed(2)
    images = torch.rand(2, 3, 601, 97, generator=generator) * torch.tensor([0.1, 1.0]).view(2, 1, 1, 1)
    reference = noise_sigma(images)  # gradients enabled: the torch ops
    with torch.no_grad():
        fast = noise_sigma(images[:, :, :, 1:])  # a strided view, as a crop of a frame is
        assert_close(noise_sigma(images), reference, rtol=1e-5, atol=0)
    assert_close(fast, noise_sigma(images[:, :, :, 1:].contiguous()), rtol=1e-5, atol=0)


def test_shipped_router_sends_noisy_dark_faces_to_restore_and_clean_dark_ones_to_fast():
    face = public_face()
    router = shipped_router()
    clean_dark = _tensor(synthesize([face], "gamma-noise", seed=3)[0][0])  # noise below one grey level
    noisy = _tensor(synthesize([face], "x0.15-noise0.02", seed=3)[0][0])
    very_dark = _tensor(synthesize([face], "physical-1", seed=3)[0][0])
    assert router.probability(clean_dark).item() < 0.5
    assert router.probability(noisy).item() > 0.5
    assert router.probability(very_dark).item() > 0.5
    assert noise_features(noisy).shape == (1, 3)


def test_shipped_router_on_lfw_faces_by_preset(lfw_faces):
    router = shipped_router()

    def share_restore(preset: str) -> float:
        dark = torch.cat([_tensor(d) for d in synthesize(lfw_faces, preset, seed=2)[0]])
        return float((router.probability(dark) > 0.5).float().mean())

    assert share_restore("x0.15-noise0.02") == 1.0 and share_restore("physical-1") == 1.0
    # noise below one grey level: mostly the fast network (the held-out report in noise_router.json: 14 % of 300
    # gamma-noise faces and 1 % of linear ones go to the restoring one; six faces here, so at most two)
    assert share_restore("gamma-noise") < 0.4 and share_restore("linear") < 0.2


def test_auto_enhancer_gives_exactly_the_chosen_networks_output_or_their_mix_and_counts_it():
    face = public_face()
    noisy = _tensor(synthesize([face], "x0.15-noise0.02", seed=3)[0][0])
    unsure = _tensor(synthesize([face], "gamma-noise", seed=3)[0][0])  # noise below one grey level: p 0.46
    auto = Enhancer.from_pretrained("lowface-auto", device="cpu", gate=False)
    auto.model.exposure = auto.model.chroma = None  # routing alone (exposure: test_exposure.py, chroma: test_chroma)
    restore = Enhancer.from_pretrained(AUTO_RESTORE, device="cpu", gate=False)
    fast = Enhancer.from_pretrained(AUTO_FAST, device="cpu", gate=False)
    both = torch.cat([noisy, unsure])
    tone, detail = auto.model.shares(auto.model.probability(both))
    assert tone[0] == detail[0] == 1.0 and 0 < tone[1] < 1 and 0 < detail[1] < 1
    out = auto.enhance_tensor(both)
    assert_close(out[:1], restore.enhance_tensor(noisy), rtol=0, atol=1e-6)
    f, r = fast.enhance_tensor(unsure), restore.enhance_tensor(unsure)
    low, high = tone_and_detail(r - f)
    assert_close(out[1:], (f + tone[1] * low + detail[1] * high).clamp(0, 1), rtol=0, atol=1e-6)
    assert auto.route_counts == {AUTO_RESTORE: 1, f"{AUTO_RESTORE} + {AUTO_FAST}": 1}
    # a direct call routes the same way, in plain inference at the precision the enhancer ran its convolutions at
    with torch.inference_mode(), conv_precision(auto.conv_dtype):
        direct = auto.model(both)
    assert_close(direct, out, rtol=0, atol=1e-5)
    # one band for both: the one-share mix fast + t (restore - fast)
    auto.model.detail_blend = auto.model.blend
    assert_close(auto.enhance_tensor(unsure), f + tone[1] * (r - f), rtol=0, atol=1e-5)
    # without bands: a hard choice, exactly the fast network's output
    auto.model.blend = auto.model.detail_blend = None
    assert_close(auto.enhance_tensor(unsure), f, rtol=0, atol=1e-6)
    assert auto.route_counts[AUTO_FAST] == 1


def test_tone_and_detail_split_an_image_into_its_4_pixel_means_and_the_rest():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 37, 50)
    tone, detail = tone_and_detail(x)
    assert tone.shape == detail.shape == x.shape
    assert_close(tone + detail, x, rtol=0, atol=1e-6)
    assert_close(tone_and_detail(torch.full((1, 3, 9, 10), 0.3))[0], torch.full((1, 3, 9, 10), 0.3))  # flat: no detail
    checker = (torch.arange(16).view(4, 4) % 2 == 0).float().repeat(4, 4).view(1, 1, 16, 16)  # grain finer than 4 px
    tone, detail = tone_and_detail(checker)
    assert_close(tone, torch.full_like(checker, 0.5)) and assert_close(detail, checker - 0.5)
    ramp = torch.linspace(0, 1, 64).view(1, 1, 1, 64).expand(1, 1, 8, 64)  # shade: in the tone
    assert float(tone_and_detail(ramp)[1][..., 4:-4].abs().max()) < 0.01


def test_shares_of_the_restoring_network_are_ramps_over_the_blend_bands_or_a_hard_choice():
    probability = torch.tensor([0.0, 0.3, 0.4, 0.45, 0.5, 0.59, 0.6, 0.9])
    router = shipped_router()
    banded = RoutedModel(torch.nn.Identity(), torch.nn.Identity(), router, ("a", "b"), blend=(0.4, 0.6))
    tone, detail = banded.shares(probability)
    assert_close(tone, [0, 0, 0, 0.25, 0.5, 0.95, 1, 1], atol=1e-6) and torch.equal(tone, detail)
    split = RoutedModel(
        torch.nn.Identity(), torch.nn.Identity(), router, ("a", "b"), blend=(0.4, 0.6), detail_blend=(0.2, 0.5)
    )
    assert_close(split.shares(probability)[1], [0, 1 / 3, 2 / 3, 5 / 6, 1, 1, 1, 1], atol=1e-6)
    hard = RoutedModel(torch.nn.Identity(), torch.nn.Identity(), router, ("a", "b"))
    assert [s.tolist() for s in hard.shares(probability)] == [[0, 0, 0, 0, 0, 1, 1, 1]] * 2
    assert [banded.label(p) for p in (0.0, 0.5, 1.0)] == ["a", "b + a", "b"]
    assert [split.label(p) for p in (0.1, 0.3, 0.55, 0.7)] == ["a", "b + a", "b + a", "b"]
    assert split.apply_route(torch.zeros(0, 3, 4, 4), torch.zeros(0), lambda n, x: n(x)).shape == (0, 3, 4, 4)
    with pytest.raises(ValueError, match=r"^blend must be .* 0 <= low < high <= 1"):
        RoutedModel(torch.nn.Identity(), torch.nn.Identity(), router, ("a", "b"), blend=(0.6, 0.4))
    with pytest.raises(ValueError, match="detail_blend must be"):
        RoutedModel(
            torch.nn.Identity(), torch.nn.Identity(), router, ("a", "b"), blend=(0.4, 0.6), detail_blend=(0.5, 1.2)
        )
    with pytest.raises(ValueError, match="needs a blend band"):
        RoutedModel(torch.nn.Identity(), torch.nn.Identity(), router, ("a", "b"), detail_blend=(0.2, 0.5))
    kwargs = model_card("lowface-auto").kwargs  # benchmarks/results/split_routing/
    assert (kwargs["blend"], kwargs["detail_blend"]) == (list(AUTO_BANDS[0]), list(AUTO_BANDS[1]))
    model = create_model("lowface-auto")
    assert (model.blend, model.detail_blend) == AUTO_BANDS


def test_gate_and_router_share_one_brightness_measurement_and_decide_as_apart(monkeypatch):
    """With the gate on, lowface-auto measures each image's brightness once for the gate and the router: the same
    weights and choices as each measuring on its own, one measurement a call."""
    from lowface.inference import gate, statistics

    face = public_face()
    images = torch.cat([_tensor(synthesize([face], preset, seed=3)[0][0]) for preset in ("x0.15-noise0.02", "linear")])
    images = torch.cat([images, _tensor(face)])  # noisy dark, clean dark, well exposed
    auto = Enhancer.from_pretrained("lowface-auto", device="cpu")
    brightness = statistics.exposure_features(images)
    assert torch.equal(auto.weight(images, brightness), auto.weight(images))
    assert torch.equal(auto.model.probability(images, brightness), auto.model.probability(images))
    calls = []
    measure = statistics.exposure_features
    for module in (api, gate, statistics):
        monkeypatch.setattr(module, "exposure_features", lambda x: calls.append(x) or measure(x))
    auto.enhance_tensor(images)
    assert len(calls) == 1


def test_video_measures_a_frame_once_for_the_gate_the_router_and_the_exposure_target(monkeypatch):
    """Every MEASURE_EVERY-th frame is measured, once for all three smoothers (the same frame object each time: a new
    frame is measured again, not taken from the last)."""
    from lowface.inference import exposure, gate, routing, statistics

    calls = []
    measure = statistics.exposure_features
    for module in (exposure, gate, routing, statistics):
        monkeypatch.setattr(module, "exposure_features", lambda x: calls.append(x) or measure(x))
    stream = FrameEnhancer(Enhancer.from_pretrained("lowface-auto", device="cpu"))
    assert stream.gate is not None and stream.router is not None and stream.exposure is not None
    frame = _tensor(synthesize([public_face()], "x0.15-noise0.02", seed=3)[0][0])
    for _ in range(2 * FrameEnhancer.MEASURE_EVERY):
        stream.prepare(frame)
    assert len(calls) == 2


def test_auto_fast_routes_the_noisy_images_to_the_fast_restoration_network():
    restore = model_card("lowface-auto-fast").kwargs["restore"]
    noisy = _tensor(synthesize([public_face()], "x0.15-noise0.02", seed=3)[0][0])
    auto_fast = Enhancer.from_pretrained("lowface-auto-fast", device="cpu", gate=False)
    restore_fast = Enhancer.from_pretrained(restore, device="cpu", gate=False)
    # the routed copy of the batch is contiguous, `noisy` a channels-last view: oneDNN sums in another order there,
    # which the student's gain (1 / illumination) and tone head lift to about 1e-5
    expected = shipped_exposure().settle(restore_fast.enhance_tensor(noisy).clone(), exposure_features(noisy))
    assert_close(auto_fast.enhance_tensor(noisy), expected, rtol=0, atol=1e-4)
    assert auto_fast.route_counts == {restore: 1}
    assert auto_fast.model.exposure == shipped_exposure()  # the default's exposure control


def test_auto_enhancer_routes_the_whole_image_before_tiling():
    face = public_face()
    noisy = _tensor(synthesize([face], "x0.15-noise0.02", seed=3)[0][0])
    tiled = Enhancer.from_pretrained("lowface-auto", device="cpu", tile=128, gate=False)
    tiled.model.exposure = None
    whole = Enhancer.from_pretrained(AUTO_RESTORE, device="cpu", tile=0, gate=False)
    expected = tiled.model.chroma.apply_(whole.enhance_tensor(noisy).clone(), noisy)  # the smoothing on the whole image
    assert_close(tiled.enhance_tensor(noisy), expected, rtol=0, atol=1e-5)
    assert tiled.route_counts == {AUTO_RESTORE: 1}


def test_route_smoother_does_not_flip_on_a_noisy_estimate_but_follows_a_lasting_change():
    probabilities = iter([0.3, 0.6, 0.55, 0.62, 0.58, 0.61] + [0.95] * 30 + [0.05] * 30)
    model = SimpleNamespace(
        router=SimpleNamespace(probability=lambda frame, brightness=None: torch.tensor([next(probabilities)]))
    )
    smoother = RouteSmoother(model)
    frame = torch.zeros(1, 3, 4, 4)
    choices = [int(smoother(frame)) for _ in range(66)]
    assert choices[:6] == [0] * 6  # hovering around 0.5 after a fast start: no switch
    assert choices[35] == 1 and choices[-1] == 0  # a lasting change is followed, in both directions
    assert sum(a != b for a, b in pairwise(choices)) == 2


def test_route_smoother_of_a_banded_model_gives_the_smoothed_probability_whose_shares_move_continuously():
    probabilities = iter([0.3] + [0.7] * 40)
    router = SimpleNamespace(probability=lambda frame, brightness=None: torch.tensor([next(probabilities)]))
    model = RoutedModel(torch.nn.Identity(), torch.nn.Identity(), router, ("a", "b"), blend=(0.4, 0.6))
    smoother = RouteSmoother(model)
    frame = torch.zeros(1, 3, 4, 4)
    shares = [float(model.shares(smoother(frame))[0]) for _ in range(41)]
    assert shares[0] == 0.0 and shares[-1] == 1.0  # p 0.3 -> all fast; p 0.7 once the average has followed
    assert all(b >= a for a, b in pairwise(shares)) and 0 < shares[3] < 1  # continuous: through mixes, no jump
    assert max(b - a for a, b in pairwise(shares)) < 0.25


@pytest.mark.slow
def test_auto_takes_no_weights_file_and_cannot_be_exported(tmp_path):
    with pytest.raises(ValueError, match="takes no weights file"):
        create_model("lowface-auto", tmp_path / "x.safetensors")
    result = CliRunner().invoke(main, ["export", "lowface-auto", "-o", str(tmp_path / "auto.onnx")])
    assert result.exit_code != 0 and f"export {AUTO_FAST} and {AUTO_RESTORE}" in result.output
    assert isinstance(create_model("lowface-auto"), RoutedModel)


def test_auto_fingerprint_covers_both_networks_and_the_router():
    fingerprint = model_fingerprint("lowface-auto")
    assert len(fingerprint) == 64
    assert fingerprint not in (model_fingerprint(AUTO_FAST), model_fingerprint(AUTO_RESTORE))
    assert fingerprint != model_fingerprint("lowface-auto-fast")
    assert model_fingerprint("gamma") == ""


def test_cli_default_model_is_the_api_default():
    option = next(p for p in main.commands["enhance"].params if p.name == "model")
    assert option.default == api.DEFAULT_MODEL == "lowface-auto"


def test_fit_logistic_recovers_a_known_direction_and_respects_weights():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 2, generator=generator, dtype=torch.float64)
    y = (torch.rand(2000, generator=generator, dtype=torch.float64) < torch.sigmoid(3 * x[:, 0])).double()
    fit = fit_logistic(x, y, l2=0.0)
    assert fit.coef[0] == pytest.approx(3.0, rel=0.15) and abs(fit.coef[1]) < 0.3
    weight = torch.where(y == 1, 10.0, 1.0).double()  # positives count more: the boundary moves, bias goes up
    assert fit_logistic(x, y, weight, l2=0.0).bias > fit.bias + 1.0


def test_a_noisy_video_stream_runs_one_network_throughout():
    from lowface.inference.batch import FrameEnhancer

    still = public_face()[64:192, 96:224]
    frames = [_tensor(synthesize([still], "x0.15-noise0.02", seed=s)[0][0]) for s in range(4)]
    routed = Enhancer.from_pretrained("lowface-auto", device="cpu", gate=True)
    routed.model.exposure = routed.model.chroma = None  # (video's exposure and chroma: test_exposure, test_chroma)
    auto = FrameEnhancer(routed)
    restore = FrameEnhancer(Enhancer.from_pretrained(AUTO_RESTORE, device="cpu", gate=True))
    for frame in frames:  # float32 rounding only: the routed path indexes the batch (another memory layout), and
        # the log-domain upsampler's exp carries the last-bit differences up to a few 1e-6
        assert_close(auto(frame), restore(frame), rtol=0, atol=1e-5)
    assert auto.enhancer.route_counts == {AUTO_RESTORE: 4}


@pytest.mark.slow
def test_cli_enhance_with_the_default_model_reports_which_network_ran(tmp_path):
    from PIL import Image

    face = public_face()[64:192, 96:224]
    noisy = synthesize([face], "x0.15-noise0.02", seed=3)[0][0]
    Image.fromarray(np.round(noisy * 255).astype(np.uint8)).save(tmp_path / "noisy.png")
    Image.fromarray(np.round(face * 255).astype(np.uint8)).save(tmp_path / "clean.png")
    result = CliRunner().invoke(main, ["enhance", str(tmp_path / "noisy.png"), str(tmp_path / "clean.png"),
                                       "-o", str(tmp_path / "out"), "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"lowface-auto: 1 with {AUTO_RESTORE} (images or video frames the exposure gate" in result.output
    assert (tmp_path / "out" / "noisy.png").is_file() and (tmp_path / "out" / "clean.png").is_file()


def test_video_frames_are_measured_as_plain_inference_on_the_pipelines_own_thread(monkeypatch):
    # grad mode is per thread and a new thread starts with it on: the pipeline's thread ran every measurement
    # through its slower reference ops until prepare() entered inference mode itself
    import threading

    from lowface.filters import plain_inference
    from lowface.inference import statistics
    from lowface.inference.batch import FrameEnhancer

    seen, measure = [], statistics.noise_sigma
    monkeypatch.setattr(statistics, "noise_sigma", lambda x: seen.append(plain_inference()) or measure(x))
    frame = _tensor(synthesize([public_face()[64:192, 96:224]], "x0.15-noise0.02", seed=0)[0][0])
    video = FrameEnhancer(Enhancer.from_pretrained("lowface-auto", device="cpu", gate=True))
    prepared = []
    thread = threading.Thread(target=lambda: prepared.append(video.prepare(frame)))
    thread.start()
    thread.join()
    assert seen == [True] and prepared[0][2] is not None  # measured once, as plain inference; a network chosen
