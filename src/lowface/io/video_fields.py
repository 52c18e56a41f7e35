"""Interlaced video (camcorders' 1080i, analogue CCTV recorders' 576i / 480i, broadcast captures): frames flagged
interlaced are deinterlaced before the network sees them, because the output is progressive and a network run on
woven fields takes their combing for texture and noise (a moving edge becomes a comb of alternate lines that the
brightening makes stand out).

FFmpeg's ``bwdif`` (Bob Weaver: each missing line interpolated from its field with motion-adaptive help from the
neighbouring fields) in one-frame-per-frame mode, only on frames flagged interlaced: the output has the source's
frames and timestamps, progressive frames pass unchanged. It looks one frame ahead, so frames leave one item late;
packets of other streams keep their place among the frames.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import Any

import av

FRAME_KINDS = ("frame", "warmup")


def _deinterlacer(first: av.VideoFrame) -> av.filter.Graph:
    graph = av.filter.Graph()
    source = graph.add_buffer(width=first.width, height=first.height, format=first.format.name,
                              time_base=first.time_base)  # fmt: skip
    fields = graph.add("bwdif", "mode=send_frame:parity=auto:deint=interlaced")
    sink = graph.add("buffersink")
    source.link_to(fields)
    fields.link_to(sink)
    graph.configure()
    return graph


def _released(graph: av.filter.Graph, waiting: collections.deque) -> Iterator[tuple[str, Any]]:
    """Every frame the deinterlacer has ready, each in its source frame's place and with its timestamp (bwdif
    counts time in fields), after the items that waited before that source frame."""
    while True:
        try:
            progressive = graph.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return
        while waiting[0][0] not in FRAME_KINDS:
            yield waiting.popleft()
        kind, source = waiting.popleft()
        progressive.pts, progressive.time_base = source.pts, source.time_base
        yield kind, progressive


def deinterlaced(items: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """Items (("frame" | "warmup", VideoFrame) or (kind, anything else)) in order, each frame flagged interlaced
    replaced by its deinterlaced version; a stream with no interlaced frame passes through untouched."""
    graph, waiting = None, collections.deque()
    for kind, value in items:
        if graph is None and kind in FRAME_KINDS and value.interlaced_frame:
            graph = _deinterlacer(value)
        if graph is None:
            yield kind, value
            continue
        waiting.append((kind, value))
        if kind in FRAME_KINDS:
            graph.push(value)
            yield from _released(graph, waiting)
    if graph is not None:
        graph.push(None)
        yield from _released(graph, waiting)
        yield from waiting
