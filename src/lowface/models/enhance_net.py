"""Low-FaceNet's Retinex Enhance-Net (paper III-A) and a fast variant for video-rate use.

Both estimate an illumination map I and return the reflectance R = S / I as the enhanced image (Retinex
model S = R * I, pixel-wise). They always return a :class:`Retinex` pair; callers that only want the image
take ``.reflectance``.

The module runs past 300 lines because the fast variant's illumination settings (the context clip, the surround
estimate, the power, the colour share) are each documented beside the code that applies them, with why they exist.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from lowface.filters import area_downsample, gaussian_blur, luma, plain_inference, row_bands
from lowface.models.base import EnhancementModel, whole_image_size
from lowface.models.fused import activated_convolution, fused_convolution, fused_convolutions_can_run
from lowface.models.guided_filter import LOG_OFFSET, FastGuidedUpsampler, GuideDomain, upsample_bilinear_rows
from lowface.models.int8 import int8_can_run
from lowface.models.int8_aware import ActivationQuantiser, Int8Aware, simulated_estimator
from lowface.models.int8_estimator import Int8Estimator
from lowface.models.precision import exact_int8_sums, int8_convolutions, reduced_dtype, reduced_precision
from lowface.registry import MODELS

ILLUMINATION_FLOOR = 1e-4


class Retinex(NamedTuple):
    """Output of a Retinex enhancer: both (B, 3, H, W), values in [0, 1]."""

    reflectance: Tensor
    illumination: Tensor

    @property
    def image(self) -> Tensor:
        """The enhanced image: the reflectance."""
        return self.reflectance


def clamp_passing_gradient(x: Tensor, low: float, high: float) -> Tensor:
    """clamp(x, low, high) in the forward pass; identity gradient in the backward pass (straight-through).

    A plain clamp has zero gradient outside [low, high]: once a channel of I = S + head crosses 1 during
    training it can never come back (we saw whole colour channels die that way and tint every output).
    In plain inference (:func:`lowface.filters.plain_inference`) it is the plain clamp, a third the cost.
    """
    if plain_inference():
        return x.clamp(low, high)
    return x + (x.clamp(low, high) - x).detach()


def retinex_divide(image: Tensor, illumination: Tensor) -> Retinex:
    """Clamp I to [1e-4, 1] and return R = clamp(S / I, 0, 1) together with that I.

    Forward values are exactly the paper's; the clamps let gradients through (see clamp_passing_gradient).
    """
    illumination = clamp_passing_gradient(illumination, ILLUMINATION_FLOOR, 1.0)
    return Retinex(clamp_passing_gradient(image / illumination, 0.0, 1.0), illumination)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class IlluminationEstimator(Int8Aware, nn.Module):
    """The Enhance-Net trunk: six 3x3 convs with two skip concatenations, then a 5-conv sigmoid head.

    Maps (B, 3, H, W) in [0, 1] to a non-negative illumination residual (B, 3, H, W) in [0, 1] at the same
    resolution. ``width`` is 64 in the paper; ``head_widths`` (128, 128, 64, 16) likewise.

    ``int8_aware``: an :class:`~lowface.models.int8_aware.ActivationQuantiser` for the context and for every map a
    convolution writes but the last (``quantisers``, keyed ``input``, ``conv1`` .. ``conv6``, ``head0`` ..
    ``head3``). In training, or while the quantisers alone are in training mode (calibration), the estimator runs as
    the int8 runtime computes it (:func:`lowface.models.int8_aware.simulated_estimator`; the ranges are tracked); in
    plain inference under ``conv_precision(torch.int8)`` a calibrated estimator runs
    :class:`lowface.models.int8_estimator.Int8Estimator`, and other precisions ignore the ranges.
    """

    QUANTISED_MAPS = ("input", "conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "head0", "head1", "head2", "head3")

    def __init__(self, width: int = 64, head_widths: tuple[int, int, int, int] = (128, 128, 64, 16),
                 int8_aware: bool = False):  # fmt: skip
        super().__init__()
        self.conv1 = _conv(3, width)
        self.conv2 = _conv(width, width)
        self.conv3 = _conv(width, width)
        self.conv4 = _conv(2 * width, width)
        self.conv5 = _conv(2 * width, width)
        self.conv6 = _conv(width, 3)
        h1, h2, h3, h4 = head_widths
        self.head = nn.Sequential(
            _conv(3, h1), _conv(h1, h2), nn.ReLU(), _conv(h2, h3), _conv(h3, h4), _conv(h4, 3), nn.Sigmoid()
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, 0.0, 0.02)
                nn.init.zeros_(module.bias)
        quantisers = {name: ActivationQuantiser() for name in self.QUANTISED_MAPS}
        self.quantisers = nn.ModuleDict(quantisers) if int8_aware else None

    # Eleven 3x3 convolutions in sequence: an output pixel sees 11 pixels in every direction.
    receptive_radius = 11

    def forward(self, x: Tensor) -> Tensor:
        if self.quantising():
            return simulated_estimator(self, x)
        if self.runs_int8(x):
            return self.int8_runtime()(x)
        # each convolution with the activation after it: one oneDNN kernel where it can run (plain inference on CPUs:
        # the separate ReLU passes were a third of the estimator's time at 1/4 of 1080p), else the modules
        convolve = fused_convolution if fused_convolutions_can_run(x) else activated_convolution
        relu = nn.ReLU()
        x1 = convolve(self.conv1, x, relu)
        x2 = convolve(self.conv2, x1, relu)
        x3 = convolve(self.conv3, x2, relu)
        x4 = convolve(self.conv4, torch.cat([x2, x3], 1), relu)
        x5 = convolve(self.conv5, torch.cat([x1, x4], 1), relu)
        x = convolve(self.conv6, x5, relu)
        layers = list(self.head)
        for layer, following in zip(layers, [*layers[1:], None], strict=True):  # conv, conv, ReLU, ... Sigmoid
            if isinstance(layer, nn.Conv2d):
                x = convolve(layer, x, following if isinstance(following, nn.ReLU | nn.Sigmoid) else None)
        return x

    def convolutions(self) -> dict[str, tuple[nn.Conv2d, bool]]:
        """Each convolution, in order, by its map's name (``conv1`` .. ``conv6``, ``head0`` .. ``head4``), with whether
        a ReLU follows it (the head's last is followed by the sigmoid, the others by a ReLU or nothing)."""
        trunk = {f"conv{i}": (getattr(self, f"conv{i}"), True) for i in range(1, 7)}
        layers = list(self.head)
        followed = zip(layers, [*layers[1:], None], strict=True)
        head = [(layer, isinstance(after, nn.ReLU)) for layer, after in followed if isinstance(layer, nn.Conv2d)]
        return {**trunk, **{f"head{i}": pair for i, pair in enumerate(head)}}

    def runs_int8(self, x: Tensor) -> bool:
        """Whether the estimator runs ``x`` in int8: plain inference under ``conv_precision(torch.int8)``, calibrated,
        on a CPU that can (:func:`lowface.models.int8.int8_can_run`) and sums int8 products exactly
        (:func:`lowface.models.precision.exact_int8_sums`: elsewhere it runs in the float precision beside int8)."""
        return (plain_inference() and int8_convolutions() and self.calibrated() and int8_can_run(x)
                and exact_int8_sums())  # fmt: skip

    def int8_runtime(self) -> Int8Estimator:
        """:class:`lowface.models.int8_estimator.Int8Estimator` on this estimator's weights and ranges, built once for
        them (again after any of them changes)."""
        return self.cached_runtime(self, lambda: Int8Estimator(self))


@MODELS.register("enhance_net")
class EnhanceNet(EnhancementModel):
    """Low-FaceNet's Enhance-Net at full resolution, exactly as in the paper and SPEC section 1.

    Illumination I = clamp(x + head(x), 1e-4, 1), output R = clamp(x / I, 0, 1). The head is non-negative, so
    I >= x and the network only brightens (a property of the published design, kept on purpose).
    No down-sampling: tiled inference with a halo of ``receptive_radius`` pixels is exact.

    Example:
        >>> net = EnhanceNet()
        >>> out = net(torch.rand(1, 3, 32, 32))
        >>> out.reflectance.shape
        torch.Size([1, 3, 32, 32])
    """

    receptive_radius = IlluminationEstimator.receptive_radius
    size_multiple = 1
    default_tile = 1024  # ~1 MP per tile keeps inference memory around 1-2 GB

    def __init__(self, width: int = 64):
        super().__init__()
        self.estimator = IlluminationEstimator(width, (2 * width, 2 * width, width, width // 4))

    def forward(self, x: Tensor) -> Retinex:
        """x: (B, 3, H, W) in [0, 1] -> Retinex(reflectance, illumination), both (B, 3, H, W)."""
        return retinex_divide(x, x + self.estimator(x))


@MODELS.register("fast_enhance_net")
class FastEnhanceNet(EnhancementModel):
    """A cheap Enhance-Net: estimate the illumination at 1/``scale`` resolution, upsample it edge-aware.

    The same residual illumination estimator (narrower) runs on the area-downsampled input; the low-resolution
    illumination is lifted to full resolution by a per-channel fast guided filter whose guide is the input
    channel itself (He & Sun 2015; trainable end to end as in Wu et al. 2018). The Retinex division happens at
    full resolution, so fine detail comes from the input, not from the upsampler. Costs about 1/60 of
    :class:`EnhanceNet` per pixel with the defaults. Tiling is exact with a halo of ``receptive_radius``
    pixels when tiles start on multiples of ``scale``.

    ``guide="log"`` (default) fits the upsampler in the log domain (a local power law, no halo around light
    sources; see :class:`FastGuidedUpsampler`), with ``guide_eps`` 0.01 unless given; ``guide="linear"`` is
    the earlier affine fit (``guide_eps`` 1e-3), which draws dark rings around lamps in night scenes.

    ``context_clip`` k (None: off, the design until 2026-12-01): the estimator sees the low-resolution input clipped at
    k times its local geometric mean (a Gaussian of ``context_sigma`` low-resolution pixels over log luma), while the
    illumination is still added to, and the division done on, the true input. A CNN spreads what it sees over its
    receptive field: without the clip a lamp in a dark sky raises the illumination estimated for the sky round it
    and the division darkens a ring there (issue 20); with it, a lamp is no brighter to the estimator than k times
    its surroundings, and a lit region larger than the Gaussian raises its own local mean and stays as it is.

    ``surround_clip`` k (None: off, the design until 2026-12-06; needs ``context_clip``): a lamp larger than the
    Gaussian raises its own geometric mean, so the context clip leaves it bright, and the CNN still spreads it into
    the dark round it (LIME 9's pendant lamp: a ring about 25 px wide). With ``surround_clip`` the estimator runs a
    second time, on the low-resolution input with its lights (luma over ``SURROUND_LIGHT``) clipped at k times a soft
    minimum of their surroundings (the same Gaussian over log luma, each pixel weighted by 1 / luma, so that a lamp
    counts for little against the dark round it). That second estimate is taken for the pixels at or below k times
    the soft minimum (the dark round a light), the first for those above it (the lamp itself, a lit face), blended
    over ``SURROUND_BLEND`` natural-log units. Without lights both contexts are the same and so are the estimates.
    The same reach as the context clip, so the tiling halo is unchanged; the estimator's work up to doubles (a batch
    of two; in plain inference only where the contexts differ).

    ``illumination_power`` p (None: off, the design until 2026-12-02) and ``illumination_pivot`` c: the estimated
    illumination I becomes max(I, c^(1-p) I^p), so a region lit below c is divided by c (I / c)^p instead of I - its
    gain taken back as a power of its darkness (LIME's I^gamma, with a pivot) - and one lit above c is left as it is.
    Full compensation flattens a scene: a dark night sky comes out as bright as the street under the lamps (a grey
    veil), and what the real references keep of the light's layout is gone (issue 20). Pointwise on the
    low-resolution map, so no halo; at full resolution it is still I^p where no pivot bends it (the log-domain
    upsampler is linear in log I).

    ``illumination_chroma`` b (1: off, the design until 2026-12-03): the low-resolution illumination keeps this share
    of its colour, I -> g + b (I - g) with g its mean over the channels. A per-channel illumination is a local white
    balance: at b = 1 the division takes out the colour of whatever fills the estimator's window (skin, a sodium
    lamp's glow) along with the light's; b = 0 divides by a grey illumination and keeps the input's chromaticity.
    A convex mix of I and g, so it stays within I's bounds.

    ``scale`` is the downsampling as trained; a larger image is estimated at a larger one (:meth:`working_scale`),
    so that the estimator sees a scene at about the size it learnt scenes at.

    ``estimator_int8_aware``: the estimator's ``int8_aware`` (:class:`IlluminationEstimator`: 8-bit maps simulated in
    training and calibration; once calibrated, int8 convolutions under ``conv_precision(torch.int8)``).
    """

    USES_REDUCED_PRECISION = True  # the estimator, under conv_precision (lowface.models.precision)

    def __init__(
        self,
        scale: int = 4,
        width: int = 32,
        guide_radius: int = 2,
        guide_eps: float | None = None,
        guide: GuideDomain = "log",
        context_clip: float | None = None,
        context_sigma: float = 12.0,
        illumination_power: float | None = None,
        illumination_pivot: float = 1.0,
        illumination_chroma: float = 1.0,
        surround_clip: float | None = None,
        estimator_int8_aware: bool = False,
    ):
        super().__init__()
        if surround_clip and not context_clip:
            raise ValueError("surround_clip estimates the dark round a light beside the clipped context: it needs "
                             f"context_clip, got {context_clip}")  # fmt: skip
        if not 0.0 <= illumination_chroma <= 1.0:
            raise ValueError(
                f"illumination_chroma is a share of the illumination's colour in [0, 1], got {illumination_chroma}"
            )
        self.scale = scale
        self.illumination_power, self.illumination_pivot = illumination_power, illumination_pivot
        self.illumination_chroma = illumination_chroma
        head_widths = (2 * width, 2 * width, width, max(width // 4, 4))
        self.estimator = IlluminationEstimator(width, head_widths, estimator_int8_aware)
        eps = guide_eps if guide_eps is not None else {"log": 1e-2, "linear": 1e-3}.get(guide, 0.0)
        self.upsampler = FastGuidedUpsampler(guide_radius, eps, guide)
        self.context_clip, self.context_sigma, self.surround_clip = context_clip, context_sigma, surround_clip
        clip_radius = math.ceil(3 * context_sigma) if context_clip else 0
        # Estimator radius + the clip's blur + two box filters + one bilinear tap, in low-resolution pixels.
        self.low_radius = IlluminationEstimator.receptive_radius + clip_radius + 2 * guide_radius + 1
        self.receptive_radius = self.low_radius * scale
        self.size_multiple = scale
        self.default_tile = 2048

    # The short side, in low-resolution pixels, above which the downsampling doubles. The networks learnt scenes from
    # SICE's 512-pixel frames and LFW's 250-pixel crops (64-128 low-resolution pixels at their downsampling). SICE val
    # frames upscaled (benchmarks/results/working_scale/): `lowface-restore-real` (trained at 1/4) at 2.1x PSNR 18.39
    # at 1/4 (269 low-resolution pixels), 18.62 at 1/8 - native 18.62; `lowface-fast-tone` (trained at 1/8) at 4.2x
    # 18.31 at 1/8 (269), 18.25 at 1/16.
    ESTIMATOR_SIDE = 256

    def working_scale(self, height: int, width: int) -> int:
        """The downsampling at which the illumination of a (``height``, ``width``) image is estimated - of the whole
        image's size inside :func:`lowface.models.base.whole_image`: ``scale`` as trained, doubled while the image's
        short side exceeds ``ESTIMATOR_SIDE`` low-resolution pixels - but no further than an estimator's reach
        (``low_radius`` x scale) of a quarter of ``default_tile``: the tiles of a larger image carry that reach as
        their halo, and a halo the size of the tile computes the image several times over (4K through
        ``lowface-restore-real`` at 1/16: 2.5 s against 1.0 s in one piece). So ``lowface-restore-real`` (trained at
        1/4, its clipped context reaching 52 low-resolution pixels) runs at 1/4 up to a short side of 1024 and at 1/8
        above; ``lowface-fast`` (1/8, reach 16) at 1/8 up to 2048, 1/16 up to 4096 and 1/32 above. A graph being
        captured (tracing, ONNX export, torch.compile) keeps ``scale``: it could not change its downsampling with the
        input's size. (Training crops are far below the threshold.)"""
        scale = self.scale
        if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling():
            return scale
        side = min(whole_image_size(height, width))
        while side > self.ESTIMATOR_SIDE * scale and self.low_radius * scale * 2 <= self.default_tile // 4:
            scale *= 2
        return scale

    def tiling(self, height: int, width: int) -> tuple[int, int]:
        scale = self.working_scale(height, width)
        return self.low_radius * scale, scale

    def forward(self, x: Tensor) -> Retinex:
        """x: (B, 3, H, W) in [0, 1], any H, W -> Retinex(reflectance, illumination), both (B, 3, H, W)."""
        # ceil_mode pools the partial border cells over their in-image pixels only; no shape arithmetic, so
        # traced/exported graphs stay valid for every input size.
        scale = self.working_scale(*x.shape[-2:])
        low = area_downsample(x, scale)
        context = self.context(low)
        if self.surround_clip:
            residual = self._residual_with_surround(low, context)
        else:
            residual = self._residual(context, low.dtype)
        illumination_low = clamp_passing_gradient(low + residual, ILLUMINATION_FLOOR, 1.0)
        if self.illumination_power:
            power, pivot = self.illumination_power, self.illumination_pivot
            illumination_low = torch.maximum(illumination_low, pivot ** (1 - power) * illumination_low**power)
        if self.illumination_chroma != 1.0:
            grey = illumination_low.mean(1, keepdim=True)
            illumination_low = torch.lerp(grey, illumination_low, self.illumination_chroma)
        if plain_inference():
            return self._retinex_in_bands(x, low, illumination_low, scale)
        return retinex_divide(x, self.upsampler(low, illumination_low, x, scale))

    def _residual(self, context: Tensor, dtype: torch.dtype) -> Tensor:
        """The estimator on ``context`` (B, 3, h, w) -> residual illumination (B, 3, h, w) in ``dtype``."""
        if self.estimator.quantising() or self.estimator.runs_int8(context):  # from float32, no autocast
            return self.estimator(context).to(dtype)
        if context.device.type == "cpu" and plain_inference():  # oneDNN's native layout: 1.8x faster, 5x in bfloat16
            context = context.to(reduced_dtype() or context.dtype, memory_format=torch.channels_last)  # cast once, here
        with reduced_precision(context.device):
            return self.estimator(context).to(dtype)

    def _residual_with_surround(self, low: Tensor, context: Tensor) -> Tensor:
        """The residual on ``context`` where a pixel is lit, on :meth:`surround` where it is dark (``surround_clip``).
        In plain inference the second estimate runs only on the rectangle where the two contexts differ, widened by
        the estimator's reach (and by that again for its zero padding): elsewhere it would equal the first. The same
        values as the batch of two that training and captured graphs run."""
        surround, lit_share = self.surround(low, context)
        if not plain_inference():
            lit, dark = self._residual(torch.cat([context, surround]), low.dtype).chunk(2)
            return torch.lerp(dark, lit, lit_share)
        residual = self._residual(context, low.dtype)
        differs = (surround != context).any(1).any(0)  # (h, w)
        if not differs.any():
            return residual
        reach = IlluminationEstimator.receptive_radius
        height, width = differs.shape
        rows, columns = differs.any(1).nonzero()[:, 0], differs.any(0).nonzero()[:, 0]
        top, bottom = max(int(rows[0]) - reach, 0), min(int(rows[-1]) + 1 + reach, height)
        left, right = max(int(columns[0]) - reach, 0), min(int(columns[-1]) + 1 + reach, width)
        crop_top, crop_left = max(top - reach, 0), max(left - reach, 0)
        window = surround[..., crop_top : min(bottom + reach, height), crop_left : min(right + reach, width)]
        dark = self._residual(window, low.dtype)[
            ..., top - crop_top : bottom - crop_top, left - crop_left : right - crop_left
        ]
        lit = residual[..., top:bottom, left:right]
        lit.copy_(torch.lerp(dark, lit, lit_share[..., top:bottom, left:right]))
        return residual

    def context(self, low: Tensor) -> Tensor:
        """What the estimator sees: ``low`` (B, 3, h, w) in [0, 1], clipped at ``context_clip`` times its local
        geometric mean luma when that is set (see the class docstring)."""
        if not self.context_clip:
            return low
        level = torch.exp(gaussian_blur(torch.log(luma(low) + LOG_OFFSET), self.context_sigma))
        return torch.minimum(low, self.context_clip * level)

    # The luma over which a pixel goes from not clipped at all in the surround's context to clipped like a lamp: only
    # what is bright in itself is hidden from the dark round it (in a dark photo a face's dim background is no light)
    SURROUND_LIGHT = (0.1, 0.3)
    SURROUND_BLEND = 1.0  # natural-log units of luma above the surround's clip over which the first estimate takes over

    def surround(self, low: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        """What the estimator sees for the dark round a light (``surround_clip``, see the class docstring): ``low``
        (B, 3, h, w) in [0, 1] with its lights (``SURROUND_LIGHT``) clipped at ``surround_clip`` times the soft
        minimum of their surroundings, and as ``context`` (:meth:`context` of ``low``) elsewhere; and the share
        (B, 1, h, w) in [0, 1] of the first estimate (on ``context``) at each pixel: 0 at or below that clip level."""
        grey = luma(low)
        log_luma = torch.log(grey + LOG_OFFSET)
        weight = torch.exp(-log_luma)  # 1 / luma: in [1, 255]
        log_level = gaussian_blur(log_luma * weight, self.context_sigma) / gaussian_blur(weight, self.context_sigma)
        log_clip = log_level + math.log(self.surround_clip)
        lit_share = ((log_luma - log_clip) / self.SURROUND_BLEND).clamp(0.0, 1.0)
        start, end = self.SURROUND_LIGHT
        light = ((grey - start) / (end - start)).clamp(0.0, 1.0)  # only lights (bright in themselves) are clipped
        clipped = torch.lerp(low, torch.minimum(low, torch.exp(log_clip)), light)
        return torch.minimum(context, clipped), lit_share

    BAND_PIXELS = 262144  # full-resolution pixels per band in plain inference (136 rows of 1080p: 22 % faster there)

    def _retinex_in_bands(self, x: Tensor, low: Tensor, illumination_low: Tensor, scale: int) -> Retinex:
        """The full-resolution half of :meth:`forward` (upsampled guided-filter models, their application, the
        Retinex division and its clamps), a band of rows at a time: the same values, with each band's six
        coefficient maps and intermediates in cache instead of streaming whole frames through memory."""
        coefficients = self.upsampler.coefficients(low, illumination_low)
        illumination, reflectance = torch.empty_like(x), torch.empty_like(x)
        height, width = x.shape[-2:]
        for band in row_bands(height, width, self.BAND_PIXELS, scale):
            guide = x[..., band, :]
            models = upsample_bilinear_rows(coefficients, scale, band.start, guide.shape[-2])
            a_high, b_high = models[..., :width].chunk(2, 1)
            light = illumination[..., band, :]
            self.upsampler.apply_models(a_high, b_high, guide, out=light).clamp_(ILLUMINATION_FLOOR, 1.0)
            torch.div(guide, light, out=reflectance[..., band, :]).clamp_(0.0, 1.0)
        return Retinex(reflectance, illumination)
