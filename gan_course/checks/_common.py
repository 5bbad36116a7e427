"""The common machinery of the self-checks: verdicts, safe calls, comparisons.

Every public check is wrapped by :func:`_guarded` (applied in ``checks/__init__.py`` to each
name of every chapter module's ``__all__``), which promises three things whatever the learner's
code returns or raises:

* the answer is a :class:`CheckResult`; an exception (any subclass of ``Exception``) from the
  learner's code, or from the check while it reads an unexpected return value, becomes a
  "not yet" naming what the function returned (or raised) and what the check expected;
* ``KeyboardInterrupt`` and ``SystemExit`` are not mistakes but requests to stop: they
  propagate, so that a learner who presses stop (interrupt the kernel) stops the check;
* the global random generators (torch's CPU generator and, when CUDA is in use, the CUDA
  ones, NumPy's and Python's) are left as they were: a check's own draws and the model
  initialisations inside it do not shift the learner's later random numbers.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import numbers
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class CheckResult:
    """The verdict of a check: ``passed`` and a plain-language ``message``."""

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "PASSED" if self.passed else "NOT YET"
        return f"[{mark}] {self.name}: {self.message}"

    def _repr_html_(self) -> str:
        import html

        colour, mark = ("#1b7a2f", "&#10004; passed") if self.passed else ("#b3261e", "&#10008; not yet")
        return (f'<div style="border-left:4px solid {colour};padding:4px 10px;margin:4px 0">'
                f'<b style="color:{colour}">{mark}</b> <code>{html.escape(self.name)}</code>: '
                f"{html.escape(self.message)}</div>")


def _fail(name: str, message: str) -> CheckResult:
    return CheckResult(name, False, message)


# what the learner's function returned last, per running check (read by the safety net)
_RECEIVED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("gan_course_check_received", default=None)


def _exception_text(exc: BaseException) -> str:
    """``TypeName: message``, even when the exception's own ``str`` fails."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a learner's exception class may have a broken __str__
        text = "(its message could not be printed)"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe(value, depth: int = 0) -> str:
    """A short plain description of a value: its kind, shape, dtype, and notable properties."""
    try:
        if value is None:
            return "None"
        if torch.is_tensor(value):
            notes = [str(value.dtype).replace("torch.", "")]
            if value.device.type != "cpu":
                notes.append(f"on {value.device}")
            if value.requires_grad:
                notes.append("requires grad")
            if value.device.type != "meta" and value.numel() and (value.is_floating_point() or value.is_complex()):
                if not bool(torch.isfinite(value.detach()).all()):
                    notes.append("contains NaN or inf")
            if value.ndim == 0 and value.device.type != "meta":
                return f"a 0-d tensor ({value.detach().cpu().item():.6g}, {', '.join(notes)})"
            return f"a tensor of shape {tuple(value.shape)} ({', '.join(notes)})"
        if isinstance(value, np.ndarray):
            if value.ndim == 0:
                return f"a 0-d NumPy array ({value.item()!r}, {value.dtype})"
            return f"a NumPy array of shape {value.shape} ({value.dtype})"
        if isinstance(value, np.generic):
            return f"a NumPy {type(value).__name__} ({value.item()!r})"
        if isinstance(value, bool):
            return f"the bool {value}"
        if isinstance(value, numbers.Number):
            text = repr(value)
            return f"the number {text}" if len(text) < 40 else _article(f"{type(value).__name__} with {len(text)} digits")
        if isinstance(value, str):
            return f"the string {value[:40]!r}" + ("..." if len(value) > 40 else "")
        if isinstance(value, (list, tuple)):
            kind = type(value).__name__
            if not value:
                return f"an empty {kind}"
            if depth:
                return f"a {kind} of {len(value)} items"
            items = ", ".join(_describe(v, depth + 1) for v in value[:3]) + (", ..." if len(value) > 3 else "")
            return f"a {kind} of {len(value)} item{'s' if len(value) != 1 else ''} ({items})"
        if isinstance(value, nn.Module):
            return f"an nn.Module ({type(value).__name__})"
        if callable(value):
            return f"a function ({getattr(value, '__name__', type(value).__name__)})"
        return _article(f"{type(value).__name__} object")
    except Exception:  # noqa: BLE001 - describing must never fail
        return _article(f"{type(value).__name__} object")


def _article(words: str) -> str:
    return ("an " if words[:1].lower() in "aeiou" else "a ") + words


def _call(name: str, fn: Callable, *args):
    """Call the learner's function; turn an exception into a readable verdict.

    Returns ``(value, None)`` or ``(None, verdict)``. ``KeyboardInterrupt`` and ``SystemExit``
    propagate (they are not mistakes in the learner's code).
    """
    received = _RECEIVED.get()
    if received is None:
        received = {}
    if not callable(fn):
        return None, _fail(name, f"expected a function to call, got {_describe(fn)}.")
    try:
        out = fn(*args)
    except NotImplementedError:
        received["verdict"] = _fail(name, "the function still raises NotImplementedError: replace it with your code.")
        return None, received["verdict"]
    except Exception as exc:  # noqa: BLE001 - every learner error becomes a verdict
        received["verdict"] = _fail(name, f"your function raised {_exception_text(exc)}.")
        return None, received["verdict"]
    received["value"] = out
    return out, None


