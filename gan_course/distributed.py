"""Training beyond one process: the package's step functions under ``torchrun``.

One process per GPU (or per CPU group, with the ``gloo`` backend), each holding a full copy of
the players. A global batch of ``B`` rows is split into ``B / world_size`` rows per process;
after each backward pass the gradients of the player being updated are averaged over the
processes (one all-reduce of one flat buffer), so every process takes the same optimiser step
as one process with the whole batch would. This is the reduction that
``torch.nn.parallel.DistributedDataParallel`` performs. The package applies it in the one
place where every step function updates a player (``train._update``) rather than wrapping the
players in DDP, because a GAN step calls D three times per iteration (on real images, on
detached fakes, and frozen inside G's update): DDP's reducer expects each forward pass of a
wrapped module to be followed by a backward pass through all of its parameters, which the
frozen pass is not.

Batch normalisation computes its statistics over the rows it sees: per process here. On CUDA
:meth:`Context.prepare` converts it to ``torch.nn.SyncBatchNorm`` (statistics over the global
batch); on the CPU SyncBatchNorm is not available, and ``prepare`` refuses batch-norm players
when there is more than one process. Instance and layer norm (CycleGAN, StarGAN) are per
sample and need nothing.

Typical use (see :mod:`gan_course.experiments` for the command line)::

    ctx = distributed.init()                         # reads RANK, WORLD_SIZE, LOCAL_RANK
    G, D = ctx.prepare(G, D)                         # same initial weights everywhere
    real = ctx.batches(images, 64, rng=torch.Generator().manual_seed(1))
    noise = ctx.noise(lambda n: torch.randn(n, 100, generator=noise_rng))
    with ctx.average_gradients():
        train.fit(lambda: train.gan_step(G, D, opt_g, opt_d, real, noise), steps,
                  progress=ctx.is_main, checkpoint=ctx.checkpoint(path, every=500, G=G, ...))
    ctx.close()
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from . import train


@dataclass
class Context:
    """Where this process stands: ``rank`` of ``world_size`` processes, its ``device``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """True on the process that logs and saves (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def prepare(self, *players: nn.Module) -> list[nn.Module]:
        """Move the players to this process's device and give every process rank 0's weights;
        batch norm becomes SyncBatchNorm on CUDA (and is refused on the CPU with several
        processes)."""
        out = []
        for player in players:
            has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in player.modules())
            if has_bn and self.distributed:
                if self.device.type != "cuda":
                    raise ValueError(
                        f"{type(player).__name__} has batch normalisation, whose statistics would be taken per "
                        "process: on the CPU (gloo) there is no SyncBatchNorm. Use norm='none', 'instance' or "
                        "'layer', or one process")
                player = nn.SyncBatchNorm.convert_sync_batchnorm(player)
            player = player.to(self.device)
            if self.distributed:
                for tensor in [*player.parameters(), *player.buffers()]:
                    dist.broadcast(tensor.data, src=0)
            out.append(player)
        return out

    def batches(self, data, batch_size: int, *, rng: torch.Generator | None = None) -> "ShardedBatches":
        """Batches of ``batch_size`` rows in all, ``batch_size / world_size`` on this process.

        Every process draws the same shuffled global batch (``rng`` seeded alike everywhere)
        and keeps its own slice of it, so the processes together see exactly the batches of a
        single process."""
        if batch_size % self.world_size:
            raise ValueError(f"the global batch of {batch_size} rows does not split evenly over "
                             f"{self.world_size} processes")
        return ShardedBatches(train.batches(data, batch_size, rng=rng), self.rank, self.world_size, self.device)

    def noise(self, noise_fn):
        """``noise_fn`` (n -> a batch of z) for this process: the global draw of
        ``n * world_size`` rows, this process's slice (the same z as one process would use)."""
        def draw(n: int) -> torch.Tensor:
            return noise_fn(n * self.world_size)[self.rank * n:(self.rank + 1) * n].to(self.device)
        return draw

    @contextlib.contextmanager
    def average_gradients(self):
        """Inside, every optimiser step of the package's step functions uses the gradients
        averaged over the processes."""
        previous = train._gradient_sync
        train._gradient_sync = self._all_reduce if self.distributed else None
        try:
            yield self
        finally:
            train._gradient_sync = previous

    def _all_reduce(self, players) -> None:
        grads = [p.grad for m in players for p in m.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def checkpoint(self, path, *, every: int, **state) -> "train.Checkpoint":
        """A :class:`~gan_course.train.Checkpoint` that every process reads and only rank 0 writes."""
        return _SharedCheckpoint(path, every=every, is_main=self.is_main, **state)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


class ShardedBatches:
    """This process's slice of each global batch (see :meth:`Context.batches`)."""

    def __init__(self, inner: train.Batches, rank: int, world_size: int, device: torch.device):
        self.inner, self.rank, self.world_size, self.device = inner, rank, world_size, device

    def __iter__(self):
        return self

    def __next__(self):
        batch = next(self.inner)
        n = self.inner.batch_size // self.world_size
        part = slice(self.rank * n, (self.rank + 1) * n)
        if isinstance(batch, tuple):
            return tuple(t[part].to(self.device) for t in batch)
        return batch[part].to(self.device)

    def state_dict(self) -> dict:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state)


class _SharedCheckpoint(train.Checkpoint):
    def __init__(self, path, *, every: int, is_main: bool, **state):
        super().__init__(path, every=every, **state)
        self.is_main = is_main

    def save(self, step, history, schedulers) -> None:
        if self.is_main:
            super().save(step, history, schedulers)
        if dist.is_initialized():
            dist.barrier()          # no process reads the file while rank 0 writes it


def init(backend: str | None = None) -> Context:
    """Join the process group that ``torchrun`` describes (RANK, WORLD_SIZE, LOCAL_RANK, and
    MASTER_ADDR/PORT); a plain ``python`` run is one process and needs no group.

    Backend: ``nccl`` with CUDA, ``gloo`` otherwise. Each process uses GPU ``LOCAL_RANK``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if device.type == "cuda" else "gloo"))
    return Context(rank=rank, world_size=world, local_rank=local, device=device)
