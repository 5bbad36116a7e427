"""Training: one step function per game, one ``fit`` loop that serves them all, and the
minibatch iterator ``batches``.

Conventions of every step function (and of every new one):

* **Signature**: players, optimisers, batch iterators, noise (if the game has z), then
  keyword options: ``xxx_step(G, D, opt_g, opt_d, real_batches, noise, *, ...,
  precision=None, rng=None)``. ``precision`` is a :class:`gan_course.MixedPrecision`
  (default: float32); ``rng`` is the ``torch.Generator`` of every random draw inside the step
  (labels, target domains). No keyword is called ``generator``: in this book a generator is G.
* **Body**: banner comments as in the paper's algorithm, ``# 1. update D ...``,
  ``# 2. update G ...``; the player that is not updated is frozen (``set_requires_grad``).
* **Returns** 0-d tensors (no device sync) with the same core keys: ``loss_d``, ``loss_g``,
  ``d_real`` (mean D output on real data: a probability for cross-entropy games, the raw
  score for least squares), ``d_fake`` (the same on generated data, from the D step),
  ``grad_norm_d``, ``grad_norm_g``; extras with plain names (``loss_cls``, ``loss_cycle``,
  ``loss_rec``, ``class_acc_real``, ...). A game played without a discriminator (an ablation,
  ``adversarial=False``) leaves out the keys about D.
* **Schedulers** are stepped by the caller or by ``fit(..., schedulers=[...])``, never inside
  a step; :func:`linear_decay` is CycleGAN's schedule.

``fit(step_fn, steps, ...)`` calls a step ``steps`` times with a progress bar, keeps the
history, takes snapshots at chosen steps (usually ``gc.frozen_copy`` of a model), and stops
with a diagnosis when a value becomes NaN or infinite.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from . import losses
from .runtime import MixedPrecision


class TrainingDiverged(RuntimeError):
    """Raised by :func:`fit` when a loss, a gradient or a recorded value stops being finite.

    ``step``: the step where it happened; ``source``: where the non-finite value came from,
    ``"data"``, the role of a player (``"discriminator"``, ``"generator"``, ...), or
    ``"unknown"`` (a step function that does not update through this module).
    """

    def __init__(self, message: str, *, step: int | None = None, source: str = "unknown"):
        super().__init__(message)
        self.step, self.source = step, source


def set_requires_grad(module: nn.Module, flag: bool) -> None:
    """Freeze (False) or unfreeze (True) every parameter of ``module``."""
    for p in module.parameters():
        p.requires_grad_(flag)


def grad_norm(*modules: nn.Module) -> torch.Tensor:
    """L2 norm of all gradients of the modules' parameters, as a 0-d tensor (0 when none)."""
    norms = [p.grad.detach().norm() for m in modules for p in m.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())


def batches(data, batch_size: int, *, rng: torch.Generator | None = None,
            device: torch.device | str = "cpu") -> Iterator:
    """An endless iterator of real minibatches of ``batch_size`` rows.

    ``data`` is one of:

    * a tensor (N, ...): yields tensors (batch_size, ...);
    * a tuple of tensors with the same number of rows, e.g. ``(images, labels)`` or
      ``(inputs, targets)``: yields tuples of batches, the same rows from each;
    * a sampler, anything with a method ``sample(n, rng)`` (the toy mixtures): yields
      ``sample(batch_size, rng)``.

    Tensors are reshuffled every epoch with ``rng`` (an epoch's last incomplete batch is
    dropped); batches are moved to ``device``.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if hasattr(data, "sample") and not torch.is_tensor(data):
        while True:
            batch = data.sample(batch_size, rng).to(device)
            if _active_guard is not None:
                _active_guard.note_batch((batch,), None)
            yield batch
    tensors = data if isinstance(data, tuple) else (data,)
    if not tensors or not all(torch.is_tensor(t) for t in tensors):
        hint = ""
        if hasattr(data, "images"):
            hint = " (for an ImageData pass data.images, or (data.images, data.labels) for labelled batches)"
        elif hasattr(data, "inputs"):
            hint = " (for a PairedData pass (data.inputs, data.targets))"
        raise TypeError("batches takes a tensor, a tuple of tensors or a sampler with sample(n, rng), "
                        f"got {type(data).__name__}{hint}")
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"the tensors of a tuple must have the same number of rows, got {[len(t) for t in tensors]}")
    if n < batch_size:
        raise ValueError(f"need a tensor with at least {batch_size} rows, got {n}")
    while True:
        order = torch.randperm(n, generator=rng)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = order[start:start + batch_size]
            out = tuple(t[idx].to(device) for t in tensors)
            if _active_guard is not None:
                _active_guard.note_batch(out, idx)
            yield out if isinstance(data, tuple) else out[0]


def linear_decay(optimizer: torch.optim.Optimizer, total_steps: int, decay_from: float = 0.5):
    """CycleGAN's schedule (Chapter 8): constant learning rate, then linear decay to zero.

    The rate stays at its initial value for the first ``decay_from`` fraction of
    ``total_steps`` and falls linearly to 0 at ``total_steps``. Step it once per training
    step: ``fit(..., schedulers=[linear_decay(opt_g, steps)])``.
    """
    start = int(total_steps * decay_from)

    def factor(step: int) -> float:
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start) / max(1, total_steps - start))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


_FP32 = MixedPrecision("cpu", enabled=False)


def _update(opt: torch.optim.Optimizer, loss: torch.Tensor, mp: MixedPrecision, *players: nn.Module) -> torch.Tensor:
    """One optimiser step on ``loss``; returns the gradient norm of the players it updates.

    Inside :func:`fit`, a NaN or inf in the loss or the gradient stops training before the
    optimiser step (see ``_Guard``).
    """
    opt.zero_grad(set_to_none=True)
    mp.backward(loss)
    mp.unscale(opt)
    norm = grad_norm(*players)
    if _active_guard is not None:
        _active_guard.before_optimizer_step(opt, loss, norm, players, mp)
    mp.step(opt)
    return norm


def _core(loss_d, loss_g, d_real, d_fake, norm_d, norm_g, **extras) -> dict:
    """The core keys of every step's result, detached, followed by the extras."""
    out = {"loss_d": loss_d, "loss_g": loss_g, "d_real": d_real, "d_fake": d_fake,
           "grad_norm_d": norm_d, "grad_norm_g": norm_g, **extras}
    return {key: value.detach() for key, value in out.items()}


