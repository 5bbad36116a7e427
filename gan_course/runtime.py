"""Run-time set-up shared by every chapter: profile and budget, device, seeding,
mixed precision, provenance, and independent runs in worker processes (``map_processes``).

The profile decides how much work a notebook does (DESIGN.md, "Profiles and budgets"):

* ``smoke``: seconds per notebook; CI uses it to prove that every cell runs;
* ``cpu``: minutes per chapter on two CPU cores; the website's stored outputs;
* ``gpu``: full data and training length, e.g. on Colab.

It is read from the environment variable ``GAN_COURSE_PROFILE``; when unset it is
``gpu`` if CUDA is available and ``cpu`` otherwise.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

PROFILES = ("smoke", "cpu", "gpu")
PROFILE_VARIABLE = "GAN_COURSE_PROFILE"
DEVICE_VARIABLE = "GAN_COURSE_DEVICE"
STEP_CAP_VARIABLE = "GAN_COURSE_MAX_STEPS"

_START = time.perf_counter()


def _suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def profile() -> str:
    """The profile in force: ``$GAN_COURSE_PROFILE``, or ``gpu``/``cpu`` by CUDA availability."""
    name = os.environ.get(PROFILE_VARIABLE, "").strip().lower()
    if not name:
        return "gpu" if torch.cuda.is_available() else "cpu"
    if name not in PROFILES:
        raise ValueError(
            f"{PROFILE_VARIABLE}={os.environ[PROFILE_VARIABLE]!r} is not a profile; "
            f"accepted: {', '.join(PROFILES)} (or unset for automatic choice)."
            + _suggest(name, PROFILES)
        )
    return name


def budget(smoke=None, cpu=None, gpu=None, *, profile_name: str | None = None):
    """The amount of work for the profile in force, e.g. ``budget(smoke=20, cpu=3000, gpu=30000)``.

    Any value works (a step count, a data-set size, a tuple of sizes). Raises ``ValueError``
    when no value was given for the profile in force, rather than guessing one.
    """
    name = profile_name if profile_name is not None else profile()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; accepted: {', '.join(PROFILES)}." + _suggest(name, PROFILES))
    values = {"smoke": smoke, "cpu": cpu, "gpu": gpu}
    value = values[name]
    if value is None:
        given = ", ".join(f"{k}={v!r}" for k, v in values.items() if v is not None) or "nothing"
        raise ValueError(
            f"budget() has no value for the profile in force ({name!r}); it was given {given}. "
            f"Pass {name}=... as well."
        )
    return value


def step_cap() -> int | None:
    """``$GAN_COURSE_MAX_STEPS`` as an integer, or None when unset.

    Set it to run a profile's exact sizes (data, images, widths, batches) with only a few
    optimisation steps: ``GAN_COURSE_PROFILE=gpu GAN_COURSE_MAX_STEPS=2`` is a dry run of the
    ``gpu`` profile that fits on a CPU.
    """
    text = os.environ.get(STEP_CAP_VARIABLE, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{STEP_CAP_VARIABLE} must be a positive integer, got {text!r}")
    return int(text)


def steps(smoke=None, cpu=None, gpu=None, *, profile_name: str | None = None) -> int:
    """The number of optimisation steps for the profile in force, e.g. ``steps(smoke=20, cpu=3000, gpu=30000)``.

    Like :func:`budget`, but only for step counts (training iterations, epochs of a loop):
    ``$GAN_COURSE_MAX_STEPS`` caps the value, while sizes chosen with :func:`budget` stay as
    the profile sets them.
    """
    value = budget(smoke=smoke, cpu=cpu, gpu=gpu, profile_name=profile_name)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"steps() counts optimisation steps and needs a non-negative integer, got {value!r}; "
                         "use budget() for other amounts of work")
    cap = step_cap()
    return int(min(value, cap)) if cap is not None else int(value)


def device(prefer: str | None = None) -> torch.device:
    """Choose the device: ``prefer`` or ``$GAN_COURSE_DEVICE`` if set, else cuda, mps, cpu.

    Called explicitly by notebooks; the package never picks a device at import time.
    """
    wanted = prefer or os.environ.get(DEVICE_VARIABLE) or None
    if wanted:
        dev = torch.device(wanted)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {wanted!r} was asked for, but CUDA is not available on this machine.")
        if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise RuntimeError(f"device {wanted!r} was asked for, but Apple MPS is not available on this machine.")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices); return a CPU ``torch.Generator`` with that seed.

    ``seed``: an integer in 0 .. 2**64 - 1 (PyTorch's range). It is checked before anything is
    seeded, so a refused seed leaves every generator as it was.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer, got {seed!r} ({type(seed).__name__})")
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be between 0 and 2**64 - 1 (PyTorch's range), got {seed}")
    generator = torch.Generator().manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return generator


def autocast(dev: torch.device | str, enabled: bool = True, dtype: torch.dtype | None = None):
    """Mixed-precision context: bfloat16/float16 autocast on CUDA, a no-op elsewhere.

    Usage: ``with gc.autocast(dev): loss = ...``. On CPU (and MPS) it returns a null
    context, so the same code runs in float32 there.
    """
    dev = torch.device(dev)
    if not enabled or dev.type != "cuda":
        return contextlib.nullcontext()
    if dtype is None:
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def grad_scaler(dev: torch.device | str, enabled: bool = True) -> torch.amp.GradScaler:
    """A gradient scaler that is active only for float16 autocast on CUDA (no-op otherwise)."""
    dev = torch.device(dev)
    active = enabled and dev.type == "cuda" and not torch.cuda.is_bf16_supported()
    return torch.amp.GradScaler("cuda" if dev.type == "cuda" else "cpu", enabled=active)


@dataclass
class RunInfo:
    """What :func:`setup` decided: seed, profile, device and when the run started."""

    seed: int
    profile: str
    device: torch.device
    started: float = field(default_factory=time.perf_counter)
    rng: torch.Generator | None = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


_RUN: RunInfo | None = None


def setup(seed: int = 0, device_name: str | None = None, quiet: bool = False) -> RunInfo:
    """Start a chapter: seed everything, read the profile, choose the device, start the clock.

    ``$GAN_COURSE_THREADS``, when set, fixes the number of CPU threads PyTorch uses (useful
    when several notebooks share a machine: oversubscribed threads slow everyone down).
    """
    global _RUN
    threads = os.environ.get("GAN_COURSE_THREADS", "").strip()
    if threads:
        if not threads.isdigit() or int(threads) < 1:
            raise ValueError(f"GAN_COURSE_THREADS must be a positive integer, got {threads!r}")
        torch.set_num_threads(int(threads))
    gen = seed_everything(seed)
    _RUN = RunInfo(seed=seed, profile=profile(), device=device(device_name), rng=gen)
    if not quiet:
        print(f"profile: {_RUN.profile} | device: {_RUN.device} | seed: {seed}")
    return _RUN


def provenance(print_it: bool = True) -> dict:
    """Versions, device, profile and elapsed time of this run; printed by every chapter's last cell."""
    from . import __version__

    info = {
        "gan_course": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "profile": _RUN.profile if _RUN else profile(),
        **({"max_steps": step_cap()} if step_cap() is not None else {}),
        "device": str(_RUN.device if _RUN else device()),
        "threads": torch.get_num_threads(),
        "elapsed_s": round(_RUN.elapsed() if _RUN else time.perf_counter() - _START, 1),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    if print_it:
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
        sys.stdout.flush()
    return info


class MixedPrecision:
    """Autocast plus loss scaling for one training run, a no-op on CPU unless asked (and when
    disabled).

    ``with mp.autocast(): loss = ...`` then ``mp.step(loss, optimizer)`` replaces
    ``loss.backward(); optimizer.step()``. On CUDA it uses bfloat16 where supported (no
    scaling needed) and float16 with a gradient scaler otherwise.

    ``cpu_bfloat16=True`` also autocasts on the CPU, to bfloat16 (no scaling needed): the
    GPU path's mixed precision, tried without a GPU (tests, ``make benchmark``). Off by
    default, so that the chapters' CPU runs stay in float32.
    """

    def __init__(self, dev: torch.device | str, enabled: bool = True, *, cpu_bfloat16: bool = False):
        self.device = torch.device(dev)
        self.cpu_bfloat16 = bool(enabled) and bool(cpu_bfloat16) and self.device.type == "cpu"
        self.enabled = bool(enabled) and self.device.type == "cuda"
        self.scaler = grad_scaler(self.device, self.enabled)

    def autocast(self):
        if self.cpu_bfloat16:
            return torch.autocast(device_type="cpu", dtype=torch.bfloat16)
        return autocast(self.device, self.enabled)

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Unscale gradients in place (before reading gradient norms or clipping)."""
        if self.scaler.is_enabled():
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        self.scaler.step(optimizer)
        self.scaler.update()


def map_processes(fn: Callable, items: Iterable, processes: int | None = None) -> list:
    """``[fn(item) for item in items]``, computed in up to ``processes`` worker processes.

    For independent runs (one seed each) of small models that use one thread each
    (Chapter 4): on a machine with several cores they then finish in a fraction of the time.
    ``processes=None`` uses one per CPU core, at most one per item. Uses the ``fork`` start
    method, so that functions defined in a notebook work; where ``fork`` is unavailable
    (Windows), or with ``processes=1``, the items are computed one after the other here.
    ``fn`` must be a named function (not a lambda) and return picklable results; the order
    of the results is the order of ``items``.

    Results travel back as bytes written by ``torch.save``, not through PyTorch's shared
    memory: a worker that handed its tensors over as shared-memory file descriptors could
    hang on a lock inherited from the forked parent (seen with nbval on two cores).
    """
    import multiprocessing

    items = list(items)
    if processes is None:
        processes = max(1, min(len(items), os.cpu_count() or 1))
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    if processes == 1 or len(items) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [fn(item) for item in items]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        packed = pool.map(_SerialisedCall(fn), items, chunksize=1)
    return [torch.load(io.BytesIO(b), weights_only=False) for b in packed]


class _SerialisedCall:
    """``fn(item)`` in a worker, returned as the bytes of ``torch.save`` (see map_processes)."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, item) -> bytes:
        buffer = io.BytesIO()
        torch.save(self.fn(item), buffer)
        return buffer.getvalue()
