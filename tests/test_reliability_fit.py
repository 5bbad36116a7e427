"""Reliability of fit (issue 15, items 6 and 7): a NaN or inf stops training before an
optimiser step takes it in (or the last checked state is restored), the weights stay finite,
and the message says where the value came from. Each test failed before the fix: fit read the
scalars only after the step, when the weights were already NaN, and blamed the learning rate.
"""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import gan_course as gc
from gan_course import train
from gan_course.models import DCGANConfig, DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator


def finite(*modules: nn.Module) -> bool:
    return all(torch.isfinite(t).all() for m in modules for t in [*m.parameters(), *m.buffers()]
               if t.is_floating_point())


def adam_state_finite(opt: torch.optim.Optimizer) -> bool:
    return all(torch.isfinite(v).all() for state in opt.state.values() for v in state.values()
               if torch.is_tensor(v) and v.is_floating_point())


def mlp_game(seed=0, lr=1e-3):
    torch.manual_seed(seed)
    G, D = MLPGenerator(z_dim=2, data_dim=2, hidden=(16, 16)), MLPDiscriminator(data_dim=2, hidden=(16, 16))
    opt_g, opt_d = torch.optim.Adam(G.parameters(), lr), torch.optim.Adam(D.parameters(), lr)
    return G, D, opt_g, opt_d


def dcgan_game(seed=0):
    torch.manual_seed(seed)
    cfg = DCGANConfig(z_dim=8, image_size=32, channels=1, width=4)
    G, D = DCGANGenerator(cfg), DCGANDiscriminator(cfg)          # both with batch norm
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), 2e-4, betas=(0.5, 0.999)) for m in (G, D))
    return G, D, opt_g, opt_d


def test_one_nan_in_the_data_stops_before_the_optimiser_step_and_names_the_rows():
    # before: "loss_d became nan ... Typical causes: a learning rate too high", D's weights NaN
    G, D, opt_g, opt_d = mlp_game()
    data = torch.randn(256, 2)
    data[17, 1] = float("nan")
    gen = torch.Generator().manual_seed(0)
    real = train.batches(data, 32, rng=gen)
    step = lambda: train.gan_step(G, D, opt_g, opt_d, real, lambda n: torch.randn(n, 2, generator=gen))  # noqa
    with pytest.raises(train.TrainingDiverged) as info:
        train.fit(step, 50, log_every=10, progress=False)
    err = info.value
    assert err.source == "data" and err.step < 8               # row 17 is drawn in the first epoch (8 batches)
    assert "before the optimiser step of the discriminator: its loss is nan" in str(err)
    assert "data rows [17]" in str(err) and "learning rate" not in str(err)
    assert finite(G, D) and adam_state_finite(opt_d) and adam_state_finite(opt_g)
    assert all(p.requires_grad for p in [*G.parameters(), *D.parameters()])


def test_nan_from_an_iterator_of_your_own_keeps_batch_norm_statistics():
    """A batch with an inf, not drawn through batches(): fit cannot vouch for the data and says so;
    the discriminator's batch-norm statistics, which took in the inf, are put back."""
    G, D, opt_g, opt_d = dcgan_game()

    def images():
        gen = torch.Generator().manual_seed(1)
        for i in range(100):
            x = torch.rand(8, 1, 32, 32, generator=gen) * 2 - 1
            if i == 3:
                x[2, 0, 5, 5] = float("inf")
            yield x

    real = images()
    saved = {}

    def snapshot():
        saved["D"] = copy.deepcopy(D.state_dict())

    step = lambda: train.gan_step(G, D, opt_g, opt_d, real, lambda n: torch.randn(n, 8))  # noqa: E731
    with pytest.raises(train.TrainingDiverged) as info:
        train.fit(step, 10, snapshot_at=[3], snapshot_fn=snapshot, progress=False)
    err = info.value
    assert err.step == 3 and err.source == "discriminator"
    assert "did not come from gc.train.batches" in str(err) and "learning rate" not in str(err)
    assert finite(G, D)
    # the running statistics are those of the start of step 3 (the weights too: no step was taken)
    for key, value in D.state_dict().items():
        assert torch.equal(value, saved["D"][key]), key