def _mean_probability(logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits.detach().float()).mean()


def gan_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
             real_batches: Iterator[torch.Tensor], noise: Callable[[int], torch.Tensor], *,
             k: int = 1, g_loss: str | Callable = "nonsaturating", d_loss: str | Callable = "bce",
             precision: MixedPrecision | None = None) -> dict:
    """One iteration of the unconditional game: k discriminator steps, then one generator step
    on the generated batch of the last discriminator step (Algorithm 1 of Goodfellow et al.).

    ``noise(n)`` returns a batch of z. Losses: ``d_loss`` = ``bce`` (the GAN of Chapters 1-5)
    or ``least_squares`` (LSGAN, Chapter 6); ``g_loss`` = ``nonsaturating`` (default),
    ``minimax`` or ``least_squares``. Either may also be a function of logits with the
    signature of the named ones (``d_loss(real_logits, fake_logits)``, ``g_loss(fake_logits)``),
    e.g. a deliberately wrong loss (Chapter 2); D(x) is then read through a sigmoid.
    ``d_real`` and ``d_fake`` are mean probabilities for ``bce``, mean raw scores for
    ``least_squares``, from the last D step.
    """
    if k < 1:
        raise ValueError(f"k (discriminator steps per generator step) must be >= 1, got {k}")
    g_loss_fn = g_loss if callable(g_loss) else losses.generator_loss(g_loss)
    d_loss_fn = d_loss if callable(d_loss) else losses.discriminator_loss_named(d_loss)
    mp = precision or _FP32
    as_prob = torch.sigmoid if callable(d_loss) or d_loss == "bce" else (lambda t: t)

    # 1. update D, k times; G is frozen (its samples enter D detached, as constants)
    set_requires_grad(D, True)
    for i in range(k):
        real = next(real_batches)
        last = i == k - 1
        with torch.set_grad_enabled(last), mp.autocast():
            fake = G(noise(real.shape[0]))   # the last batch is kept, with its graph, for step 2
        with mp.autocast():
            real_logits, fake_logits = D(real).float(), D(fake.detach()).float()
            loss_d = d_loss_fn(real_logits, fake_logits)
        norm_d = _update(opt_d, loss_d, mp, D)

    # 2. update G once on the last generated batch; D is frozen (gradients flow through it,
    #    its weights stay). Reusing that batch saves a generator forward pass per iteration.
    set_requires_grad(D, False)
    with mp.autocast():
        loss_g = g_loss_fn(D(fake).float())
    norm_g = _update(opt_g, loss_g, mp, G)
    set_requires_grad(D, True)

    return _core(loss_d, loss_g, as_prob(real_logits.detach()).mean(), as_prob(fake_logits.detach()).mean(),
                 norm_d, norm_g)


