"""Checks for Chapter 7, conditional GANs."""

from __future__ import annotations

__all__: list[str] = []