def test_a_generator_loss_that_fails_names_the_generator_and_unfreezes_the_discriminator():
    G, D, opt_g, opt_d = mlp_game()
    gen = torch.Generator().manual_seed(0)
    calls = [0]

    def g_loss(fake_logits):
        calls[0] += 1
        loss = F.softplus(-fake_logits).mean()
        return loss * float("inf") if calls[0] == 3 else loss

    real = train.batches(torch.randn(256, 2), 32, rng=gen)
    step = lambda: train.gan_step(G, D, opt_g, opt_d, real, lambda n: torch.randn(n, 2, generator=gen),  # noqa
                                  g_loss=g_loss)
    with pytest.raises(train.TrainingDiverged) as info:
        train.fit(step, 10, progress=False)
    err = info.value
    assert err.step == 2 and err.source == "generator"
    assert "before the optimiser step of the generator" in str(err) and "look at the loss itself" in str(err)
    assert finite(G, D)
    assert all(p.requires_grad for p in D.parameters())      # the step had frozen D for G's update


def test_the_learning_rate_is_named_only_when_the_weights_have_grown():
    G, D, opt_g, opt_d = mlp_game()
    opt_d = torch.optim.SGD(D.parameters(), lr=1e6)
    gen = torch.Generator().manual_seed(0)
    real = train.batches(torch.randn(256, 2) * 100, 32, rng=gen)

    def probability_loss(r, f):          # the log of probabilities: overflows once the weights are huge
        return -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean())

    step = lambda: train.gan_step(G, D, opt_g, opt_d, real, lambda n: torch.randn(n, 2, generator=gen),  # noqa
                                  d_loss=probability_loss)
    with pytest.raises(train.TrainingDiverged, match="learning rate too high is the likely cause") as info:
        train.fit(step, 100, progress=False)
    assert info.value.source == "discriminator" and finite(G, D)
    # the same loss with a sane learning rate but a probability that is exactly 0: no blame on the rate
    G, D, opt_g, opt_d = mlp_game()
    log_of_zero = lambda r, f: -torch.log(torch.sigmoid(r) * 0).mean()  # noqa: E731
    step = lambda: train.gan_step(G, D, opt_g, opt_d, real, lambda n: torch.randn(n, 2, generator=gen),  # noqa
                                  d_loss=log_of_zero)
    with pytest.raises(train.TrainingDiverged) as info:
        train.fit(step, 5, progress=False)
    assert "log of 0" in str(info.value) and "learning rate" not in str(info.value) and info.value.step == 0


def test_check_every_restores_the_last_checked_state():
    """Between checks nothing syncs; the failure is read at the next check and the players and
    optimisers saved at the last checked step come back (weights, statistics, Adam moments)."""
    G, D, opt_g, opt_d = dcgan_game()
    data = torch.rand(64, 1, 32, 32) * 2 - 1
    row = int(torch.randperm(64, generator=torch.Generator().manual_seed(1))[6 * 8 + 3])   # drawn at step 6
    data[row, 0, 1, 1] = float("nan")
    gen = torch.Generator().manual_seed(1)
    real = train.batches(data, 8, rng=gen)
    saved = {}

    def snapshot():
        return copy.deepcopy((G.state_dict(), D.state_dict(), opt_g.state_dict(), opt_d.state_dict()))

    step = lambda: train.gan_step(G, D, opt_g, opt_d, real, lambda n: torch.randn(n, 8, generator=gen))  # noqa
    with pytest.raises(train.TrainingDiverged) as info:
        train.fit(step, 40, check_every=5, log_every=10, snapshot_at=range(0, 40, 5),
                  snapshot_fn=lambda: saved.setdefault(len(saved), snapshot()), progress=False)
    err = info.value
    assert err.step == 6 and err.source == "data" and "check_every=5" in str(err)
    assert "stopped at step 10" in str(err) and "saved at step 5" in str(err)
    assert finite(G, D) and adam_state_finite(opt_d) and adam_state_finite(opt_g)
    g_state, d_state, og_state, od_state = saved[1]          # the snapshot taken before step 5
    for module, state in ((G, g_state), (D, d_state)):
        for key, value in module.state_dict().items():
            assert torch.equal(value, state[key]), key
    for opt, state in ((opt_g, og_state), (opt_d, od_state)):
        for k, moments in state["state"].items():
            for name, value in moments.items():
                assert torch.equal(opt.state_dict()["state"][k][name], value), name


