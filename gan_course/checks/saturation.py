"""Checks for Chapter 2, saturation and the non-saturating loss."""

from __future__ import annotations

__all__: list[str] = []
