"""The protocol every enhancer follows, so that inference, tiling and export need no guessing.

An :class:`EnhancementModel` maps (B, 3, H, W) RGB in [0, 1] to its output: a tensor of the same shape, or a
named tuple with an ``image`` field (a Retinex pair's reflectance, a curve model's image) beside what training
needs. :meth:`EnhancementModel.enhance` gives the image either way. Three class attributes tell inference how the
model may be tiled:

- ``receptive_radius``: pixels of context each output pixel depends on; None for models with global statistics
  (histogram equalisation, LIME, RetinexNet's whole-image illumination), which always see the whole image;
- ``size_multiple``: tile origins must be multiples of it (the model's total downsampling);
- ``default_tile``: the tile side used when the caller gives none; None means whole images;
- ``whole_side``: without a tile from the caller, images whose long side is at most this run in one piece even
  above ``default_tile`` (None: no such exception) - where the tiles' halos cost more than the memory they save.

A model whose work depends on the image's size (the fast enhancers estimate their illumination at a downsampling
that grows with the image, :meth:`lowface.models.FastEnhanceNet.working_scale`) gives its radius and multiple for a
size through :meth:`EnhancementModel.tiling`, and reads the whole image's size inside :func:`whole_image` - so that
every tile of a large image is processed as the whole image would be.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from torch import Tensor, nn

DEFAULT_TILE = 1024

_WHOLE_IMAGE: ContextVar[tuple[int, int] | None] = ContextVar("lowface_whole_image", default=None)


@contextlib.contextmanager
def whole_image(height: int, width: int) -> Iterator[None]:
    """Within the block, models see (``height``, ``width``) as the size of the image they work on, whatever the
    size of the tile in their hands (per thread and task: a context variable)."""
    token = _WHOLE_IMAGE.set((int(height), int(width)))
    try:
        yield
    finally:
        _WHOLE_IMAGE.reset(token)


def whole_image_size(height: int, width: int) -> tuple[int, int]:
    """The size that :func:`whole_image` set, else (``height``, ``width``): the input's own."""
    return _WHOLE_IMAGE.get() or (height, width)


def output_image(output: Tensor | Any) -> Tensor:
    """The image of a model's output: the tensor itself, or the output's ``image`` field."""
    return output if isinstance(output, Tensor) else output.image


class EnhancementModel(nn.Module):
    """Base of every registered enhancer (``lowface.registry.MODELS``); see the module docstring."""

    receptive_radius: int | None = None
    size_multiple: int = 1
    default_tile: int | None = DEFAULT_TILE
    whole_side: int | None = None

    def enhance(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> the enhanced image, same shape."""
        return output_image(self(x))

    def tiling(self, height: int, width: int) -> tuple[int | None, int]:
        """(receptive radius, size multiple) of the model on a whole image of this size: the class attributes,
        unless the model's work depends on the size."""
        return self.receptive_radius, self.size_multiple


class ModuleAdapter(EnhancementModel):
    """A user's plain ``nn.Module`` seen through the protocol: its ``receptive_radius``, ``size_multiple`` and
    ``default_tile`` attributes when it has them (without a receptive radius it is never tiled), and as its image
    the output tensor, the output's ``image`` field, or the first field of an output tuple."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        self.receptive_radius = getattr(module, "receptive_radius", None)
        self.size_multiple = getattr(module, "size_multiple", 1)
        self.default_tile = getattr(module, "default_tile", DEFAULT_TILE)

    def forward(self, x: Tensor) -> Any:
        return self.module(x)

    def enhance(self, x: Tensor) -> Tensor:
        output = self.module(x)
        if isinstance(output, Tensor) or hasattr(output, "image"):
            return output_image(output)
        if isinstance(output, tuple | list) and output and isinstance(output[0], Tensor):
            return output[0]
        raise TypeError(f"{type(self.module).__name__} returned {type(output).__name__}; expected a tensor, an "
                        "output with an 'image' field, or a tuple whose first field is the image")  # fmt: skip


def as_enhancement_model(module: nn.Module) -> EnhancementModel:
    """``module`` itself when it follows the protocol, else wrapped in a :class:`ModuleAdapter`."""
    return module if isinstance(module, EnhancementModel) else ModuleAdapter(module)
