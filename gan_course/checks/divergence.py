"""Checks for Chapter 3, the Jensen-Shannon divergence."""

from __future__ import annotations

__all__: list[str] = []
