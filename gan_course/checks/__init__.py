"""Self-checks for the book's code exercises.

Each ``check_*`` function runs the learner's implementation on a few cases, compares it
with the reference, and returns a :class:`CheckResult` whose message says in plain words
what is right or what differs (a flipped sign, a missing mean, swapped arguments...).
Whatever the learner's code returns or raises, a check answers with a :class:`CheckResult`
(see ``_common._guarded``, applied here to every exported check): an exception from the
learner's code becomes "not yet" with what the function returned or raised and what was
expected; only ``KeyboardInterrupt`` and ``SystemExit`` (a request to stop) propagate. A check
leaves the global random generators of torch, NumPy and Python as it found them.

One module per chapter; every module's ``__all__`` is re-exported here, so that
``gc.checks.check_...`` reaches every check.
"""

from . import cogan, conditional, cyclegan, dcgan, divergence, evaluation, lsgan, minimax, modes, saturation, stargan
from . import wasserstein
from ._common import CheckResult, _guarded

_CHAPTERS = (minimax, saturation, divergence, modes, dcgan, lsgan, conditional, cyclegan, cogan, stargan,
             wasserstein, evaluation)

for _module in _CHAPTERS:
    for _name in _module.__all__:
        _check = _guarded(getattr(_module, _name))
        setattr(_module, _name, _check)        # guarded however it is imported
        globals()[_name] = _check

__all__ = ["CheckResult", *(name for module in _CHAPTERS for name in module.__all__)]
