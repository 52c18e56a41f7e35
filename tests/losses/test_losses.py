"""Training losses: known values, invariances that matter, float64 gradchecks."""

from __future__ import annotations

import pytest
import torch

from conftest import assert_close, smooth_test_image
from lowface.backbones.base import FeatureExtractor
from lowface.filters import gaussian_blur
from lowface.losses import (
    BrightnessContrastLoss,
    ColorLoss,
    FeatureContrastLoss,
    LowFaceNetObjective,
    PerceptualLoss,
    SmoothLoss,
)
from lowface.losses.contrastive import contrast_ratio
from lowface.losses.feature import NEIGHBOUR_OFFSETS
from lowface.losses.objective import PAPER_WEIGHTS, exposure_matched_target
from lowface.losses.semantic import SemanticBrightnessLoss
from lowface.models import EnhanceNet
from lowface.models.enhance_net import Retinex


class TinyFeatures(FeatureExtractor):
    """A fixed random conv stack standing in for a pretrained backbone in unit tests."""

    TAPS = {"s2": 0, "s4": 1, "s8": 2, "s16": 3}  # noqa: RUF012

    def __init__(self):
        super().__init__((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
        torch.manual_seed(0)
        self.convs = torch.nn.ModuleList(torch.nn.Conv2d(c, 8, 3, stride=2, padding=1) for c in (3, 8, 8, 8))
        self.freeze()

    def extract(self, x, taps):
        out, h = {}, x
        for name, conv in zip(self.TAPS, self.convs, strict=True):
            h = torch.relu(conv(h))
            if name in taps:
                out[name] = h
        return out


def test_twenty_four_directions():
    assert len(NEIGHBOUR_OFFSETS) == 24 and len(set(NEIGHBOUR_OFFSETS)) == 24
    assert {max(abs(dy), abs(dx)) for dy, dx in NEIGHBOUR_OFFSETS} == {1, 2}


def test_smooth_loss_zero_for_constant_illumination_and_edge_aware():
    low = torch.zeros(1, 3, 16, 16)
    low[..., 8:] = 1.0  # a strong edge in the input
    assert SmoothLoss()(torch.full_like(low, 0.4), low) == 0
    step = torch.zeros_like(low)
    step[..., 8:] = 1.0
    flat_input = torch.zeros_like(low)
    # The same illumination edge costs far less where the input has an edge than where it is flat.
    assert SmoothLoss()(step, low) < 0.1 * SmoothLoss()(step, flat_input)


def test_color_loss_sees_colour_not_just_brightness():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32)
    x[:, 0] += 0.5
    permuted = x[:, [1, 2, 0]]
    assert ColorLoss()(x, x) == 0
    assert ColorLoss()(x, permuted) > 1e-3  # the official code's channel-mixing blur scores ~1e-14 here


def test_gaussian_blur_preserves_constants_and_is_per_channel():
    x = torch.stack([torch.full((20, 20), v) for v in (0.1, 0.5, 0.9)])[None]
    assert_close(gaussian_blur(x, 3.0), x, atol=1e-6, rtol=1e-5)


def test_contrast_ratio_known_value():
    a, p, n = torch.zeros(2, 4), torch.full((2, 4), 0.1), torch.full((2, 4), 0.5)
    assert torch.isclose(contrast_ratio(a, p, n), torch.tensor(0.1 / (0.5 + 1e-7)))


def test_brightness_contrast_prefers_positive_like_output():
    torch.manual_seed(0)
    positive, negative = torch.rand(2, 3, 32, 32) * 0.8 + 0.2, torch.rand(2, 3, 32, 32) * 0.1
    loss = BrightnessContrastLoss()
    assert loss(positive * 0.98, positive, negative) < 0.1 * loss(negative * 1.02, positive, negative)


def test_feature_contrast_and_perceptual_with_a_feature_extractor():
    features = TinyFeatures()
    torch.manual_seed(0)
    positive, negative = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32) * 0.1
    loss = FeatureContrastLoss(features)
    assert loss(positive, positive, negative) < 1e-6
    assert loss(negative, positive, negative) > 1.0
    assert PerceptualLoss(features)(negative, negative) == 0
    no_neg = FeatureContrastLoss(features, use_negatives=False)
    assert no_neg(positive, positive, negative) < 1e-6


