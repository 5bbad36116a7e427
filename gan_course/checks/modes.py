"""Checks for Chapter 4, a first GAN and mode collapse."""

from __future__ import annotations

__all__: list[str] = []
