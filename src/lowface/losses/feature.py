"""Feature module (paper III-C, Eq. 5-8): perceptual, color and 24-direction edge-aware smoothness losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lowface.backbones.base import FeatureExtractor
from lowface.filters import gaussian_blur, luma, rgb_to_lab


class PerceptualLoss(nn.Module):
    """Eq. 5: MSE between deep features of the low-light input and of the enhanced output.

    Default tap ``s16`` (EfficientNet-Lite0 stride 16), the stand-in for the code's VGG-16 relu4_3.

    Two deliberate departures, both switchable (measured: with neither, the correct answer - the clean
    image - scores worse than a tinted half-enhanced output, because features change with exposure):
    ``exposure_matched``: the input is first scaled to the output's mean brightness (per image, no
    gradient), so the term asks for the input's *content* at the output's exposure, not for darkness;
    ``relative``: the MSE is divided by the mean square of the target features, which makes the scale
    independent of the backbone.
    """

    def __init__(
        self, features: FeatureExtractor, tap: str = "s16", relative: bool = True, exposure_matched: bool = True
    ):
        super().__init__()
        self.features, self.tap = features, tap
        self.relative, self.exposure_matched = relative, exposure_matched

    def forward(self, enhanced: Tensor, low: Tensor) -> Tensor:
        with torch.no_grad():
            if self.exposure_matched:
                gain = enhanced.mean((1, 2, 3), keepdim=True) / low.mean((1, 2, 3), keepdim=True).clamp_min(1e-4)
                low = (low * gain).clamp(0.0, 1.0)
            target = self.features(low, (self.tap,))[self.tap]
        loss = (self.features(enhanced, (self.tap,))[self.tap] - target).pow(2).flatten(1).mean(1)
        if self.relative:
            loss = loss / (target.pow(2).flatten(1).mean(1) + 1e-8)
        return loss.mean()


class ColorLoss(nn.Module):
    """Eq. 6: MSE between Gaussian-blurred (sigma 3, per channel) enhanced image and a random positive.

    Per channel on purpose: the official code's kernel mixes channels and is blind to colour (SPEC 7).
    """

    def __init__(self, sigma: float = 3.0):
        super().__init__()
        self.sigma = sigma

    def forward(self, enhanced: Tensor, positive: Tensor) -> Tensor:
        if positive.shape[-2:] != enhanced.shape[-2:]:
            positive = F.interpolate(positive, size=enhanced.shape[-2:], mode="bilinear", align_corners=False)
        return F.mse_loss(gaussian_blur(enhanced, self.sigma), gaussian_blur(positive, self.sigma))


NEIGHBOUR_OFFSETS = tuple((dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if (dy, dx) != (0, 0))


def shifted_difference(x: Tensor, dy: int, dx: int) -> Tensor:
    """x(p + (dy, dx)) - x(p) over the pixels where both exist: (B, C, H - |dy|, W - |dx|)."""
    height, width = x.shape[-2:]
    a = x[..., max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)]
    b = x[..., max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)]
    return a - b


class SmoothLoss(nn.Module):
    """Eq. 7: edge-aware smoothness of the illumination over K = 24 neighbour directions (offsets 1 and 2).

    w_k(p) = exp(-sum_c (grad_k S_c(p))^2 / (2 sigma^2)) from the low-light input S (sigma 0.1, per pixel);
    loss = mean over k of mean_p w_k(p) * sum_c |grad_k I_c(p)|. ``over_directions="sum"`` sums the 24 terms
    instead (SCI's released training code, with sigma 10: weights within 2 % of 1, a plain 24-direction TV).
    """

    def __init__(self, sigma: float = 0.1, over_directions: str = "mean"):
        super().__init__()
        if over_directions not in ("mean", "sum"):
            raise ValueError(f"over_directions must be 'mean' or 'sum', got {over_directions!r}")
        self.sigma, self.over_directions = sigma, over_directions

    def forward(self, illumination: Tensor, low: Tensor) -> Tensor:
        """illumination, low: (B, 3, H, W)."""
        terms = []
        for dy, dx in NEIGHBOUR_OFFSETS:
            grad_input = shifted_difference(low, dy, dx)
            weight = torch.exp(-grad_input.pow(2).sum(1) / (2 * self.sigma**2))
            terms.append((weight * shifted_difference(illumination, dy, dx).abs().sum(1)).mean())
        return torch.stack(terms).sum() if self.over_directions == "sum" else torch.stack(terms).mean()


class DetailLoss(nn.Module):
    """L1 distance of the fine detail (the image minus its Gaussian blur of ``sigma`` pixels) of the enhanced
    image to that of the clean one. (B, 3, H, W) pairs in [0, 1] -> scalar.

    Beyond the paper, for paired data: a plain L1 to a reference of another exposure is dominated by the
    brightness difference, whose gradient has one sign over whole regions, and its high-pass - all that reaches a
    denoiser whose residual is high-passed - is then near zero (measured: restore students trained by L1 alone
    removed almost no noise). The detail difference is what the denoiser alone can fix.
    """

    def __init__(self, sigma: float = 2.0):
        super().__init__()
        self.sigma = sigma

    def forward(self, enhanced: Tensor, clean: Tensor) -> Tensor:
        detail = enhanced - gaussian_blur(enhanced, self.sigma)
        return (detail - (clean - gaussian_blur(clean, self.sigma))).abs().mean()


class ContrastLoss(nn.Module):
    """Per image, the L1 distance between the enhanced image's and the clean one's contrast (std / mean of the luma)
    and colourfulness (mean chroma magnitude / mean luma), both after a Gaussian blur of ``sigma`` pixels (so that
    noise left in the output does not count as contrast). (B, 3, H, W) pairs in [0, 1] -> scalar.

    Beyond the paper, for paired data. Per-pixel losses under noise settle for the mean, and the mean is flat:
    ``lowface-restore-real``'s outputs have ~0.8 of their SICE references' contrast and chroma, and a global x1.2
    stretch raises its matched PSNR on SICE val by 0.7 dB (benchmarks/results/wild_diagnosis). Two numbers per image
    are well determined even where the pixels are not. Both are ratios to the mean luma: the term does not care about
    exposure (a reference of another brightness needs no matching).
    """

    def __init__(self, sigma: float = 2.0, eps: float = 1e-3):
        super().__init__()
        self.sigma, self.eps = sigma, eps

    def statistics(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> (B, 2): blurred luma std / mean and mean chroma magnitude / mean luma."""
        blurred = gaussian_blur(x, self.sigma)
        y = luma(blurred)
        mean = y.mean((1, 2, 3)).clamp_min(self.eps)
        chroma = (blurred - y).square().sum(1).add(1e-8).sqrt().mean((1, 2))
        return torch.stack([y.std((1, 2, 3)) / mean, chroma / mean], 1)

    def forward(self, enhanced: Tensor, clean: Tensor) -> Tensor:
        return (self.statistics(enhanced) - self.statistics(clean)).abs().sum(1).mean()


class LabColourLoss(nn.Module):
    """Mean CIELAB colour difference (CIE 1976 Delta E*ab) between the enhanced image scaled to the clean one's mean
    luma (per image, the gradient flowing through the scale) and the clean image, both Gaussian-blurred by ``sigma``
    pixels. (B, 3, H, W) pairs in [0, 1] -> scalar in Delta E units (about 1 is just visible).

    Beyond the paper, for paired data: the colour and local tone that the benchmark's brightness-matched CIEDE2000
    scores, in a space where a hue error in a dark green (foliage drifting to beige) costs what it looks like rather
    than the few hundredths an RGB L1 gives it. The blur keeps pixel noise out, the brightness match leaves exposure
    to the other terms, and ``eps`` (Charbonnier) keeps the gradient finite where the colours agree.
    ``lightness`` False: a* and b* only (hue and saturation), the local tone left to the other terms too.
    The loss is invariant to the enhanced image's scale, and so is its gradient's: it has no component along the
    image. With the scale detached (until 2026-12-04) it had one (a* and b* grow with L*): towards darker outputs
    where the output's colours are stronger than the reference's, brighter where weaker. It outweighed the L1 term
    and dimmed lowface-fast within 250 steps of fine-tuning.
    """

    def __init__(self, sigma: float = 1.0, eps: float = 0.1, lightness: bool = True):
        super().__init__()
        self.sigma, self.eps, self.channels = sigma, eps, slice(0 if lightness else 1, 3)

    def forward(self, enhanced: Tensor, clean: Tensor) -> Tensor:
        gain = luma(clean).mean((1, 2, 3), keepdim=True) / luma(enhanced).mean((1, 2, 3), keepdim=True).clamp_min(1e-3)
        matched = gaussian_blur(enhanced * gain, self.sigma)
        difference = (rgb_to_lab(matched) - rgb_to_lab(gaussian_blur(clean, self.sigma)))[:, self.channels]
        return difference.square().sum(1).add(self.eps**2).sqrt().mean().to(enhanced.dtype)
