"""The common machinery of the self-checks: verdicts, safe calls, comparisons."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


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


def _call(name: str, fn: Callable, *args):
    """Call the learner's function; turn an exception into a readable verdict."""
    try:
        return fn(*args), None
    except NotImplementedError:
        return None, _fail(name, "the function still raises NotImplementedError: replace it with your code.")
    except Exception as exc:  # noqa: BLE001 - every learner error becomes a verdict
        return None, _fail(name, f"your function raised {type(exc).__name__}: {exc}")


def _as_float(value) -> float | None:
    if torch.is_tensor(value):
        if value.numel() != 1:
            return None
        return float(value.detach().float())
    if isinstance(value, np.ndarray):
        return float(value) if value.size == 1 else None
    if isinstance(value, (int, float, np.floating)):
        return float(value)
    return None


def _as_array(value) -> np.ndarray | None:
    if torch.is_tensor(value):
        return value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


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
