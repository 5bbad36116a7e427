"""Checkpoints (issue 15, item 5): save refuses what load cannot read, bad files are named,
no unsafe advice, a flipped byte is detected."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

from gan_course import checkpoint


def _state():
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.ones(4, 2)).sum().backward()
    opt.step()
    return {"G": net.state_dict(), "opt": opt.state_dict(), "step": 7, "lr": 2e-4, "name": "dcgan",
            "flags": (True, None), "history": [0.5, 0.25], "dtype": torch.float16, "z": torch.randn(3, 4)}


def _same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_roundtrip_of_everything_save_accepts(tmp_path):
    state = _state()
    digest = checkpoint.save(state, tmp_path / "run" / "ckpt.pt")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["ckpt.pt"]
    back = checkpoint.load(tmp_path / "run" / "ckpt.pt", expected_sha256=digest)
    assert _same(state, back)
    assert isinstance(back["G"], OrderedDict)
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    net.load_state_dict(back["G"])


@pytest.mark.parametrize("bad, advice", [
    (np.float64(1.5), "float(x)"),
    (np.zeros(3), "torch.from_numpy"),
    ({"w": torch.zeros(2), "step": np.int64(3)}, "float(x) or int(x)"),
    (torch.nn.Linear(2, 2), "state_dict()"),
    (torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), "state_dict()"),
    ({(1, 2): torch.zeros(1)}, "strings or numbers"),
    (torch.eye(2).to_sparse(), "to_dense()"),
])
def test_save_refuses_what_load_cannot_read(tmp_path, bad, advice):
    # before: numpy values and whole modules were saved, then refused by load
    with pytest.raises(TypeError, match="(?s)" + advice.replace("(", r"\(").replace(")", r"\)")):
        checkpoint.save(bad, tmp_path / "bad.pt")
    assert list(tmp_path.iterdir()) == []                                  # nothing written


def test_nested_refusal_names_the_place(tmp_path):
    with pytest.raises(TypeError, match=r"\['history'\]\[1\], a numpy.float32"):
        checkpoint.save({"history": [0.5, np.float32(0.25)]}, tmp_path / "x.pt")


@pytest.mark.parametrize("make", [
    lambda good: b"",                                   # empty
    lambda good: good[:100],                            # cut short
    lambda good: good[: len(good) // 2],
    lambda good: good[:-10],                            # before: OSError [Errno 22]
    lambda good: b"hello junk" * 10,                    # before: KeyError 101
])
def test_bad_files_are_named_truncated_or_not_a_checkpoint(tmp_path, make):
    good = tmp_path / "good.pt"
    checkpoint.save({"w": torch.arange(1000.0)}, good)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(make(good.read_bytes()))
    with pytest.raises(checkpoint.CheckpointError) as err:
        checkpoint.load(bad)
    assert str(bad) in str(err.value) and "truncated or not a checkpoint" in str(err.value)


def test_pickled_code_is_refused_without_unsafe_advice(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    torch.save({"x": Evil()}, tmp_path / "evil.pt")
    torch.save({"net": torch.nn.Linear(2, 2)}, tmp_path / "module.pt")
    for name in ("evil.pt", "module.pt"):
        with pytest.raises(checkpoint.CheckpointError) as err:
            checkpoint.load(tmp_path / name)
        msg = str(err.value)
        assert str(tmp_path / name) in msg and "state_dict" in msg
        assert "weights_only" not in msg and "trust the source" not in msg    # before: advised weights_only=False


def test_a_flipped_byte_is_detected(tmp_path):
    # before: a flipped byte inside the tensor data loaded silently as different weights
    path = tmp_path / "ckpt.pt"
    values = torch.arange(1000, dtype=torch.float32)
    checkpoint.save({"w": values}, path)
    raw = bytearray(path.read_bytes())
    at = bytes(raw).find(values[100:102].numpy().tobytes())
    assert at > 0
    raw[at + 1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(checkpoint.CheckpointError, match="does not match its stored digest"):
        checkpoint.load(path)


def test_plain_torch_save_files_still_load(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "old.pt")
    assert torch.equal(checkpoint.load(tmp_path / "old.pt")["w"], torch.ones(2))


def test_missing_file_and_checksum_mismatch(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        checkpoint.load(tmp_path / "none.pt")
    digest = checkpoint.save({"w": torch.ones(2)}, tmp_path / "a.pt")
    checkpoint.save({"w": torch.zeros(2)}, tmp_path / "a.pt")
    with pytest.raises(checkpoint.CheckpointError, match="checksum mismatch"):
        checkpoint.load(tmp_path / "a.pt", expected_sha256=digest)
