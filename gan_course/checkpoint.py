"""Saving and loading weights safely.

Files are written atomically (a temporary file in the same folder, then ``os.replace``), so an
interrupted save never leaves a truncated file under the real name, and loaded with
``torch.load(weights_only=True)``, which refuses to execute pickled code.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch


def sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save(obj, path: str | os.PathLike) -> str:
    """Save tensors / state dicts (nested dicts, lists, numbers, strings) atomically.

    Returns the SHA-256 of the written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return sha256(path)


def load(path: str | os.PathLike, map_location="cpu", expected_sha256: str | None = None):
    """Load what :func:`save` wrote, without executing pickled code.

    Raises ``ValueError`` when ``expected_sha256`` is given and the file does not match it.
    """
    if expected_sha256 is not None:
        actual = sha256(path)
        if actual != expected_sha256:
            raise ValueError(f"{path}: checksum mismatch (expected {expected_sha256[:12]}..., "
                             f"found {actual[:12]}...): the file is corrupt or was changed")
    return torch.load(path, map_location=map_location, weights_only=True)