def _as_float(value) -> float | None:
    """The single real number in ``value`` (a number, or a tensor / array of one element), else None."""
    try:
        if torch.is_tensor(value):
            if value.numel() != 1 or value.is_complex() or value.device.type == "meta":
                return None
            return float(value.detach().reshape(()).double().cpu())
        if isinstance(value, np.ndarray):
            if value.size != 1 or not (np.issubdtype(value.dtype, np.number) or value.dtype == bool) \
                    or np.iscomplexobj(value):
                return None
            return float(value.reshape(()))
        if isinstance(value, numbers.Real):
            try:
                return float(value)
            except OverflowError:                     # an int beyond float range
                return math.inf if value > 0 else -math.inf
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return None
    return None


def _as_array(value) -> np.ndarray | None:
    try:
        if torch.is_tensor(value):
            return None if value.is_complex() else value.detach().cpu().double().numpy()
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return None
    return None if value is None else array


def _gradient(out: torch.Tensor, leaf: torch.Tensor) -> tuple[torch.Tensor | None, str | None]:
    """The gradient of the learner's scalar ``out`` with respect to the check's input ``leaf``.

    Returns ``(grad, None)``, or ``(None, reason)`` when ``out`` is not connected to ``leaf``
    (e.g. a new tensor made with ``requires_grad_(True)``) or cannot be differentiated.
    """
    try:
        (grad,) = torch.autograd.grad(out.reshape(()), leaf, allow_unused=True)
    except RuntimeError as exc:
        return None, (f"its gradient could not be computed ({_exception_text(exc)}). Return the loss "
                      "itself, computed with torch operations, without calling backward() on it.")
    if grad is None:
        return None, ("it is not connected to the input: it requires grad, but it was built as a new tensor "
                      "(e.g. torch.tensor(value, requires_grad=True) or .detach().requires_grad_()). Compute "
                      "it from the input with torch operations, so that its gradient reaches the model.")
    return grad, None


def _close(a: float, b: float, tol: float = 1e-5) -> bool:
    return math.isfinite(a) and abs(a - b) <= tol * max(1.0, abs(b))


def _matching_mistake(got: float, diagnoses, tol: float = 1e-5) -> str | None:
    """The message of the first ``(value, message)`` pair whose value equals ``got``, if any.

    ``diagnoses`` lists what typical mistakes would return on the check's input (numbers or
    one-element tensors) with the plain-language explanation of each.
    """
    for value, message in diagnoses:
        if _close(got, float(value), tol):
            return message
    return None


@contextlib.contextmanager
def _seeded(seed: int):
    """Run a block (e.g. building a model whose layers draw their initial weights from torch's
    global generator) with the global generator seeded to ``seed``, then put it back as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def _global_random_state_kept():
    """Leave the global generators of torch (CPU, and CUDA once initialised), NumPy and Python's
    ``random`` as they were before the block."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def _expected(check: Callable) -> str:
    """What a check expects, from the first line of its docstring ("Check ``fn(...) -> x``: ...")."""
    summary = (check.__doc__ or "").strip().split("\n\n")[0]
    summary = " ".join(summary.split()).replace("``", "")
    for prefix in ("Check ", "check "):
        if summary.startswith(prefix):
            summary = summary[len(prefix):]
    return summary.rstrip(".") or "the function the exercise describes"


def _guarded(check: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
    """The safety net of a public check (see the module docstring)."""
    if getattr(check, "_gan_course_guarded", False):
        return check
    name = check.__name__.removeprefix("check_")

    @functools.wraps(check)
    def guarded(*args, **kwargs) -> CheckResult:
        for value in (*args, *kwargs.values()):
            if not callable(value):
                return _fail(name, f"{check.__name__} takes your function itself, e.g. "
                                   f"{check.__name__}(my_function), not a result: it got {_describe(value)}. "
                                   "Pass the function's name without calling it (no parentheses).")
        received: dict = {}
        token = _RECEIVED.set(received)
        try:
            with _global_random_state_kept():
                result = check(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the safety net: no traceback reaches the learner
            got = (f"your function returned {_describe(received['value'])}" if "value" in received
                   else "your function")
            return _fail(name, f"{got}, which the check could not use ({_exception_text(exc)}). "
                               f"Expected: {_expected(check)}.")
        finally:
            _RECEIVED.reset(token)
        if not isinstance(result, CheckResult):    # a defect of the check itself
            return _fail(name, f"the check gave no verdict (it returned {_describe(result)}). "
                               f"Expected: {_expected(check)}.")
        raised = received.get("verdict")           # the learner's function raised: say what was expected
        if not result.passed and raised is not None and raised.message in result.message \
                and "Expected:" not in result.message:
            return _fail(name, f"{result.message} Expected: {_expected(check)}.")
        return result

    guarded._gan_course_guarded = True
    return guarded
