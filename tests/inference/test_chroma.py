"""The default's chroma smoothing: what it keeps (luma, bright regions, colour edges), what it removes (colour noise
where the input was dark), its sizes, its chunking, and the routed model that runs it."""

from __future__ import annotations

import pytest
import torch

from conftest import assert_close
from lowface.filters import luma
from lowface.inference import chroma as chroma_module
from lowface.inference.catalogue import model_card, model_fingerprint
from lowface.inference.chroma import ChromaSmoothing
from lowface.inference.routing import RoutedModel, shipped_router


def _noisy_grey(height: int = 96, width: int = 128, seed: int = 0) -> torch.Tensor:
    """(1, 3, H, W) mid grey with colour noise of zero luma (what the smoothing is for)."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(1, 3, height, width, generator=generator) * 0.05
    noise -= luma(noise)  # chroma only
    return (0.5 + noise).clamp(0, 1)


def test_colour_noise_where_the_input_was_dark_is_removed_and_luma_kept():
    out = _noisy_grey()
    dark_input = torch.full_like(out, 0.01)
    smoothed = ChromaSmoothing().apply_(out.clone(), dark_input)
    chroma_before, chroma_after = out - luma(out), smoothed - luma(smoothed)
    assert float(chroma_after.std()) < 0.3 * float(chroma_before.std())
    assert_close(luma(smoothed), luma(out), rtol=0, atol=1e-5)


def test_where_the_input_was_bright_nothing_changes():
    out = _noisy_grey()
    assert torch.equal(ChromaSmoothing().apply_(out.clone(), torch.full_like(out, 0.3)), out)
    # half dark, half bright: the bright half's pixels beyond the filter's reach stay exactly as they were
    x = torch.full_like(out, 0.3)
    x[..., :48, :] = 0.01
    smoothed = ChromaSmoothing().apply_(out.clone(), x)
    assert torch.equal(smoothed[..., 60:, :], out[..., 60:, :])
    assert not torch.equal(smoothed[..., :40, :], out[..., :40, :])


def test_a_colour_edge_along_a_luma_edge_bleeds_far_less_than_under_a_blur():
    out = torch.empty(1, 3, 64, 64)
    out[..., :32] = torch.tensor([0.6, 0.2, 0.2]).view(3, 1, 1)  # red, luma 0.32
    out[..., 32:] = torch.tensor([0.1, 0.1, 0.7]).view(3, 1, 1)  # blue, luma 0.19
    dark = torch.full_like(out, 0.01)
    guided = (ChromaSmoothing(radius_share=1 / 16).apply_(out.clone(), dark) - out).abs().amax((0, 1, 2))
    blurred = (ChromaSmoothing(radius_share=1 / 16, eps=1.0).apply_(out.clone(), dark) - out).abs().amax((0, 1, 2))
    assert float(blurred[31]) > 0.25 and float(guided[31]) < 0.3 * float(blurred[31])  # (eps 1: nearly a box blur)
    assert float(guided[:20].max()) < 1e-6 and float(guided[44:].max()) < 1e-6  # beyond the filter's reach: as it was


def test_the_weight_ramps_in_log_luma_over_the_dark_band():
    weight = ChromaSmoothing(dark=(0.02, 0.08)).weight(torch.tensor([0.01, 0.02, 0.04, 0.08, 0.5]))
    assert_close(weight, torch.tensor([1.0, 1.0, 0.5, 0.0, 0.0]), rtol=0, atol=1e-6)


@pytest.mark.parametrize(("size", "expected"), [((250, 320), (2, 1)), ((512, 512), (2, 2)), ((1080, 1920), (2, 4)),
                                                ((64, 64), (1, 1))])  # fmt: skip
def test_the_radius_grows_with_the_image_and_large_radii_work_on_blocks(size, expected):
    assert ChromaSmoothing().scales(*size) == expected


def test_rows_in_chunks_give_the_whole_image_values(monkeypatch):
    out = _noisy_grey(200, 120)
    x = torch.full_like(out, 0.03)
    whole = ChromaSmoothing(radius_share=1 / 20).apply_(out.clone(), x)  # blocks of 3 pixels
    monkeypatch.setattr(chroma_module, "ROWS_PER_CHUNK", 16)
    chunked = ChromaSmoothing(radius_share=1 / 20).apply_(out.clone(), x)
    assert_close(chunked, whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("arguments", [{"radius_share": 0}, {"eps": 0}, {"dark": (0.1, 0.02)}, {"dark": (0, 0.1)}])
def test_bad_settings_are_refused(arguments):
    with pytest.raises(ValueError, match="chroma smoothing needs"):
        ChromaSmoothing(**arguments)


def test_the_routed_model_smooths_after_routing_and_the_default_says_so_in_its_fingerprint():
    router = shipped_router()
    x = torch.full((1, 3, 48, 48), 0.01)
    out = _noisy_grey(48, 48)
    plain = RoutedModel(torch.nn.Identity(), torch.nn.Identity(), router, ("a", "b"))
    smoothing = RoutedModel(torch.nn.Identity(), torch.nn.Identity(), router, ("a", "b"), chroma=ChromaSmoothing())
    assert torch.equal(plain.finish_(out.clone(), x), out)
    assert_close(smoothing.finish_(out.clone(), x), ChromaSmoothing().apply_(out.clone(), x), rtol=0, atol=0)
    card = model_card("lowface-auto")
    assert ChromaSmoothing(**card.kwargs["chroma"]) == ChromaSmoothing()  # (the defaults are the shipped settings)
    shipped = model_fingerprint("lowface-auto")
    settings = card.kwargs["chroma"]
    try:  # another setting is another model: cached benchmark outputs must not be reused
        card.kwargs["chroma"] = {**settings, "dark": [0.02, 0.2]}
        assert model_fingerprint("lowface-auto") != shipped
    finally:
        card.kwargs["chroma"] = settings
    assert model_fingerprint("lowface-auto") == shipped


def test_the_default_smooths_images_and_video_frames_alike():
    from lowface.data.public import public_face
    from lowface.data.synth import synthesize
    from lowface.inference.batch import FrameEnhancer
    from lowface.inference.enhancer import Enhancer

    face = public_face()[64:192, 96:224]
    frame = torch.from_numpy(synthesize([face], "x0.15-noise0.02", seed=3)[0][0]).float().permute(2, 0, 1)[None]
    auto = Enhancer.from_pretrained("lowface-auto", device="cpu", gate=False)
    image = auto.enhance_tensor(frame)
    stream = FrameEnhancer(auto)
    assert_close(stream(frame), image, rtol=0, atol=1e-5)
    chroma, auto.model.chroma = auto.model.chroma, None
    plain = auto.enhance_tensor(frame)
    assert_close(image, chroma.apply_(plain.clone(), frame), rtol=0, atol=1e-6)
    assert float((image - plain).abs().max()) > 0.01  # (a noisy dark face: its colour noise is smoothed)
