"""Saving and loading weights safely.

* :func:`save` accepts only what :func:`load` can read back without running pickled code:
  tensors, numbers, strings, booleans, None, and lists, tuples and dicts of them (a
  ``state_dict()`` is such a dict). Anything else (a whole module, an optimiser, NumPy
  values) is refused before a byte is written, with a message saying what to store instead.
* Files are written atomically (a temporary file in the same folder, then ``os.replace``), so
  an interrupted save never leaves a truncated file under the real name.
* Each file stores a SHA-256 digest of its content (the tensors' bytes, dtypes and shapes and
  the other values), checked on load: a flipped byte is an error, not silently different
  weights.
* :func:`load` uses ``torch.load(weights_only=True)``, which refuses to execute pickled code;
  a truncated, empty or foreign file is an error naming the file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections import OrderedDict
from pathlib import Path

import torch

FORMAT = "gan_course.checkpoint/1"
_SCALARS = (bool, int, float, complex, str, type(None))


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupt, or not a checkpoint that :func:`load` reads."""


def sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _advice(obj) -> str:
    kind = type(obj)
    if isinstance(obj, torch.nn.Module):
        return "store its weights instead: module.state_dict()"
    if isinstance(obj, torch.optim.Optimizer) or hasattr(obj, "state_dict"):
        return "store obj.state_dict() instead"
    if kind.__module__.split(".")[0] == "numpy":
        return ("convert it first: torch.from_numpy(array) for arrays, float(x) or int(x) for NumPy numbers, "
                "or array.tolist()")
    return "store tensors, numbers, strings, booleans, None, and lists, tuples or dicts of them"


def _check_storable(obj, where: str = "the object") -> None:
    """Raise ``TypeError`` naming the first value that ``load`` could not read back."""
    if isinstance(obj, torch.Tensor):
        if type(obj) not in (torch.Tensor, torch.nn.Parameter):
            raise TypeError(f"{where} is a {type(obj).__name__} (a tensor subclass); store a plain tensor: "
                            "x.as_subclass(torch.Tensor)")
        if obj.layout != torch.strided:
            raise TypeError(f"{where} is a {obj.layout} tensor; store x.to_dense()")
        return
    if type(obj) in _SCALARS or isinstance(obj, (torch.dtype, torch.device, torch.Size)):
        return
    if type(obj) in (list, tuple):
        for i, item in enumerate(obj):
            _check_storable(item, f"{where}[{i}]")
        return
    if type(obj) in (dict, OrderedDict):
        for key, value in obj.items():
            if type(key) not in (str, int, bool, float, type(None)):
                raise TypeError(f"{where} has a key of type {type(key).__name__} ({key!r}); use strings or numbers")
            _check_storable(value, f"{where}[{key!r}]")
        return
    raise TypeError(f"checkpoint.save cannot store {where}, a {type(obj).__module__}.{type(obj).__qualname__}: "
                    f"checkpoint.load reads only plain data. {_advice(obj)[0].upper() + _advice(obj)[1:]}.")


def _content_digest(obj) -> str:
    """SHA-256 of a storable object's content: structure, tensor dtypes, shapes and bytes."""
    digest = hashlib.sha256()

    def feed(x):
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous()
            digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        elif isinstance(x, (list, tuple)):
            digest.update(f"{type(x).__name__}{len(x)}[".encode())
            for item in x:
                feed(item)
            digest.update(b"]")
        elif isinstance(x, dict):
            digest.update(f"dict{len(x)}{{".encode())
            for key, value in x.items():
                digest.update(repr(key).encode() + b":")
                feed(value)
            digest.update(b"}")
        else:
            digest.update(f"{type(x).__name__}:{x!r};".encode())

    feed(obj)
    return digest.hexdigest()


def save(obj, path: str | os.PathLike) -> str:
    """Save tensors / state dicts (nested dicts, lists, tuples, numbers, strings) atomically.

    Raises ``TypeError`` (and writes nothing) for anything :func:`load` could not read back.
    Returns the SHA-256 of the written file.
    """
    _check_storable(obj)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"format": FORMAT, "content_sha256": _content_digest(obj), "payload": obj}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(record, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return sha256(path)


def _unsupported(exc: BaseException) -> str:
    """What torch's weights-only unpickler refused, without its advice to load unsafely."""
    for line in str(exc).splitlines():
        line = line.strip()
        if "Unsupported global" in line or "Unsupported operand" in line or "unsupported" in line.lower():
            return line.split(" Please ")[0].split(" To ")[0]
    return type(exc).__name__


def load(path: str | os.PathLike, map_location="cpu", expected_sha256: str | None = None):
    """Load what :func:`save` wrote, without executing pickled code.

    Raises :class:`CheckpointError` (a ``ValueError``) naming the file when it is truncated,
    empty, not a checkpoint, holds anything but plain data, does not match
    ``expected_sha256`` (the digest of the file that :func:`save` returned), or fails its
    stored content digest. Files written by ``torch.save`` of plain data load too.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if expected_sha256 is not None:
        actual = sha256(path)
        if actual != expected_sha256:
            raise CheckpointError(f"{path}: checksum mismatch (expected {expected_sha256[:12]}..., "
                                  f"found {actual[:12]}...): the file is corrupt or was changed")
    try:
        record = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise CheckpointError(
                f"{path} holds objects other than tensors and plain containers ({_unsupported(exc)}); "
                "gan_course never runs code stored in a file. Re-create it with checkpoint.save(obj.state_dict(), "
                "path) from code you trust.") from None
        raise CheckpointError(f"{path}: truncated or not a checkpoint ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - torch raises EOFError, RuntimeError, OSError, KeyError... here
        size = path.stat().st_size
        raise CheckpointError(f"{path}: truncated or not a checkpoint ({size} bytes; "
                              f"{type(exc).__name__} while reading it)") from None
    if isinstance(record, dict) and record.get("format") == FORMAT:
        payload = record.get("payload")
        if _content_digest(payload) != record.get("content_sha256"):
            raise CheckpointError(f"{path}: the content does not match its stored digest (a changed or flipped "
                                  "byte): the file is corrupt")
        return payload
    return record