def test_clean_perceptual_compares_with_the_clean_crop_at_its_own_exposure():
    """Zero at the clean image; unlike the paper's perceptual term, a darker copy of the clean image is far
    from it (no exposure matching), and the gradient reaches the output."""
    features = TinyFeatures()
    torch.manual_seed(2)
    clean = torch.rand(2, 3, 32, 32)
    batch = {"low": clean * 0.1, "clean": clean}
    objective = LowFaceNetObjective(features, {"clean_perceptual": 1.0})
    assert objective(Retinex(clean, torch.ones_like(clean)), batch)[0] == 0
    darker = (clean * 0.5).requires_grad_()
    total, terms = objective(Retinex(darker, torch.ones_like(clean)), batch)
    assert set(terms) == {"clean_perceptual"} and total > 0.05
    total.backward()
    assert darker.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="need a feature extractor"):
        LowFaceNetObjective(None, {"clean_perceptual": 1.0})


@pytest.mark.slow
def test_losses_gradcheck_float64():
    torch.manual_seed(0)
    low = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    illum = torch.rand(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda i: SmoothLoss()(i + 0.01 * torch.arange(64).view(1, 1, 8, 8), low), illum)
    positive = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda e: ColorLoss(sigma=1.0)(e, positive), illum)


def test_objective_terms_switchable_and_gradients_reach_the_network():
    features = TinyFeatures()
    torch.manual_seed(0)
    net = EnhanceNet()
    low = torch.rand(2, 3, 32, 32) * 0.2
    batch = {
        "low": low,
        "positive": torch.rand(2, 3, 32, 32),
        "negative": torch.rand(2, 3, 32, 32) * 0.2,
        "labels": torch.randint(0, 11, (2, 32, 32)),
    }
    weights = {k: v for k, v in PAPER_WEIGHTS.items() if k != "face"}
    total, terms = LowFaceNetObjective(features, weights)(net(low), batch)
    assert set(terms) == {"feature_cr", "brightness_cr", "perceptual", "color", "smooth", "semantic"}
    total.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    ablated = LowFaceNetObjective(features, {"perceptual": 1.0, "color": 0.05})
    assert set(ablated(net(low), batch)[1]) == {"perceptual", "color"}
    with pytest.raises(ValueError, match="FaceIdentityLoss"):
        LowFaceNetObjective(features)  # the paper's weights include the face term
    with pytest.raises(KeyError, match="unknown loss terms"):
        LowFaceNetObjective(features, {"sharpness": 1.0})


def test_every_term_is_a_per_image_mean_so_split_batches_average_to_the_whole():
    """What makes N data-parallel processes equal to one: loss(batch) == mean of loss(each half)."""
    features = TinyFeatures()
    torch.manual_seed(1)
    net = EnhanceNet()
    batch = {
        "low": torch.rand(4, 3, 24, 24) * 0.3,
        "positive": torch.rand(4, 3, 24, 24),
        "negative": torch.rand(4, 3, 24, 24) * 0.3,
        "labels": torch.randint(0, 11, (4, 24, 24)),
        "clean": torch.rand(4, 3, 24, 24),
    }
    paired = {"reconstruction": 1.0, "clean_perceptual": 1.0}
    weights = {**{k: v for k, v in PAPER_WEIGHTS.items() if k != "face"}, **paired}
    objective = LowFaceNetObjective(features, weights)
    whole = objective(net(batch["low"]), batch)[0]
    halves = [
        objective(net(batch["low"][s]), {k: v[s] for k, v in batch.items()})[0] for s in (slice(0, 2), slice(2, 4))
    ]
    assert_close(whole, sum(halves) / 2, rtol=1e-5, atol=1e-8)