@dataclass
class History:
    """What :func:`fit` recorded: ``values[name]`` lists, the ``steps`` they belong to,
    ``snapshots[step]`` (whatever the snapshot function returned), and timing."""

    steps: list = field(default_factory=list)
    values: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)
    seconds: float = 0.0

    def __getitem__(self, key: str) -> list:
        if key == "step":
            return self.steps
        return self.values[key]

    def __contains__(self, key: str) -> bool:
        return key == "step" or key in self.values

    def __iter__(self):
        return iter(["step", *self.values])

    def keys(self):
        return ["step", *self.values]

    def get(self, key: str, default=None):
        return self[key] if key in self else default

    def last(self, key: str, n: int = 1) -> float:
        """Mean of the last ``n`` recorded values of ``key`` (``n`` >= 1)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer (how many of the last values to average), got {n!r}")
        if key not in self.values:
            raise KeyError(f"nothing recorded under {key!r}; recorded: {', '.join(self.values) or 'nothing yet'}")
        tail = self.values[key][-n:]
        if not tail:
            raise ValueError(f"no value of {key!r} has been recorded yet")
        return sum(tail) / len(tail)

    def record(self, step: int, scalars: dict) -> None:
        self.steps.append(step)
        for key, value in scalars.items():
            self.values.setdefault(key, []).append(float(value))


# ---------------------------------------------------------------------------------------
# fit's guard against NaN and inf
# ---------------------------------------------------------------------------------------

_active_guard: _Guard | None = None   # the guard of the running fit, reached by _update and batches


def _plural(role: str, n: int) -> str:
    return role if n == 1 or role.endswith("s") else role + "s"


def _non_finite(tensor: torch.Tensor) -> bool:
    return (tensor.is_floating_point() or tensor.is_complex()) and not bool(torch.isfinite(tensor).all())


def _copy_all(targets: list[torch.Tensor], sources: list[torch.Tensor]) -> None:
    """``t.copy_(s)`` for every pair, in one multi-tensor operation where PyTorch has it."""
    if not targets:
        return
    with torch.no_grad():
        if hasattr(torch, "_foreach_copy_"):
            torch._foreach_copy_(targets, sources)
        else:
            for t, s in zip(targets, sources):
                t.copy_(s)


class _Guard:
    """What :func:`fit` watches while it runs, reached by ``_update`` (the optimiser step of
    every step function of this module) and by :func:`batches` (every batch drawn).

    On a checked step (every step when ``check_every`` = 1) each optimiser step is preceded by
    one read of ``loss + gradient norm`` (a device sync): a NaN or inf stops training before the
    optimiser touches the weights, and the batch-norm statistics taken in by the failing forward
    pass are put back (saved at the start of the step; for a player first seen in that very step,
    statistics that took in NaN or inf are reset instead). Between checked steps the same test is
    kept on the device, without a sync, and read at the next checked step; a failure then
    restores the weights, buffers and optimiser states saved at the last checked step (for a
    player first seen then: its weights and optimiser state from before its first update, its
    statistics from after that step's forward pass).
    """

    def __init__(self, check_every: int, start_step: int):
        self.check_every, self.start_step = check_every, start_step
        self.step, self.checking = start_step, True
        self.players: dict[int, nn.Module] = {}         # every module an optimiser step updated
        self.seen_at: dict[int, int] = {}               # the step where each was first seen
        self.trainable: dict[int, list[bool]] = {}      # its parameters' requires_grad when first seen
        self.buffers: dict[int, tuple[list, list]] = {}  # its buffers, and copies of them
        self.live_buffers: list[torch.Tensor] = []      # all buffers and all copies, flat, so that
        self.copied_buffers: list[torch.Tensor] = []    # saving them is one multi-tensor copy
        self.optimizers: dict[int, torch.optim.Optimizer] = {}
        self.roles: dict[int, str] = {}                 # learned from the keys a step returns
        self.updates: list = []                         # this step's updates: (players, loss)
        self.drawn: list = []                           # this step's batches from batches(): (tensors, rows)
        self.pending: list = []                         # unchecked updates: (step, players, loss + norm)
        self.pending_batches: list = []                 # unchecked batches: (step, sum of a tensor)
        self.saved_step: int | None = None
        self.saved_params: dict[int, list[torch.Tensor]] = {}
        self.saved_optimizers: dict[int, dict] = {}

    # --- called by fit ---------------------------------------------------------------------

    def begin(self, step: int) -> None:
        self.step = step
        self.checking = (step - self.start_step) % self.check_every == 0
        self.updates.clear()
        self.drawn.clear()
        if self.checking:
            self.verify_pending()
            self.saved_step = step
            _copy_all(self.copied_buffers, self.live_buffers)
            if self.check_every > 1:
                self.saved_params = {key: [p.detach().clone() for p in m.parameters()]
                                     for key, m in self.players.items()}
                self.saved_optimizers = {key: copy.deepcopy(opt.state_dict()) for key, opt in self.optimizers.items()}

    def end(self, scalars: dict) -> None:
        """Learn each player's role from the key under which the step returned its loss."""
        for players, loss in self.updates:
            if all(id(m) in self.roles for m in players):
                continue
            for key, role in (("loss_d", "discriminator"), ("loss_g", "generator")):
                value = scalars.get(key)
                if torch.is_tensor(value) and value.shape == loss.shape and value.data_ptr() == loss.data_ptr():
                    for m in players:
                        self.roles[id(m)] = role

    def verify_pending(self) -> None:
        """Read the flags of the unchecked steps (one sync); restore and raise if one failed."""
        if not self.pending and not self.pending_batches:
            return
        tests = [v for *_, v in self.pending] + [f for _, f in self.pending_batches]
        device = tests[0].device
        dtype = torch.float32 if device.type == "mps" else torch.float64
        flags = torch.isfinite(torch.stack([t.to(device, dtype) for t in tests])).tolist()   # the one sync
        updates, batches_ = self.pending, self.pending_batches
        self.pending, self.pending_batches = [], []
        bad_updates = [u for u, ok in zip(updates, flags) if not ok]
        bad_batches = [b for b, ok in zip(batches_, flags[len(updates):]) if not ok]
        if not bad_updates and not bad_batches:
            return
        first = min([u[0] for u in bad_updates] + [b[0] for b in bad_batches])
        spoilt = sorted({self._role(m) for m in self.players.values() if any(_non_finite(p) for p in m.parameters())})
        if any(b[0] == first for b in bad_batches):
            source, why = "data", f"the data: a batch drawn at step {first} holds NaN or inf"
        else:
            players = next(u[1] for u in bad_updates if u[0] == first)
            source = self._role(*players)
            why = f"the update of the {source}: its loss or gradient became NaN or inf at step {first}"
        if spoilt:
            why += f" (by step {self.step} the weights of the {' and the '.join(spoilt)} held NaN or inf)"
        self._restore(full=True)
        raise TrainingDiverged(
            f"training stopped at step {self.step}: a value became non-finite at step {first}, between two checks "
            f"(check_every={self.check_every}). Source: {why}. The weights, batch-norm statistics and optimiser "
            f"states saved at step {self.saved_step}, the last checked step, were restored: every weight is finite. "
            "fit(..., check_every=1) stops before the optimiser step that meets the value and names its rows.",
            step=first, source=source)

    # --- called by _update and batches -----------------------------------------------------

    def note_batch(self, tensors: tuple, rows: torch.Tensor | None) -> None:
        if self.checking:
            self.drawn.append((tensors, rows))     # read only if this step fails
            return
        for t in tensors:
            if t.is_floating_point():      # NaN and inf survive the sum (float64: no overflow); read later
                self.pending_batches.append((self.step, t.sum(dtype=torch.float64 if t.device.type != "mps"
                                                               else None)))

    def before_optimizer_step(self, opt, loss: torch.Tensor, norm: torch.Tensor, players: tuple,
                              mp: MixedPrecision) -> None:
        self._register(opt, players)
        test = loss.detach() if loss.ndim == 0 else loss.detach().sum()
        if not mp.scaler.is_enabled():     # with loss scaling, an inf gradient is the scaler's business
            test = test + norm.to(test.device)
        if self.checking:
            if not math.isfinite(float(test)):     # the sync: one number
                self._trip(opt, loss, norm, players, mp)
        else:
            self.pending.append((self.step, players, test))     # read at the next check
        self.updates.append((players, loss))

    # --- helpers -----------------------------------------------------------------------------

    def _register(self, opt, players: tuple) -> None:
        for m in players:
            key = id(m)
            if key not in self.players:
                self.players[key], self.seen_at[key] = m, self.step
                self.trainable[key] = [p.requires_grad for p in m.parameters()]
                live = list(m.buffers())
                self.buffers[key] = (live, [b.detach().clone() for b in live])
                self.live_buffers += live
                self.copied_buffers += self.buffers[key][1]
                if self.check_every > 1:          # first seen: save it before its first optimiser step
                    self.saved_params[key] = [p.detach().clone() for p in m.parameters()]
        if id(opt) not in self.optimizers:
            self.optimizers[id(opt)] = opt
            if self.check_every > 1:
                self.saved_optimizers[id(opt)] = copy.deepcopy(opt.state_dict())

    def _role(self, *players: nn.Module) -> str:
        roles = []
        for m in players:
            role = self.roles.get(id(m))
            if role is None:
                kind = type(getattr(m, "_orig_mod", m)).__name__
                role = ("discriminator" if "Discriminator" in kind or "Critic" in kind
                        else "generator" if "Generator" in kind else f"model ({kind})")
            roles.append(role)
        return _plural(roles[0], len(roles)) if len(set(roles)) == 1 else " and ".join(roles)

    def _restore(self, full: bool) -> list[str]:
        """Put back what was saved; returns what was done, in words."""
        done = []
        with torch.no_grad():
            for key, m in self.players.items():
                if full and key in self.saved_params:
                    for p, saved in zip(m.parameters(), self.saved_params[key]):
                        p.copy_(saved)
                live, copies = self.buffers[key]
                if full or self.seen_at[key] < self.step:
                    _copy_all(live, copies)
                else:          # first seen in this step, so no copy from its start: statistics that took in
                    #                NaN or inf start afresh
                    reset = [layer for layer in m.modules() if hasattr(layer, "reset_running_stats")
                             and any(_non_finite(b) for b in layer.buffers())]
                    for layer in reset:
                        layer.reset_running_stats()
                    if reset:
                        done.append(f"the running statistics of {len(reset)} normalisation layer(s) of the "
                                    f"{self._role(m)} were reset (they had taken in the non-finite values)")
                for p, flag in zip(m.parameters(), self.trainable[key]):
                    p.requires_grad_(flag)
        if full:
            for key, opt in self.optimizers.items():
                if key in self.saved_optimizers:
                    opt.load_state_dict(self.saved_optimizers[key])
        return done

    def _trip(self, opt, loss, norm, players: tuple, mp: MixedPrecision) -> None:
        """A non-finite loss or gradient at a checked step: no optimiser step; say where it came from."""
        opt.zero_grad(set_to_none=True)
        if mp.scaler.is_enabled():
            mp.scaler.update()          # close the scaler's bookkeeping of this iteration
        role, step = self._role(*players), self.step
        value = float(loss.detach().sum())
        what = f"its loss is {value}" if not math.isfinite(value) else \
            f"its loss is finite ({value:.4g}) but its gradient norm is {float(norm)}"
        # 1. the data drawn through batches() in this step
        source, why = None, ""
        for tensors, rows in self.drawn:
            for t in tensors:
                if t.is_floating_point() and _non_finite(t):
                    bad = ~torch.isfinite(t.reshape(len(t), -1)).all(dim=1)
                    where = bad.nonzero().flatten().cpu()
                    named = rows.cpu()[where] if rows is not None else where
                    what_rows = "data rows" if rows is not None else "rows of the sampled batch"
                    source = "data"
                    why = (f"the data: the batch drawn at step {step} holds NaN or inf in {int(bad.sum())} of its "
                           f"{len(t)} rows ({what_rows} {named[:5].tolist()}{', ...' if len(named) > 5 else ''}). "
                           "Find them with (~torch.isfinite(x.flatten(1)).all(1)).nonzero() and remove or repair "
                           "them")
                    break
            if source:
                break
        # 2. the weights of every player
        if source is None:
            spoilt = [m for m in self.players.values() if any(_non_finite(p) for p in m.parameters())]
            if spoilt:
                source = self._role(spoilt[0])
                why = (f"the {self._role(*spoilt)}: its weights already hold NaN or inf (they were changed "
                       "outside fit's checks, e.g. by an optimiser step of another loop)")
        # 3. the update itself
        if source is None:
            source = role
            largest = max((float(p.detach().abs().max()) for m in players for p in m.parameters() if p.numel()),
                          default=0.0)
            hint = (f"its weights have grown large (largest |weight| {largest:.3g}): a learning rate too high is "
                    "the likely cause" if largest > 1e3 else
                    f"its weights are moderate (largest |weight| {largest:.3g}), so look at the loss itself, e.g. "
                    "a log of 0 (a loss computed from probabilities instead of logits) or a division by 0")
            if self.drawn:
                why = (f"the {role}'s update: the batches drawn through gc.train.batches and every weight are "
                       f"finite, so the value arose in computing this update; {hint}")
            else:
                why = (f"the {role}'s update (every weight is finite). This step's batches did not come from "
                       "gc.train.batches, so fit could not check them: look for NaN or inf in them first "
                       f"(torch.isfinite(x).all()); if they are finite, {hint}")
        notes = self._restore(full=False)
        kept = "No optimiser step was taken on it: every weight is finite"
        if notes:
            kept += "; " + "; ".join(notes)
        elif self.live_buffers:
            kept += f", and the batch-norm statistics are those of the start of step {step}"
        raise TrainingDiverged(
            f"training stopped at step {step}, before the optimiser step of the {role}: {what}. "
            f"Source: {why.rstrip('.')}. {kept}.", step=step, source=source)


def fit(step_fn: Callable[[], dict], steps: int, *, snapshot_at: Iterable[int] = (),
        snapshot_fn: Callable[[], object] | None = None, schedulers: Iterable = (), log_every: int = 1,
        check_every: int = 1, progress: bool = True, history: History | None = None, start_step: int = 0,
        desc: str = "training") -> History:
    """Call ``step_fn()`` ``steps`` times and record its scalars every ``log_every`` steps.

    Scalars may be floats or 0-d tensors; they are read (one device sync) only at logged
    steps, where they are also checked.
    ``snapshot_fn()`` is called before the steps listed in ``snapshot_at`` (0 = before
    training, ``steps`` = after the last); ``lambda: gc.frozen_copy(G)`` keeps the weights.
    Every learning-rate scheduler in ``schedulers`` is stepped once after every call of
    ``step_fn``.

    NaN and inf: the step functions of this module check, inside ``fit``, each loss and
    gradient norm before their optimiser step, every ``check_every`` steps (one host read per
    optimiser step; between checks the test stays on the device). A non-finite value raises
    :class:`TrainingDiverged` naming the step, the player, and the source (the data, with its
    row numbers, a player's weights, or a player's update) with the weights finite: at a checked
    step no optimiser step is taken on the value; with ``check_every`` > 1 the players and
    optimisers saved at the last checked step are restored. A step function of your own is
    checked through the scalars it returns, at logged steps only, after its optimiser steps.
    """
    for label, value in (("steps", steps), ("log_every", log_every), ("check_every", check_every)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{label} must be an integer, got {value!r}")
    steps, log_every, check_every = int(steps), int(log_every), int(check_every)
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if log_every < 1:
        raise ValueError(f"log_every must be a positive integer (record the scalars every log_every steps), "
                         f"got {log_every}")
    if check_every < 1:
        raise ValueError(f"check_every must be a positive integer (check losses for NaN every check_every "
                         f"steps), got {check_every}")
    history = history if history is not None else History()
    wanted, schedulers = set(snapshot_at), list(schedulers)
    if wanted and snapshot_fn is None:
        raise ValueError("snapshot_at was given without a snapshot_fn")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=desc, leave=False, mininterval=1.0)
    global _active_guard
    guard, outer = _Guard(check_every, start_step), _active_guard
    _active_guard = guard
    start = time.perf_counter()
    try:
        for step in range(start_step, start_step + steps + 1):
            if step in wanted:
                history.snapshots[step] = snapshot_fn()
            if step == start_step + steps:
                break
            guard.begin(step)
            scalars = step_fn()
            guard.end(scalars)
            for scheduler in schedulers:
                scheduler.step()
            if step % log_every != 0:
                if bar is not None:
                    bar.update(1)
                continue
            scalars = {k: float(v) for k, v in scalars.items()}  # the only sync with the device
            bad = {k: v for k, v in scalars.items() if not math.isfinite(v)}
            if bad:
                guard.verify_pending()      # an unchecked step that went wrong: restore and say so
                name, value = next(iter(bad.items()))
                last = {k: round(history.values[k][-1], 4) for k in history.values if history.values[k]}
                context = ("The losses and gradients of every optimiser step were finite: look at how this "
                           "value is computed." if guard.players else
                           "This step function does not update through gan_course.train, so fit could not check "
                           "its losses before its optimiser steps: the weights may already hold NaN or inf. "
                           "Look for NaN or inf in the data (torch.isfinite(x).all()), then in each loss.")
                raise TrainingDiverged(f"{name} became {value} at step {step}; training stopped. Last finite "
                                       f"values: {last}. {context}", step=step)
            history.record(step, scalars)
            if bar is not None:
                bar.update(1)
                if step % max(1, steps // 100) == 0:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in list(scalars.items())[:4]}, refresh=False)
        guard.step = start_step + steps
        guard.verify_pending()
    finally:
        _active_guard = outer
        if bar is not None:
            bar.close()
        history.seconds += time.perf_counter() - start
    return history


# ---------------------------------------------------------------------------------------
# Conditional games (Chapter 7)
# ---------------------------------------------------------------------------------------


def _random_labels(n: int, n_classes: int, like: torch.Tensor, rng: torch.Generator | None) -> torch.Tensor:
    return torch.randint(n_classes, (n,), generator=rng).to(like.device)


def conditional_step(G: nn.Module, D: nn.Module, opt_g, opt_d, real_batches, noise, *, n_classes: int,
                     precision: MixedPrecision | None = None, rng: torch.Generator | None = None) -> dict:
    """One iteration of the conditional GAN: D(x, y) judges an image together with its label.

    ``real_batches`` yields (images, labels). Generated images get labels drawn uniformly
    with ``rng``. Non-saturating generator loss.
    """
    mp = precision or _FP32
    # 1. update D on real pairs (x, y) and generated pairs (G(z, y'), y')
    set_requires_grad(D, True)
    real, y_real = next(real_batches)
    y_fake = _random_labels(len(real), n_classes, real, rng)
    with mp.autocast():
        fake = G(noise(len(real)), y_fake)
        real_logits, fake_logits = D(real, y_real), D(fake.detach(), y_fake)
        loss_d = losses.discriminator_loss(real_logits, fake_logits)
    norm_d = _update(opt_d, loss_d, mp, D)
    # 2. update G: its images, with the labels it was asked for, should look real to D
    set_requires_grad(D, False)
    with mp.autocast():
        loss_g = losses.generator_loss_nonsaturating(D(fake, y_fake))
    norm_g = _update(opt_g, loss_g, mp, G)
    set_requires_grad(D, True)
    return _core(loss_d, loss_g, _mean_probability(real_logits), _mean_probability(fake_logits), norm_d, norm_g)


def acgan_step(G: nn.Module, D: nn.Module, opt_g, opt_d, real_batches, noise, *, n_classes: int,
               classify_fake: bool = True, precision: MixedPrecision | None = None,
               rng: torch.Generator | None = None) -> dict:
    """One iteration of ACGAN: D predicts the source (real/generated) and the class of every image.

    D's loss: source cross-entropy + class cross-entropy on real and on generated images
    (``classify_fake=False``: on real images only, a common variant that keeps D's classifier
    from learning the generator's own cues for each class).
    G's loss: non-saturating source loss + class cross-entropy of its images with the asked label.
    Extras: ``loss_cls`` (D's class loss) and ``class_acc_real`` (D's accuracy on real images).
    """
    mp = precision or _FP32
    # 1. update D: tell real from generated, and classify both
    set_requires_grad(D, True)
    real, y_real = next(real_batches)
    y_fake = _random_labels(len(real), n_classes, real, rng)
    with mp.autocast():
        fake = G(noise(len(real)), y_fake)
        src_real, cls_real = D(real)
        src_fake, cls_fake = D(fake.detach())
        loss_src = losses.discriminator_loss(src_real, src_fake)
        loss_cls = losses.classification_loss(cls_real, y_real)
        if classify_fake:
            loss_cls = loss_cls + losses.classification_loss(cls_fake, y_fake)
        loss_d = loss_src + loss_cls
    norm_d = _update(opt_d, loss_d, mp, D)
    # 2. update G: look real, and be recognised as the class asked for
    set_requires_grad(D, False)
    with mp.autocast():
        src, cls = D(fake)
        loss_g = losses.generator_loss_nonsaturating(src) + losses.classification_loss(cls, y_fake)
    norm_g = _update(opt_g, loss_g, mp, G)
    set_requires_grad(D, True)
    acc = (cls_real.detach().argmax(1) == y_real).float().mean()
    return _core(loss_d, loss_g, _mean_probability(src_real), _mean_probability(src_fake), norm_d, norm_g,
                 loss_cls=loss_cls, class_acc_real=acc)


def semi_supervised_step(G: nn.Module, D: nn.Module, opt_g, opt_d, labelled_batches, unlabelled_batches,
                         noise, *, precision: MixedPrecision | None = None) -> dict:
    """One iteration of the semi-supervised GAN (Salimans et al., 2016), K+1 classes.

    D (a :class:`~gan_course.models.SemiSupervisedDiscriminator`) is trained with the
    cross-entropy on the few labelled images, and to call unlabelled real images "real" and
    generated ones "fake", where logit(real) = logsumexp of its K class logits. G uses
    feature matching: it matches the mean of ``D.features`` on real and generated images.
    Extras: ``loss_sup`` and ``loss_unsup``, the two parts of D's loss.
    """
    mp = precision or _FP32
    # 1. update D: supervised loss on labelled data + unsupervised real/fake loss
    set_requires_grad(D, True)
    x_lab, y_lab = next(labelled_batches)
    x_unl = next(unlabelled_batches)
    with mp.autocast():
        fake = G(noise(len(x_unl)))
        loss_sup = losses.classification_loss(D(x_lab), y_lab)
        real_logit, fake_logit = D.real_logit(D(x_unl)), D.real_logit(D(fake.detach()))
        loss_unsup = losses.discriminator_loss(real_logit, fake_logit)
        loss_d = loss_sup + loss_unsup
    norm_d = _update(opt_d, loss_d, mp, D)
    # 2. update G by feature matching on D's last hidden layer
    set_requires_grad(D, False)
    with mp.autocast():
        f_real = D.features(x_unl).detach().mean(0)
        f_fake = D.features(fake).mean(0)
        loss_g = ((f_real - f_fake) ** 2).mean()
    norm_g = _update(opt_g, loss_g, mp, G)
    set_requires_grad(D, True)
    return _core(loss_d, loss_g, _mean_probability(real_logit), _mean_probability(fake_logit), norm_d, norm_g,
                 loss_sup=loss_sup, loss_unsup=loss_unsup)


def pix2pix_step(G: nn.Module, D: nn.Module | None, opt_g, opt_d, pair_batches, *, lambda_l1: float = 100.0,
                 adversarial: bool = True, precision: MixedPrecision | None = None) -> dict:
    """One iteration of pix2pix: G translates input a to b; a PatchGAN D judges pairs (a, b).

    G's loss: non-saturating adversarial loss on the pair (a, G(a)) + lambda_l1 · |G(a) - b|.
    ``adversarial=False`` (D unused; the keys about D and ``loss_adv`` left out) gives the
    L1-only baseline; ``lambda_l1=0`` the adversarial-only one. ``d_real`` / ``d_fake``: D's
    mean patch probability on real and generated pairs. Extras: ``loss_adv`` and ``loss_l1``,
    the two parts of G's loss.
    """
    mp = precision or _FP32
    a, b = next(pair_batches)
    if a.shape[0] != b.shape[0] or a.shape[2:] != b.shape[2:]:
        raise ValueError(f"paired batches differ in shape: input {tuple(a.shape)}, target {tuple(b.shape)}")
    with mp.autocast():
        fake = G(a)
    out = {}
    if adversarial:
        # 1. update D on real pairs (a, b) and generated pairs (a, G(a))
        set_requires_grad(D, True)
        with mp.autocast():
            real_logits, fake_logits = D(torch.cat([a, b], 1)), D(torch.cat([a, fake.detach()], 1))
            loss_d = losses.discriminator_loss(real_logits, fake_logits)
        norm_d = _update(opt_d, loss_d, mp, D)
        set_requires_grad(D, False)
        with mp.autocast():
            loss_adv = losses.generator_loss_nonsaturating(D(torch.cat([a, fake], 1)))
        out.update(loss_d=loss_d, d_real=_mean_probability(real_logits), d_fake=_mean_probability(fake_logits),
                   grad_norm_d=norm_d, loss_adv=loss_adv)
    else:
        loss_adv = torch.zeros((), device=a.device)
    # 2. update G: fool the patch discriminator and stay close to the target in L1
    with mp.autocast():
        loss_l1 = losses.reconstruction_loss(fake, b)
        loss_g = loss_adv + lambda_l1 * loss_l1
    norm_g = _update(opt_g, loss_g, mp, G)
    if adversarial:
        set_requires_grad(D, True)
    out.update(loss_g=loss_g, grad_norm_g=norm_g, loss_l1=loss_l1)
    return {key: value.detach() for key, value in out.items()}


# ---------------------------------------------------------------------------------------
# Unpaired and multi-domain translation (Chapters 8-10)
# ---------------------------------------------------------------------------------------


def cyclegan_step(G_ab: nn.Module, G_ba: nn.Module, D_a: nn.Module | None, D_b: nn.Module | None, opt_g, opt_d,
                  batches_a, batches_b, *, pools=None, lambda_cycle: float = 10.0, lambda_identity: float = 0.5,
                  adversarial: bool = True, precision: MixedPrecision | None = None) -> dict:
    """One iteration of CycleGAN with least-squares adversarial losses (Zhu et al., 2017).

    Generators: adversarial loss for both mappings + lambda_cycle x (|G_ba(G_ab(a)) - a| +
    |G_ab(G_ba(b)) - b|) + lambda_cycle x lambda_identity x (|G_ab(b) - b| + |G_ba(a) - a|).
    Ablations: ``lambda_cycle=0`` (adversarial only), ``adversarial=False`` (cycle only, no D;
    the keys about D are left out). ``opt_g`` optimises both generators, ``opt_d`` both
    discriminators; ``pools`` is a pair of :class:`~gan_course.models.ImagePool` (history
    buffers of generated A and B images) or None. ``d_real`` / ``d_fake``: the mean
    least-squares scores of both discriminators on real and on (pooled) generated images.
    Extras: ``loss_cycle`` (before the factor lambda_cycle), ``loss_identity``, ``loss_adv``.
    The learning-rate decay of the paper is ``fit(..., schedulers=[linear_decay(opt_g, n), ...])``.
    """
    mp = precision or _FP32
    real_a, real_b = next(batches_a), next(batches_b)
    if real_a.shape[0] != real_b.shape[0]:
        raise ValueError(f"the two domains' batches differ in size: {real_a.shape[0]} and {real_b.shape[0]}")
    out = {}
    # 1. update both generators; the discriminators are frozen
    if adversarial:
        set_requires_grad(D_a, False)
        set_requires_grad(D_b, False)
    with mp.autocast():
        fake_b, fake_a = G_ab(real_a), G_ba(real_b)
        loss_cycle = (losses.cycle_consistency_loss(real_a, G_ba(fake_b))
                      + losses.cycle_consistency_loss(real_b, G_ab(fake_a)))
        loss_g = lambda_cycle * loss_cycle
        if lambda_identity > 0 and lambda_cycle > 0:
            loss_id = losses.identity_loss(G_ab(real_b), real_b) + losses.identity_loss(G_ba(real_a), real_a)
            loss_g = loss_g + lambda_cycle * lambda_identity * loss_id
            out["loss_identity"] = loss_id
        if adversarial:
            loss_adv = (losses.generator_loss_least_squares(D_b(fake_b))
                        + losses.generator_loss_least_squares(D_a(fake_a)))
            loss_g = loss_g + loss_adv
            out["loss_adv"] = loss_adv
    out["grad_norm_g"] = _update(opt_g, loss_g, mp, G_ab, G_ba)
    # 2. update both discriminators on real images and (pooled) generated ones
    if adversarial:
        set_requires_grad(D_a, True)
        set_requires_grad(D_b, True)
        pool_a, pool_b = pools if pools is not None else (None, None)
        old_b = pool_b.query(fake_b) if pool_b is not None else fake_b.detach()
        old_a = pool_a.query(fake_a) if pool_a is not None else fake_a.detach()
        with mp.autocast():
            real_scores_b, fake_scores_b = D_b(real_b), D_b(old_b)
            real_scores_a, fake_scores_a = D_a(real_a), D_a(old_a)
            loss_d = (losses.discriminator_loss_least_squares(real_scores_b, fake_scores_b)
                      + losses.discriminator_loss_least_squares(real_scores_a, fake_scores_a))
        out["grad_norm_d"] = _update(opt_d, loss_d, mp, D_a, D_b)
        out.update(loss_d=loss_d, d_real=(real_scores_a.mean() + real_scores_b.mean()) / 2,
                   d_fake=(fake_scores_a.mean() + fake_scores_b.mean()) / 2)
    out.update(loss_g=loss_g, loss_cycle=loss_cycle)
    return {key: value.detach() for key, value in out.items()}


def stargan_step(G: nn.Module, D: nn.Module, opt_g, opt_d, batches, *, n_domains: int, lambda_cls: float = 1.0,
                 lambda_rec: float = 10.0, precision: MixedPrecision | None = None,
                 rng: torch.Generator | None = None) -> dict:
    """One iteration of StarGAN (Choi et al., 2018) with one domain per image.

    ``batches`` yields (images, domain indices). Each image gets a target domain c' drawn
    uniformly with ``rng``. D: real/fake cross-entropy on its patch logits + lambda_cls x
    domain cross-entropy on real images. G: non-saturating adversarial loss + lambda_cls x
    domain cross-entropy of G(x, c') towards c' + lambda_rec x |G(G(x, c'), c) - x|
    (reconstruction). ``d_real`` / ``d_fake``: D's mean patch probability on real and
    translated images. Extras: ``loss_d_cls``, ``loss_g_cls``, ``loss_rec``.
    """
    from .models.stargan import one_hot

    x, d_org = next(batches)
    d_trg = torch.randint(n_domains, (len(x),), generator=rng).to(x.device)
    return _stargan_iteration(G, D, opt_g, opt_d, x, one_hot(d_org, n_domains), one_hot(d_trg, n_domains),
                              d_org, d_trg, lambda_cls, lambda_rec, precision or _FP32)


def stargan_attribute_step(G: nn.Module, D: nn.Module, opt_g, opt_d, batches, *, lambda_cls: float = 1.0,
                           lambda_rec: float = 10.0, precision: MixedPrecision | None = None,
                           rng: torch.Generator | None = None) -> dict:
    """One iteration of StarGAN with multi-attribute labels, as on CelebA (Chapter 9).

    ``batches`` yields (images, attributes), attributes float (B, n) in {0, 1}. The target
    attributes c' of each image are those of another image of the batch (a random
    permutation drawn with ``rng``, as in the paper's code). Same losses and keys as
    :func:`stargan_step`, with the domain term a binary cross-entropy per attribute (summed
    over attributes, averaged over the batch) instead of a cross-entropy over domains.
    """
    x, c_org = next(batches)
    c_org = c_org.float()
    c_trg = c_org[torch.randperm(len(x), generator=rng).to(c_org.device)]
    return _stargan_iteration(G, D, opt_g, opt_d, x, c_org, c_trg, c_org, c_trg, lambda_cls, lambda_rec,
                              precision or _FP32)


def _stargan_iteration(G, D, opt_g, opt_d, x, c_org, c_trg, target_org, target_trg, lambda_cls, lambda_rec,
                       mp: MixedPrecision) -> dict:
    """The D update and the G update of StarGAN for images x of labels c_org sent to c_trg.

    ``target_org`` / ``target_trg``: what the domain head must predict (domain indices, or
    the attribute vectors themselves), see :func:`losses.domain_classification_loss`.
    """
    # 1. update D: real/fake on patches, and classify the domain of real images
    set_requires_grad(D, True)
    with mp.autocast():
        fake = G(x, c_trg)
        src_real, cls_real = D(x)
        src_fake, _ = D(fake.detach())
        loss_d_cls = losses.domain_classification_loss(cls_real, target_org)
        loss_d = losses.discriminator_loss(src_real, src_fake) + lambda_cls * loss_d_cls
    norm_d = _update(opt_d, loss_d, mp, D)
    # 2. update G: look real, be classified as the target domain, and come back with c
    set_requires_grad(D, False)
    with mp.autocast():
        src, cls = D(fake)
        loss_g_cls = losses.domain_classification_loss(cls, target_trg)
        loss_rec = losses.reconstruction_loss(G(fake, c_org), x)
        loss_g = losses.generator_loss_nonsaturating(src) + lambda_cls * loss_g_cls + lambda_rec * loss_rec
    norm_g = _update(opt_g, loss_g, mp, G)
    set_requires_grad(D, True)
    return _core(loss_d, loss_g, _mean_probability(src_real), _mean_probability(src_fake), norm_d, norm_g,
                 loss_d_cls=loss_d_cls, loss_g_cls=loss_g_cls, loss_rec=loss_rec)


def cogan_step(Gs: nn.Module, Ds: nn.Module, opt_g, opt_d, batches_1, batches_2, noise, *,
               precision: MixedPrecision | None = None) -> dict:
    """One iteration of CoGAN: two GANs trained together on unpaired batches of two domains.

    ``Gs(z)`` returns the pair (G1(z), G2(z)); ``Ds(x1, x2)`` the pair of logits. The losses
    are the sums of the two ordinary GAN losses (non-saturating for the generators); weight
    sharing inside Gs and Ds is what couples the two games. ``d_real`` / ``d_fake``: the mean
    probability over both discriminators; extras ``d1_real``, ``d1_fake``, ``d2_real``,
    ``d2_fake`` for each one.
    """
    mp = precision or _FP32
    x1, x2 = next(batches_1), next(batches_2)
    # 1. update both discriminators
    set_requires_grad(Ds, True)
    with mp.autocast():
        f1, f2 = Gs(noise(len(x1)))
        r1, r2 = Ds(x1, x2)
        q1, q2 = Ds(f1.detach(), f2.detach())
        loss_d = losses.discriminator_loss(r1, q1) + losses.discriminator_loss(r2, q2)
    norm_d = _update(opt_d, loss_d, mp, Ds)
    # 2. update both generators
    set_requires_grad(Ds, False)
    with mp.autocast():
        o1, o2 = Ds(f1, f2)
        loss_g = losses.generator_loss_nonsaturating(o1) + losses.generator_loss_nonsaturating(o2)
    norm_g = _update(opt_g, loss_g, mp, Gs)
    set_requires_grad(Ds, True)
    d1_real, d2_real, d1_fake, d2_fake = (_mean_probability(t) for t in (r1, r2, q1, q2))
    return _core(loss_d, loss_g, (d1_real + d2_real) / 2, (d1_fake + d2_fake) / 2, norm_d, norm_g,
                 d1_real=d1_real, d1_fake=d1_fake, d2_real=d2_real, d2_fake=d2_fake)


@torch.no_grad()
def ema_update(average: nn.Module, model: nn.Module, decay: float = 0.99) -> None:
    """One step of an exponential moving average of weights (Chapter 7).

    ``average``'s parameters move towards ``model``'s: p_avg <- decay * p_avg + (1 - decay) * p.
    Buffers (batch-norm running statistics) are copied. ``average`` is usually a
    ``gc.frozen_copy(model)`` made before training; the average of a generator's recent weights
    smooths the oscillations of the game (Yazıcı et al., 2019).
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"decay must lie in [0, 1), got {decay}")
    pairs = list(zip(average.parameters(), model.parameters()))
    if len(pairs) != len(list(model.parameters())) or any(a.shape != p.shape for a, p in pairs):
        raise ValueError("average and model must have the same architecture")
    for a, p in pairs:
        a.lerp_(p.detach(), 1.0 - decay)
    for a, b in zip(average.buffers(), model.buffers()):
        a.copy_(b)