def test_the_guard_changes_nothing_when_all_is_finite():
    """fit with checks at every step, every 3 steps, and a plain loop give bit-identical weights."""
    results = []
    for mode in ("loop", 1, 3):
        G, D, opt_g, opt_d = dcgan_game(seed=4)
        gen = torch.Generator().manual_seed(4)
        real = train.batches(torch.rand(64, 1, 32, 32) * 2 - 1, 8, rng=gen)
        step = lambda: train.gan_step(G, D, opt_g, opt_d, real, lambda n: torch.randn(n, 8, generator=gen))  # noqa
        if mode == "loop":
            for _ in range(7):
                step()
        else:
            train.fit(step, 7, check_every=mode, log_every=2, progress=False)
        results.append([t.clone() for t in [*G.state_dict().values(), *D.state_dict().values()]])
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other))


def test_roles_are_learned_from_the_keys_a_step_returns():
    """Players whose class says nothing (nn.Sequential) are named by the key of their loss."""
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    D = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1), nn.Flatten(0))
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-3), torch.optim.Adam(D.parameters(), 1e-3)

    def data():
        for i in range(10):
            x = torch.randn(16, 2)
            if i == 2:
                x[0, 0] = float("nan")
            yield x

    real = data()
    step = lambda: train.gan_step(G, D, opt_g, opt_d, real, lambda n: torch.randn(n, 2))  # noqa: E731
    with pytest.raises(train.TrainingDiverged, match="before the optimiser step of the discriminator"):
        train.fit(step, 10, progress=False)


def test_a_step_function_of_your_own_is_checked_at_logged_steps():
    values = iter([1.0, 0.5, float("nan")])
    with pytest.raises(train.TrainingDiverged, match=r"loss_d became nan at step 2.*could not check") as info:
        train.fit(lambda: {"loss_d": next(values)}, 3, progress=False)
    assert info.value.source == "unknown" and "learning rate" not in str(info.value)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(log_every=0), ValueError, "log_every must be a positive integer"),       # before: ZeroDivisionError
    (dict(log_every=-2), ValueError, "log_every must be a positive integer"),
    (dict(check_every=0), ValueError, "check_every must be a positive integer"),
    (dict(log_every=1.5), TypeError, "log_every must be an integer"),
    (dict(check_every=True), TypeError, "check_every must be an integer"),
])
def test_fit_refuses_bad_intervals(kwargs, error, words):
    with pytest.raises(error, match=words):
        train.fit(lambda: {"x": 1.0}, 3, progress=False, **kwargs)


def test_fit_accepts_numpy_integers_and_leaves_no_guard_behind():
    import numpy as np

    hist = train.fit(lambda: {"x": 1.0}, np.int64(4), log_every=np.int64(2), progress=False)
    assert hist["step"] == [0, 2]
    assert train._active_guard is None
    with pytest.raises(RuntimeError):
        train.fit(lambda: (_ for _ in ()).throw(RuntimeError("inside")), 2, progress=False)
    assert train._active_guard is None


def test_gc_exports_the_same_fit():
    assert gc.train.fit is train.fit and issubclass(train.TrainingDiverged, RuntimeError)