def test_semantic_loss_is_eq9_with_class_means_over_that_class_only():
    enhanced = torch.zeros(1, 3, 2, 4)
    enhanced[..., :2] = 0.8  # class 1: constant brightness -> no loss however bright
    enhanced[0, :, 0, 2:], enhanced[0, :, 1, 2:] = 0.2, 0.6  # class 2: values 0.2, 0.2, 0.6, 0.6
    labels = torch.tensor([[[1, 1, 2, 2], [1, 1, 2, 2]]])
    loss = SemanticBrightnessLoss()(enhanced, labels)
    assert loss.item() == pytest.approx(0.04)  # mean (B - 0.4)^2 over class 2; class 1 adds 0
    ignored = labels.clone()
    ignored[0, 1, 2:] = -1  # the 0.6 pixels leave: class 2 becomes constant
    assert SemanticBrightnessLoss()(enhanced, ignored).item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="do not match"):
        SemanticBrightnessLoss()(enhanced, labels[:, :1])
    x = torch.rand(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    random_labels = torch.randint(-1, 11, (2, 6, 6))
    assert torch.autograd.gradcheck(lambda e: SemanticBrightnessLoss()(e, random_labels), x)


class TinyRecognizer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(3 * 8 * 8, 16)

    def forward(self, chips):
        return self.linear(chips.flatten(1))


def test_face_identity_loss_reaches_the_pixels_and_skips_missed_faces():
    from lowface.face.database import FaceDatabase
    from lowface.losses.face_identity import FaceIdentityLoss

    recognizer = TinyRecognizer()
    identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]])  # chip = the top-left 8x8 of a 16x16 image
    database = FaceDatabase(torch.randn(5, 16), [f"id{i}" for i in range(5)])
    loss_fn = FaceIdentityLoss(recognizer, database, chip_size=8, scale=10.0)
    images = torch.rand(3, 3, 16, 16, requires_grad=True)
    transforms = identity.expand(3, 2, 3).clone()
    ids = torch.tensor([0, 3, 1])
    valid = torch.tensor([True, False, True])
    loss = loss_fn(images, transforms, ids, valid)
    loss.backward()
    assert images.grad[0, :, :8, :8].abs().sum() > 0 and images.grad[0, :, 8:, 8:].abs().sum() == 0
    assert images.grad[1].abs().sum() == 0  # the missed face takes no part
    assert all(not p.requires_grad for p in recognizer.parameters())  # frozen
    chips = images.detach()[:, :, :8, :8]
    logits = 10.0 * torch.nn.functional.normalize(recognizer(chips), dim=1) @ database.embeddings.T
    expected = torch.nn.functional.cross_entropy(logits[[0, 2]], ids[[0, 2]], reduction="sum") / 3
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    none = loss_fn(images, transforms, ids, torch.zeros(3, dtype=torch.bool))
    assert none.item() == 0.0 and none.requires_grad


def test_a_student_distilled_with_the_face_term_gets_the_identity_gradient_where_a_face_is():
    from lowface.face.database import FaceDatabase
    from lowface.losses.distill import DistillationObjective
    from lowface.losses.face_identity import FaceIdentityLoss
    from lowface.models import FastEnhanceNet

    torch.manual_seed(3)
    teacher, student = FastEnhanceNet(scale=4, width=8), FastEnhanceNet(scale=4, width=8)
    face_loss = FaceIdentityLoss(TinyRecognizer(), FaceDatabase(torch.randn(4, 16), list("abcd")), 8, 10.0)
    objective = DistillationObjective({"teacher": 1.0, "face": 1.0}, teacher, face_loss=face_loss)
    low = torch.rand(2, 3, 16, 16) * 0.2
    batch = {"low": low, "chip_transform": torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).expand(2, 2, 3).clone(),
             "identity": torch.tensor([2, 0]), "face_valid": torch.tensor([True, False])}  # fmt: skip
    total, terms = objective(student(low), batch)
    assert set(terms) == {"teacher", "face"} and terms["face"] > 0
    total.backward()
    assert all(p.grad is not None for p in student.parameters())
    assert not any(p.requires_grad for p in teacher.parameters())
    alone = DistillationObjective({"teacher": 0.0, "face": 1.0}, teacher, face_loss=face_loss)
    no_face = dict(batch, face_valid=torch.tensor([False, False]))
    assert alone(student(low), no_face)[0].item() == 0.0  # SICE scenes and missed faces: no identity pull
    with pytest.raises(ValueError, match="FaceIdentityLoss"):
        DistillationObjective({"face": 1.0}, teacher)


