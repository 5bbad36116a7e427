"""Self-checks for the book's code exercises.

Each ``check_*`` function runs the learner's implementation on a few cases, compares it
with the reference, and returns a :class:`CheckResult` whose message says in plain words
what is right or what differs (a flipped sign, a missing mean, swapped arguments...).
A check never lets the learner's exception escape as a bare traceback.

One module per chapter; every module's ``__all__`` is re-exported here, so that
``gc.checks.check_...`` reaches every check.
"""

from . import cogan, conditional, cyclegan, dcgan, divergence, evaluation, lsgan, minimax, modes, saturation, stargan
from ._common import CheckResult

_CHAPTERS = (minimax, saturation, divergence, modes, dcgan, lsgan, conditional, cyclegan, cogan, stargan,
             evaluation)

for _module in _CHAPTERS:
    for _name in _module.__all__:
        globals()[_name] = getattr(_module, _name)

__all__ = ["CheckResult", *(name for module in _CHAPTERS for name in module.__all__)]
