"""Self-checks for the book's code exercises.

Each ``check_*`` function runs the learner's implementation on a few cases, compares it
with the reference, and returns a :class:`CheckResult` whose message says in plain words
what is right or what differs (a flipped sign, a missing mean, swapped arguments...).
A check never lets the learner's exception escape as a bare traceback.

One module per chapter; everything is re-exported here, so ``gc.checks.check_...`` works.
"""

from ._common import CheckResult
from .minimax import check_optimal_discriminator, check_value_function

__all__ = [
    "CheckResult",
    "check_optimal_discriminator",
    "check_value_function",
]