def test_table_iv_ablations_switch_the_right_terms():
    from lowface.train.config import load_config

    assert load_config(None, ["ablation=no-face"]).loss_weights["face"] == 0.0
    assert load_config(None, ["ablation=no-negatives"]).use_negatives is False
    no_contrastive = load_config(None, ["ablation=no-contrastive"]).loss_weights
    assert no_contrastive["feature_cr"] == no_contrastive["brightness_cr"] == 0.0 and no_contrastive["semantic"] == 1.0
    with pytest.raises(ValueError, match="unknown ablation"):
        load_config(None, ["ablation=no-everything"])


def test_detail_loss_ignores_brightness_and_sees_noise():
    from lowface.losses.feature import DetailLoss

    clean = torch.from_numpy(smooth_test_image(64, 64, seed=3)).permute(2, 0, 1)[None].float()
    loss = DetailLoss(sigma=2.0)
    assert loss(clean + 0.2, clean).item() < 1e-6  # an exposure offset is not detail
    assert loss(clean, clean).item() == 0.0
    noisy = clean + 0.05 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    assert loss(noisy, clean).item() > 0.02
    noisy.requires_grad_(True)
    loss(noisy, clean).backward()
    assert noisy.grad.abs().sum() > 0


def test_contrast_loss_sees_a_flat_output_not_its_exposure_and_pulls_it_back():
    from lowface.losses.feature import ContrastLoss

    clean = torch.from_numpy(smooth_test_image(64, 64, seed=4)).permute(2, 0, 1)[None].float() * 0.6 + 0.2
    loss = ContrastLoss(sigma=2.0)
    assert loss(clean, clean).item() == 0.0
    assert loss(clean * 1.5, clean).item() < 1e-5  # a brighter copy has the same contrast and colourfulness
    mean = clean.mean((2, 3), keepdim=True)
    flat = (mean + 0.7 * (clean - mean)).requires_grad_(True)  # the flat, pale output of a per-pixel loss
    assert loss(flat, clean).item() > 0.05
    loss(flat, clean).backward()
    with torch.no_grad():
        stepped = flat - 0.05 * flat.grad / flat.grad.abs().max()
    assert loss(stepped, clean).item() < loss(flat, clean).item()  # descent restores contrast
    assert (stepped - mean).abs().mean() > (flat - mean).abs().mean()
    grain = clean + 0.05 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    assert loss(grain, clean).item() < 0.5 * loss(flat, clean).item()  # pixel noise is mostly blurred away


def test_real_references_are_matched_to_the_output_brightness_and_synthetic_ones_are_not():
    """Items whose reference exposure was a choice (exposure_fixed False) get a target scaled to the output's mean,
    with no gradient through the scale; the others keep the clean image; without the key nothing changes."""
    torch.manual_seed(3)
    clean = torch.rand(3, 3, 8, 8) * 0.5 + 0.25
    enhanced = (clean * torch.tensor([0.5, 1.0, 2.0]).view(-1, 1, 1, 1)).requires_grad_(True)
    target = exposure_matched_target(enhanced, clean, torch.tensor([False, True, False]))
    assert_close(target[0], enhanced[0].detach(), atol=1e-6, rtol=0)  # same structure, the output's brightness
    assert torch.equal(target[1], clean[1])
    assert_close(target[2], enhanced[2].detach(), atol=1e-6, rtol=0)
    assert not target.requires_grad
    assert exposure_matched_target(enhanced, clean, None) is clean
    assert exposure_matched_target(enhanced, clean, torch.tensor([True, True, True])) is clean


