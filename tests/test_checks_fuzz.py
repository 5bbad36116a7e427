"""Every public check answers "not yet", with what it received and what it expected, whatever
the learner's code returns or raises (issue 15, item 4), and leaves the global random state
alone (item 8). The checks are enumerated from ``gan_course.checks.__all__``, so that a check
added by a later chapter is fuzzed without editing this file.

Decision tested here: ``KeyboardInterrupt`` and ``SystemExit`` raised inside the learner's code
are not mistakes but requests to stop (interrupting the kernel raises ``KeyboardInterrupt`` in
whatever code runs); they propagate out of every check.
"""

import inspect
import random
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gan_course import checks, latent, losses, theory
from gan_course.checks import CheckResult
from gan_course.models.stargan import one_hot

CHECKS = [name for name in checks.__all__ if name.startswith("check_")]


@pytest.fixture(autouse=True)
def _one_thread():
    """The fuzz runs thousands of tiny checks: one thread avoids contention on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def n_functions(check) -> int:
    """How many learner functions a check takes (its parameters without defaults)."""
    params = inspect.signature(check).parameters.values()
    return sum(p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in params)


# --- the book's solutions, to reach the checks' later calls ------------------------------

def _coverage(samples, means, std):
    nearest_d, nearest = torch.cdist(samples, means).min(dim=1)
    good = nearest_d <= 3 * std
    return len(torch.unique(nearest[good])), good.float().mean().item()


def _block(c_in, c_out):
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


def _stargan_loss(G, D, x, d_org, d_trg, lambda_cls, lambda_rec):
    n = D.n_domains
    fake = G(x, one_hot(d_trg, n))
    src, cls = D(fake)
    back = G(fake, one_hot(d_org, n))
    return (losses.generator_loss_nonsaturating(src) + lambda_cls * F.cross_entropy(cls, d_trg)
            + lambda_rec * (back - x).abs().mean())


SOLUTIONS = {
    "check_value_function": (lambda r, f: torch.log(r).mean() + torch.log(1 - f).mean(),),
    "check_optimal_discriminator": (lambda pd, pg: pd / (pd + pg),),
    "check_nonsaturating_loss": (lambda logits: F.softplus(-logits).mean(),),
    "check_js_divergence": (theory.js_divergence,),
    "check_mode_coverage": (_coverage,),
    "check_pack": (lambda x, m: x.reshape(-1, m * x.shape[1]),),
    "check_generator_block": (_block,),
    "check_slerp": (latent.slerp,),
    "check_least_squares_losses": (lambda r, f, a, b: 0.5 * ((r - b) ** 2).mean() + 0.5 * ((f - a) ** 2).mean(),
                                   lambda f, c: 0.5 * ((f - c) ** 2).mean()),
    "check_label_conditioning": (lambda z, y, k: torch.cat([z, F.one_hot(y, k).float()], 1),),
    "check_acgan_losses": (lambda sr, cr, yr, sf, cf, yf: (losses.discriminator_loss(sr, sf) + F.cross_entropy(cr, yr)
                                                           + F.cross_entropy(cf, yf)),
                           lambda sf, cf, yf: losses.generator_loss_nonsaturating(sf) + F.cross_entropy(cf, yf)),
    "check_real_logit": (lambda logits: torch.logsumexp(logits, dim=1),),
    "check_pix2pix_generator_loss": (lambda p, f, t, lam: losses.generator_loss_nonsaturating(p)
                                     + lam * (f - t).abs().mean(),),
    "check_cycle_loss": (lambda real, rec: (rec - real).abs().mean(),),
    "check_pixel_agreement": (lambda a, b: ((a > 0) == (b > 0)).float().mean(),),
    "check_shared_layers": (lambda s1, s2, n: (nn.Sequential(*s1), nn.Sequential(*s1[:n], *s2[n:])),),
    "check_label_tiling": (lambda c, h, w: c.float()[:, :, None, None].expand(-1, -1, h, w),),
    "check_stargan_generator_loss": (_stargan_loss,),
}
WITH_SOLUTION = [name for name in CHECKS if name in SOLUTIONS]


def test_the_solutions_pass():
    for name in WITH_SOLUTION:
        result = getattr(checks, name)(*SOLUTIONS[name])
        assert result.passed, (name, result.message)


# --- odd returns and exceptions ----------------------------------------------------------

class BrokenStr(Exception):
    def __str__(self):
        raise RuntimeError("no message")


class Hostile:
    """An object every use of which raises."""

    def __getattr__(self, name):
        raise RuntimeError("hostile attribute")

    def __len__(self):
        raise RuntimeError("hostile len")

    def __float__(self):
        raise RuntimeError("hostile float")

    def __iter__(self):
        raise RuntimeError("hostile iter")

    def __getitem__(self, i):
        raise RuntimeError("hostile item")


# each entry builds a fresh value (a grad-requiring leaf must not carry state between runs)
ODD_RETURNS = {
    "None": lambda: None,
    "np.array([1.0])": lambda: np.array([1.0]),
    "np.arange(3.0)": lambda: np.arange(3.0),
    "np.array(nan)": lambda: np.array(np.nan),
    "np.float64(0.25)": lambda: np.float64(0.25),
    "np.int64(3)": lambda: np.int64(3),
    "torch.tensor(0.)": lambda: torch.tensor(0.0),
    "tensor(nan)": lambda: torch.tensor(float("nan")),
    "tensor(inf)": lambda: torch.tensor(float("inf")),
    "unconnected grad leaf, 0-d": lambda: torch.tensor(0.5, requires_grad=True),
    "unconnected grad leaf (3,)": lambda: torch.zeros(3, requires_grad=True),
    "zeros(7, 3)": lambda: torch.zeros(7, 3),
    "zeros(0)": lambda: torch.zeros(0),
    "int64 tensor (4,)": lambda: torch.ones(4, dtype=torch.long),
    "tensor(True)": lambda: torch.tensor(True),
    "complex tensor": lambda: torch.tensor(1 + 2j),
    "meta tensor": lambda: torch.empty(3, device="meta"),
    "[1.0, 2.0]": lambda: [1.0, 2.0],
    "[]": lambda: [],
    "(None, None)": lambda: (None, None),
    "(tensor(1.), nan)": lambda: (torch.tensor(1.0), float("nan")),
    "nan": lambda: float("nan"),
    "inf": lambda: float("inf"),
    "10**400": lambda: 10 ** 400,
    "1j": lambda: 1j,
    "'0.5'": lambda: "0.5",
    "{'loss': 1.0}": lambda: {"loss": 1.0},
    "nn.Linear(2, 2)": lambda: nn.Linear(2, 2),
    "object()": lambda: object(),
    "a function": lambda: (lambda *a: 1.0),
    "True": lambda: True,
    "Hostile()": lambda: Hostile(),
}
ODD_RAISES = {
    "ValueError": lambda: ValueError("bad value 42"),
    "RuntimeError": lambda: RuntimeError("boom 42"),
    "TypeError": lambda: TypeError("wrong type 42"),
    "ZeroDivisionError": lambda: ZeroDivisionError("float division by zero"),
    "AssertionError": lambda: AssertionError("assert 42"),
    "IndexError": lambda: IndexError("index 42"),
    "StopIteration": lambda: StopIteration(),
    "NotImplementedError": lambda: NotImplementedError(),
    "BrokenStr": lambda: BrokenStr(),
}
# a learner's value that names what was received: a shape/kind ("got a tensor of shape ..."),
# a number ("got 0.25"), or the non-finite value itself
RECEIVED = re.compile(r"\bgot\b|\breturned\b|\bnan\b|\binf\b|\bNaN\b|infinite")


def returning(make):
    return lambda *args, **kwargs: make()


def raising(make):
    def fn(*args, **kwargs):
        raise make()
    return fn


def assert_not_yet(result, case: str, *, raised: str | None = None):
    assert isinstance(result, CheckResult), (case, result)
    assert result.passed is False, (case, result.message)
    message = result.message
    assert isinstance(message, str) and len(message) > 20 and "Traceback" not in message, (case, message)
    if raised is None:
        assert RECEIVED.search(message), (case, "does not say what was received", message)
    else:
        assert raised in message, (case, "does not name the exception", message)
        assert "Expected:" in message, (case, "does not say what was expected", message)


@pytest.mark.parametrize("name", CHECKS)
def test_odd_first_returns_and_exceptions_answer_not_yet(name):
    check = getattr(checks, name)
    n = n_functions(check)
    assert n >= 1
    for label, make in ODD_RETURNS.items():
        assert_not_yet(check(*[returning(make)] * n), f"{name} returning {label}")
    for label, make in ODD_RAISES.items():
        text = {"ValueError": "ValueError: bad value 42", "BrokenStr": "BrokenStr"}.get(label, label)
        assert_not_yet(check(*[raising(make)] * n), f"{name} raising {label}", raised=text)


def _switching(solution, after: int, odd):
    """``solution`` for the first ``after`` calls, then ``odd``."""
    calls = [0]

    def fn(*args, **kwargs):
        calls[0] += 1
        return solution(*args, **kwargs) if calls[0] <= after else odd(*args, **kwargs)
    return fn


LATER = {label: ODD_RETURNS[label] for label in ("None", "tensor(nan)", "unconnected grad leaf, 0-d",
                                                   "zeros(7, 3)", "[1.0, 2.0]", "(None, None)", "Hostile()",
                                                   "meta tensor", "'0.5'")}
LATER["np.array([0.123])"] = lambda: np.array([0.123])


@pytest.mark.parametrize("name", WITH_SOLUTION)
def test_odd_returns_at_later_calls_answer_not_yet(name):
    """Right answers first, then an odd one: every later call of the learner's function (the
    second batch, the second function, the fresh call of check_shared_layers) is guarded too."""
    check, solutions = getattr(checks, name), SOLUTIONS[name]
    for position in range(len(solutions)):
        calls = [0]

        def counting(*args, _solution=solutions[position], **kwargs):
            calls[0] += 1
            return _solution(*args, **kwargs)

        counted = list(solutions)
        counted[position] = counting
        assert check(*counted).passed
        for after in range(1, calls[0]):
            for label, make in LATER.items():
                fns = list(solutions)
                fns[position] = _switching(solutions[position], after, returning(make))
                assert_not_yet(check(*fns), f"{name}: function {position} returns {label} after {after} calls")
            fns = list(solutions)
            fns[position] = _switching(solutions[position], after, raising(lambda: ValueError("late 42")))
            assert_not_yet(check(*fns), f"{name}: function {position} raises after {after} calls",
                           raised="ValueError: late 42")


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("name", CHECKS)
def test_a_request_to_stop_propagates(name, stop):
    check = getattr(checks, name)
    with pytest.raises(stop):
        check(*[raising(stop)] * n_functions(check))


@pytest.mark.parametrize("name", WITH_SOLUTION)
def test_a_request_to_stop_propagates_from_later_calls(name):
    check, solutions = getattr(checks, name), SOLUTIONS[name]
    fns = list(solutions)
    fns[-1] = _switching(solutions[-1], 1, raising(KeyboardInterrupt))
    if name in ("check_generator_block", "check_acgan_losses", "check_real_logit"):   # one call only
        fns[-1] = raising(KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        check(*fns)


@pytest.mark.parametrize("name", CHECKS)
def test_a_result_instead_of_a_function_is_named(name):
    check = getattr(checks, name)
    for value in (torch.tensor(1.0), None, 0.5):
        result = check(*[value] * n_functions(check))
        assert_not_yet(result, f"{name}({value!r})")
        assert "takes your function itself" in result.message


# --- the four reproductions of the issue -------------------------------------------------

def test_issue_reproductions():
    # before: TypeError (only 0-dimensional arrays can be converted to Python scalars)
    result = checks.check_value_function(lambda r, f: np.array([1.0]))
    assert not result.passed and "got 1.000000" in result.message
    # before: TypeError (len() of a 0-d tensor)
    result = checks.check_mode_coverage(lambda s, m, sd: torch.tensor(0.0))
    assert not result.passed and "expected a pair" in result.message and "got a 0-d tensor" in result.message
    # before: RuntimeError from torch.autograd.grad (the tensor was not used in the graph)
    result = checks.check_cycle_loss(lambda real, rec: (rec - real).abs().mean().detach().requires_grad_(True))
    assert not result.passed and "not connected to the input" in result.message
    result = checks.check_nonsaturating_loss(lambda logits: F.softplus(-logits).mean().detach().requires_grad_())
    assert not result.passed and "not connected to the input" in result.message
    # before: the second call of the learner's function in check_shared_layers was unguarded
    calls = [0]

    def sharing_then_failing(s1, s2, n):
        calls[0] += 1
        if calls[0] > 4:
            raise ValueError("second call")
        return nn.Sequential(*s1), nn.Sequential(*s1[:n], *s2[n:])

    result = checks.check_shared_layers(sharing_then_failing)
    assert not result.passed and "second call with n_shared = 2" in result.message
    assert "ValueError: second call" in result.message


def test_safety_net_names_what_was_received_and_expected():
    """A check that trips over a value it did not foresee still answers, naming the value."""
    from gan_course.checks._common import _call, _guarded

    def check_double(fn):
        """Check ``fn(x) -> 2 x`` for a tensor x."""
        out, err = _call("double", fn, torch.ones(3))
        if err is not None:
            return err
        return CheckResult("double", bool((out == 2).all()), "doubles x.")   # out.__eq__ may raise

    guarded = _guarded(check_double)
    assert guarded is _guarded(guarded) and guarded.__doc__ == check_double.__doc__
    result = guarded(lambda x: Hostile())
    assert_not_yet(result, "safety net")
    assert result.message.startswith("your function returned a Hostile object, which the check could not use")
    assert "Expected: fn(x) -> 2 x for a tensor x." in result.message
    raised = guarded(lambda x: 1 / 0)
    assert raised.message == ("your function raised ZeroDivisionError: division by zero. "
                              "Expected: fn(x) -> 2 x for a tensor x.")
    assert guarded(lambda x: 2 * x).passed
    with pytest.raises(KeyboardInterrupt):
        guarded(raising(KeyboardInterrupt))


def test_every_exported_check_is_guarded_however_imported():
    from gan_course.checks import cyclegan, minimax

    for name in CHECKS:
        assert getattr(getattr(checks, name), "_gan_course_guarded", False), name
    assert minimax.check_value_function is checks.check_value_function
    assert cyclegan.check_cycle_loss is checks.check_cycle_loss


# --- item 8: the global random state --------------------------------------------------------

def _global_state():
    return torch.get_rng_state().clone(), np.random.get_state()[1].copy(), random.getstate()


def _assert_unchanged(before, case):
    after = _global_state()
    assert torch.equal(before[0], after[0]), f"{case}: torch's global generator changed"
    assert np.array_equal(before[1], after[1]), f"{case}: NumPy's global generator changed"
    assert before[2] == after[2], f"{case}: Python's random module changed"


def _draws_everywhere(*args, **kwargs):
    """A learner's function that draws from every global generator before failing."""
    torch.randn(3)
    np.random.rand()
    random.random()
    return None


@pytest.mark.parametrize("name", CHECKS)
def test_checks_leave_the_global_random_state_alone(name):
    # before: check_shared_layers and check_stargan_generator_loss reseeded torch's global
    # generator (torch.manual_seed), check_generator_block drew from it
    check = getattr(checks, name)
    torch.manual_seed(1234)
    np.random.seed(1234)
    random.seed(1234)
    cases = [("a drawing function", [_draws_everywhere] * n_functions(check))]
    if name in SOLUTIONS:
        cases.insert(0, ("the solution", list(SOLUTIONS[name])))
    for label, fns in cases:
        before = _global_state()
        check(*fns)
        _assert_unchanged(before, f"{name} with {label}")


def test_checks_with_models_are_deterministic_without_reseeding():
    """The StarGAN check builds its models from a seed of its own: its verdict (which quotes the
    expected loss) does not depend on the global state the learner left."""
    messages = set()
    for seed in (0, 1):
        torch.manual_seed(seed)
        messages.add(checks.check_stargan_generator_loss(lambda *args: 1.5 * _stargan_loss(*args)).message)
    assert len(messages) == 1 and "should be 9.85443" in messages.pop()
