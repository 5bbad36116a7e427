"""Resumable runs (fit with a Checkpoint): a run killed mid-way and started again ends where
the uninterrupted run ends, bit for bit on the CPU, and bad uses are named."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gan_course as gc
from gan_course import train
from gan_course.models import DCGANConfig, DCGANGenerator, ImagePool

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "tests" / "resume_run.py"


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.pop("GAN_COURSE_MAX_STEPS", None)
    return env


def _run(*args, kill_after: str | None = None):
    """Run tests/resume_run.py; with kill_after, SIGKILL it once it prints that line."""
    cmd = [sys.executable, str(RUN), *map(str, args)]
    if kill_after is None:
        done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen = []
    for line in proc.stdout:
        seen.append(line.strip())
        if line.strip() == kill_after:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"the run ended by itself: {seen[-3:]}"
    return seen


def _assert_equal(a, b, where="run"):
    if torch.is_tensor(a):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert set(a) == set(b), where
        for key in a:
            _assert_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_a_killed_run_resumes_bit_for_bit(tmp_path):
    _run(tmp_path / "unused.pt", tmp_path / "plain.pt", "--no-checkpoint")
    ck = tmp_path / "drive" / "run.pt"
    # Killed in the middle of step 16 (saved after step 12): it restarts from 12, redoing 12-16.
    seen = _run(ck, tmp_path / "never.pt", "--sleep", "0.05", kill_after="step 16")
    assert ck.exists() and not (tmp_path / "never.pt").exists()
    assert gc.checkpoint.load(ck)["step"] == 12
    # Started again, it runs the 40 - 12 steps after the saved one
    out = _run(ck, tmp_path / "resumed.pt").split()
    assert out.count("step") == 40 - 12
    plain, resumed = gc.checkpoint.load(tmp_path / "plain.pt"), gc.checkpoint.load(tmp_path / "resumed.pt")
    _assert_equal(plain, resumed)
    # A finished run started once more trains nothing and returns the same history
    again = _run(ck, tmp_path / "again.pt")
    assert "step" not in again
    _assert_equal(plain, gc.checkpoint.load(tmp_path / "again.pt"))


def test_batches_and_pool_states_round_trip():
    data = torch.arange(20.0).reshape(10, 2)
    a = train.batches(data, 3, rng=torch.Generator().manual_seed(0))
    for _ in range(4):                  # into the second epoch (3 batches of 3 per epoch)
        next(a)
    state, rng_state = a.state_dict(), a.rng.get_state()
    want = [next(a) for _ in range(5)]
    b = train.batches(data, 3, rng=torch.Generator())
    b.load_state_dict(state)
    b.rng.set_state(rng_state)
    _assert_equal(want, [next(b) for _ in range(5)])
    with pytest.raises(ValueError, match="10 rows"):
        train.batches(torch.zeros(12, 2), 3).load_state_dict(state)

    pool = ImagePool(3, seed=1)
    for _ in range(3):
        pool.query(torch.randn(2, 1, 4, 4))
    state = pool.state_dict()
    x = torch.randn(4, 1, 4, 4)
    want = pool.query(x)
    other = ImagePool(3, seed=99)
    other.load_state_dict(state)
    assert torch.equal(other.query(x), want)
    with pytest.raises(ValueError, match="pool of 3"):
        ImagePool(5).load_state_dict(state)


def _tiny_run(tmp_path, **names):
    G = DCGANGenerator(DCGANConfig(z_dim=4, width=2))
    opt = torch.optim.SGD(G.parameters(), lr=0.01)

    def step():
        loss = G(torch.randn(2, 4)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}
    return G, opt, step


def test_bad_uses_are_named(tmp_path):
    G, opt, step = _tiny_run(tmp_path)
    with pytest.raises(ValueError, match="positive"):
        train.Checkpoint(tmp_path / "a.pt", every=0, G=G)
    with pytest.raises(ValueError, match="name the run's state"):
        train.Checkpoint(tmp_path / "a.pt", every=5)
    with pytest.raises(TypeError, match="step=function cannot be saved"):
        train.Checkpoint(tmp_path / "a.pt", every=5, G=G, step=step)
    ck = train.Checkpoint(tmp_path / "a.pt", every=2, G=G, opt=opt)
    train.fit(step, 4, progress=False, checkpoint=ck)
    # another run pointed at the same file
    with pytest.raises(gc.checkpoint.CheckpointError, match=r"holds the state of \['G', 'opt'\]"):
        train.fit(step, 4, progress=False, checkpoint=train.Checkpoint(tmp_path / "a.pt", every=2, G=G))
    # a shorter run than the one saved
    with pytest.raises(gc.checkpoint.CheckpointError, match="saved at step 4, outside this run's steps 0..3"):
        train.fit(step, 3, progress=False, checkpoint=ck)
    # snapshots must be storable
    with pytest.raises(TypeError, match="snapshot of step 0"):
        train.fit(step, 4, progress=False, snapshot_at=[0], snapshot_fn=lambda: object(),
                  checkpoint=train.Checkpoint(tmp_path / "b.pt", every=2, G=G))


def test_a_finished_checkpointed_run_equals_the_plain_run_in_process(tmp_path):
    def run(ck_path):
        torch.manual_seed(0)
        G, opt, step = _tiny_run(tmp_path)
        ck = None if ck_path is None else train.Checkpoint(ck_path, every=3, G=G, opt=opt)
        history = train.fit(step, 10, progress=False, checkpoint=ck, snapshot_at=[5],
                            snapshot_fn=lambda: gc.frozen_copy(G))
        return G.state_dict(), history
    (w_plain, h_plain), (w_ck, h_ck) = run(None), run(tmp_path / "c.pt")
    _assert_equal(w_plain, w_ck)
    assert h_plain.values == h_ck.values and h_plain.steps == h_ck.steps
    # the reloaded history rebuilds the module snapshot from the snapshot function
    torch.manual_seed(5)
    G, opt, step = _tiny_run(tmp_path)
    h = train.fit(step, 10, progress=False, checkpoint=train.Checkpoint(tmp_path / "c.pt", every=3, G=G, opt=opt),
                  snapshot_at=[5], snapshot_fn=lambda: gc.frozen_copy(G))
    _assert_equal(h.snapshots[5].state_dict(), h_ck.snapshots[5].state_dict())
    _assert_equal(G.state_dict(), w_plain)
