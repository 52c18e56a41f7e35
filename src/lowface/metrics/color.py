"""Colour difference: CIEDE2000 (Sharma, Wu and Dalal, Color Res. Appl. 30(1), 2005) between sRGB images,
and brightness matching for exposure-independent comparisons.

sRGB -> CIELAB by ``lowface.filters.rgb_to_lab``; kL = kC = kH = 1. Lower is better; a
difference of about 1 is at the threshold of what people see, 2-10 is visible at a glance.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lowface.filters import luma, rgb_to_lab
from lowface.metrics.catalogue import register_metric


def delta_e2000(lab1: Tensor, lab2: Tensor) -> Tensor:
    """(B, 3, ...) CIELAB pair -> (B, ...) CIEDE2000 colour difference per pixel."""
    l1, a1, b1 = lab1.unbind(1)
    l2, a2, b2 = lab2.unbind(1)
    c_mean = (torch.hypot(a1, b1) + torch.hypot(a2, b2)) / 2
    g = 0.5 * (1 - torch.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = torch.hypot(a1p, b1), torch.hypot(a2p, b2)
    h1p = torch.atan2(b1, a1p) % (2 * math.pi)
    h2p = torch.atan2(b2, a2p) % (2 * math.pi)
    h1p = torch.where(c1p == 0, torch.zeros_like(h1p), h1p)
    h2p = torch.where(c2p == 0, torch.zeros_like(h2p), h2p)

    dl = l2 - l1
    dc = c2p - c1p
    dh = h2p - h1p
    dh = torch.where(dh > math.pi, dh - 2 * math.pi, torch.where(dh < -math.pi, dh + 2 * math.pi, dh))
    dh = torch.where(c1p * c2p == 0, torch.zeros_like(dh), dh)
    dhh = 2 * torch.sqrt(c1p * c2p) * torch.sin(dh / 2)

    l_mean = (l1 + l2) / 2
    cp_mean = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_mean = torch.where(
        (h1p - h2p).abs() <= math.pi,
        h_sum / 2,
        torch.where(h_sum < 2 * math.pi, (h_sum + 2 * math.pi) / 2, (h_sum - 2 * math.pi) / 2),
    )
    h_mean = torch.where(c1p * c2p == 0, h_sum, h_mean)
    t = (
        1
        - 0.17 * torch.cos(h_mean - math.radians(30))
        + 0.24 * torch.cos(2 * h_mean)
        + 0.32 * torch.cos(3 * h_mean + math.radians(6))
        - 0.20 * torch.cos(4 * h_mean - math.radians(63))
    )
    d_theta = math.radians(30) * torch.exp(-(((torch.rad2deg(h_mean) - 275) / 25) ** 2))
    r_c = 2 * torch.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / torch.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * cp_mean
    s_h = 1 + 0.015 * cp_mean * t
    r_t = -torch.sin(2 * d_theta) * r_c
    return torch.sqrt((dl / s_l) ** 2 + (dc / s_c) ** 2 + (dhh / s_h) ** 2 + r_t * (dc / s_c) * (dhh / s_h))


@register_metric("ciede2000", "ΔE00", higher_is_better=False)
def ciede2000(x: Tensor, y: Tensor) -> Tensor:
    """(B, 3, H, W) sRGB pair in [0, 1] -> (B,) mean CIEDE2000 over pixels (float32)."""
    return delta_e2000(rgb_to_lab(x), rgb_to_lab(y)).flatten(1).mean(1).float()


def match_brightness(x: Tensor, reference: Tensor) -> Tensor:
    """(B, 3, H, W) images scaled so that each one's mean luma equals its reference's, clipped to [0, 1].

    The "GT-mean" comparison of low-light benchmarks: the reference's exposure is a photographer's choice, so
    fidelity after this matching measures structure and colour rather than the chosen brightness.
    """
    mean_x = luma(x).flatten(1).mean(1)
    mean_ref = luma(reference).flatten(1).mean(1)
    scale = mean_ref / mean_x.clamp(min=1e-6)
    return (x * scale.view(-1, 1, 1, 1)).clamp(0, 1)
