"""What every model family shares: weight initialisation, input checks, parameter counts,
batched inference and frozen copies.

``infer`` and ``frozen_copy`` are also exported as ``gc.infer`` and ``gc.frozen_copy``: every
chapter, metric, explorer and check that runs a trained model without training it goes
through ``infer``, and every snapshot of a model during training is a ``frozen_copy``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn

NORMS = ("batch", "instance", "layer", "none")
INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def init_weights(module: nn.Module) -> None:
    """The DCGAN initialisation: conv weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02).

    Applied with ``model.apply(init_weights)`` by every family of the package except where a
    chapter asks for PyTorch's default (StarGAN's discriminator, ``init="pytorch"``).
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def norm_layer(norm: str, channels: int) -> nn.Module | None:
    """The normalisation layer named by ``norm`` for ``channels`` feature maps, None for "none".

    ``batch``: BatchNorm2d; ``instance``: InstanceNorm2d with a learned scale and shift;
    ``layer``: GroupNorm with one group (normalises each image over channels and positions,
    the layer normalisation used in critics without batch statistics); ``none``: no layer.
    """
    check_norm(norm, NORMS)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if norm == "layer":
        return nn.GroupNorm(1, channels)
    return None


def check_norm(norm: str, accepted: Sequence[str]) -> None:
    """Raise a ValueError unless ``norm`` is one of ``accepted``."""
    if norm not in accepted:
        raise ValueError(f"norm must be one of {', '.join(repr(a) for a in accepted)}, got {norm!r}")


def check_images(x: torch.Tensor, channels: int, size: int | None, who: str) -> None:
    """Raise a ValueError naming the expected shape when ``x`` is not (B, channels, size, size).

    ``size=None`` accepts any height and width (fully convolutional models).
    """
    if size is None:
        if x.ndim != 4 or x.shape[1] != channels:
            raise ValueError(f"{who} expects images of shape (B, {channels}, H, W), got {tuple(x.shape)}")
    elif x.ndim != 4 or x.shape[1] != channels or x.shape[2] != size or x.shape[3] != size:
        raise ValueError(f"{who} expects images of shape (B, {channels}, {size}, {size}), "
                         f"got {tuple(x.shape)}")


def check_z(z: torch.Tensor, z_dim: int, who: str = "generator") -> None:
    """Raise a ValueError naming the expected shape when ``z`` is not (B, z_dim)."""
    if z.ndim != 2 or z.shape[1] != z_dim:
        raise ValueError(f"{who} expects z of shape (B, {z_dim}), got {tuple(z.shape)}")


def check_labels(y: torch.Tensor, n: int, batch: int | None = None, *, kind: str = "classes") -> torch.Tensor:
    """Check integer labels (B,) in 0..n-1 and return them as int64.

    One rule for the whole package (models, ``stargan.one_hot``, ``losses.classification_loss``):
    any integer dtype is accepted and converted to int64; floats and bools are refused with a
    TypeError. ``batch``: the number of labels expected; ``kind``: the word for what the labels
    count in messages ("classes", "domains").
    """
    if not torch.is_tensor(y) or y.dtype not in INTEGER_DTYPES:
        what = f"a tensor of dtype {y.dtype}" if torch.is_tensor(y) else type(y).__name__
        raise TypeError(f"labels must be an integer tensor of class indices 0..{n - 1} "
                        f"({n} {kind}), got {what}")
    if y.ndim != 1:
        raise ValueError(f"labels must have shape (B,), got {tuple(y.shape)}")
    if batch is not None and len(y) != batch:
        raise ValueError(f"{len(y)} labels for a batch of {batch}")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= n):
        raise ValueError(f"labels must lie in 0..{n - 1} ({n} {kind}), "
                         f"got values from {int(y.min())} to {int(y.max())}")
    return y.long()


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters of a module; a parameter shared by two parts counts once."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _modules_of(fn) -> list[nn.Module]:
    if isinstance(fn, nn.Module):
        return [fn]
    owner = getattr(fn, "__self__", None)            # a bound method such as D.features
    return [owner] if isinstance(owner, nn.Module) else []


def _device_of(modules: Sequence[nn.Module]) -> torch.device:
    for module in modules:
        for tensor in (*module.parameters(), *module.buffers()):
            return tensor.device
    return torch.device("cpu")


def _to_cpu(out):
    if torch.is_tensor(out):
        return out.cpu()
    if isinstance(out, (tuple, list)) and all(torch.is_tensor(t) for t in out):
        return tuple(t.cpu() for t in out)
    raise TypeError(f"infer expects the model to return a tensor or a tuple of tensors, got {type(out).__name__}")


@torch.no_grad()
def infer(model: Callable, *inputs: torch.Tensor, batch_size: int = 500, modules: Sequence[nn.Module] | None = None,
          mode: str = "eval", device: torch.device | str | None = None):
    """``model(*inputs)`` without gradients, in chunks of ``batch_size`` rows, returned on the CPU.

    ``model``: a module (``G``), a bound method of one (``D.features``), or any function of
    tensors together with ``modules``, the modules it runs (``lambda x: G_ba(G_ab(x))`` with
    ``modules=(G_ab, G_ba)``). ``inputs``: tensors with the same number of rows, split into
    chunks and moved to the models' device (or ``device``). The modules run in eval mode
    (batch norm with its running statistics, no dropout) and every module, submodules
    included, gets its previous train/eval mode back afterwards. ``mode="train"`` runs them
    in training mode instead, as pix2pix does at test time (dropout on, batch norm with the
    statistics of each chunk; the running statistics are updated, as in any training-mode
    forward pass). Returns a tensor, or a tuple of tensors when the model returns several
    (``CoupledGenerators``, two-headed discriminators), each concatenated over the chunks.
    """
    if mode not in ("eval", "train"):
        raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if not inputs or not all(torch.is_tensor(t) for t in inputs):
        raise TypeError("infer needs at least one input tensor after the model, e.g. infer(G, z)")
    if len({len(t) for t in inputs}) != 1:
        raise ValueError(f"the inputs must have the same number of rows, got {[len(t) for t in inputs]}")
    modules = list(modules) if modules is not None else _modules_of(model)
    if not modules:
        raise TypeError("infer could not find the modules that the function runs: pass modules=(...) "
                        "so that they can be put in eval mode")
    dev = torch.device(device) if device is not None else _device_of(modules)
    before = [(m, m.training) for module in modules for m in module.modules()]
    for module in modules:
        module.train(mode == "train")
    try:
        chunks = [_to_cpu(model(*(t[i:i + batch_size].to(dev) for t in inputs)))
                  for i in range(0, len(inputs[0]), batch_size)]
    finally:
        for m, was_training in before:
            m.training = was_training
    if not chunks:
        raise ValueError("the inputs are empty: infer needs at least one row")
    if torch.is_tensor(chunks[0]):
        return torch.cat(chunks)
    return tuple(torch.cat(parts) for parts in zip(*chunks))


def frozen_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode whose parameters do not require gradients.

    For snapshots during training (``fit(..., snapshot_fn=lambda: gc.frozen_copy(G))``): later
    updates of ``model`` do not reach the copy, and the copy is ready for :func:`infer`. To
    train from a snapshot, copy it again and switch gradients and training mode back on:
    ``copy.deepcopy(snapshot).requires_grad_(True).train()``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"frozen_copy expects an nn.Module, got {type(model).__name__}")
    return copy.deepcopy(model).eval().requires_grad_(False)
