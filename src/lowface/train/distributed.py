"""Data-parallel setup under torchrun: the process group, rank-0-first caches, decisions every process shares,
and a clean teardown. One process alone (no torchrun) is rank 0 of a world of 1 and never communicates."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import torch
from torch import distributed as dist

T = TypeVar("T")


def init_distributed() -> tuple[int, int]:
    """(rank, world size): from torchrun's environment, initialising the process group once; (0, 1) alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def rank0_first(rank: int, world: int, compute: Callable[[], T]) -> T:
    """Run a cached computation on rank 0 first, then on the others (which then read the cache)."""
    if world > 1 and rank != 0:
        dist.barrier()
        return compute()
    result = compute()
    if world > 1:
        dist.barrier()
    return result


def any_process(flag: bool, world: int) -> bool:
    """True on every process when ``flag`` is true on any (e.g. out of time: stop together)."""
    value = torch.tensor([float(flag)])
    if world > 1:
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def all_processes(flag: bool, world: int, device: torch.device) -> bool:
    """True on every process when ``flag`` is true on all (e.g. a finite loss: skip the same steps)."""
    value = torch.tensor([float(flag)], device=device)
    if world > 1:
        dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


def mean_over_processes(values: torch.Tensor, world: int) -> torch.Tensor:
    """The mean of ``values`` over the processes (itself alone)."""
    if world > 1:
        dist.all_reduce(values)
        values = values / world
    return values


@contextmanager
def process_group() -> Iterator[None]:
    """Under torchrun the processes wait for each other at the end (rank 0 writes last) and then tear the group
    down, so that no communication thread outlives the interpreter."""
    try:
        yield
        if dist.is_initialized():
            dist.barrier()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