def test_distillation_compares_real_pairs_at_the_output_brightness_too():
    """The paired terms of the distillation objective use the same target as Low-FaceNet's: a real reference
    (exposure_fixed False) twice as bright as a student output of the same structure costs nothing."""
    from lowface.losses.distill import DistillationObjective
    from lowface.models import FastEnhanceNet

    torch.manual_seed(4)
    objective = DistillationObjective({"teacher": 0.0, "reconstruction": 1.0}, FastEnhanceNet(scale=4, width=8))
    output = Retinex(torch.rand(2, 3, 16, 16) * 0.4, torch.ones(2, 3, 16, 16))
    batch = {"low": torch.rand(2, 3, 16, 16), "clean": output.reflectance * 2}
    free = objective(output, dict(batch, exposure_fixed=torch.tensor([False, False])))[1]["reconstruction"]
    fixed = objective(output, dict(batch, exposure_fixed=torch.tensor([True, True])))[1]["reconstruction"]
    assert free.item() == pytest.approx(0.0, abs=1e-6)
    assert fixed.item() == pytest.approx(output.reflectance.mean().item(), rel=1e-5)


def test_lab_colour_loss_sees_a_hue_drift_not_the_exposure_and_pulls_the_colour_back():
    """Foliage drifting to beige costs several Delta E; a brighter copy of the right colours costs nothing; the
    gradient is finite where the colours agree and descent moves the hue back."""
    from lowface.losses.feature import LabColourLoss

    green = torch.tensor([0.20, 0.45, 0.15]).view(1, 3, 1, 1).expand(1, 3, 32, 32).contiguous()
    beige = torch.tensor([0.40, 0.35, 0.25]).view(1, 3, 1, 1) * torch.ones(1, 3, 32, 32)
    loss = LabColourLoss(sigma=1.0, eps=0.1)
    assert loss(green, green).item() == pytest.approx(0.1, abs=1e-6)  # the Charbonnier floor
    assert loss(green * 1.4, green).item() < 0.2  # exposure is left to the other terms
    assert loss(beige, green).item() > 20
    drifted = (0.7 * green + 0.3 * beige).requires_grad_(True)
    loss(drifted, green).backward()
    assert torch.isfinite(drifted.grad).all()
    with torch.no_grad():
        stepped = drifted - 0.01 * drifted.grad / drifted.grad.abs().max()
    assert loss(stepped, green).item() < loss(drifted, green).item()
    same = green.clone().requires_grad_(True)
    loss(same, green).backward()
    assert torch.isfinite(same.grad).all()


@pytest.mark.parametrize("lightness", [True, False])
def test_lab_colour_loss_gradient_does_not_pull_the_exposure(lightness):
    """The loss ignores the output's scale, so its gradient has no component along the output: a descent step
    neither darkens nor brightens. With the brightness match's gain detached it pulled the exposure (a* and b* grow
    with L*: darker where the output's colours are too strong), which dimmed lowface-fast within 250 steps."""
    from lowface.losses.feature import LabColourLoss

    torch.manual_seed(0)
    reference = torch.rand(2, 3, 24, 24) * 0.6 + 0.2
    output = (reference * torch.tensor([0.9, 0.6, 0.4]).view(1, 3, 1, 1)).requires_grad_(True)  # darker, warmer
    LabColourLoss(lightness=lightness)(output, reference).backward()
    grad, image = output.grad.flatten(1), output.detach().flatten(1)
    along = (grad * image).sum(1) / (grad.norm(dim=1) * image.norm(dim=1))  # cosine of the gradient and the image
    assert along.abs().max().item() < 1e-3


def test_chroma_only_colour_loss_ignores_a_tone_change_and_still_sees_the_hue():
    from lowface.losses.feature import LabColourLoss

    grey_ramp = torch.linspace(0.1, 0.8, 32).view(1, 1, 1, 32).expand(1, 3, 32, 32).contiguous()
    flatter = 0.45 + 0.5 * (grey_ramp - 0.45)  # same mean, half the contrast: a lightness change only
    chroma, colour = LabColourLoss(lightness=False), LabColourLoss()
    assert chroma(flatter, grey_ramp).item() < 0.2 < 2 < colour(flatter, grey_ramp).item()
    tinted = grey_ramp * torch.tensor([1.1, 1.0, 0.8]).view(1, 3, 1, 1)
    assert chroma(tinted, grey_ramp).item() > 5
