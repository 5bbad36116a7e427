"""Pytest settings for the chapters, which nbval runs as tests (`make test`).

nbval in lax mode fails a cell only when it raises or when a `# NBVAL_CHECK_OUTPUT` cell prints
something new. A solution cell ends with a check (`gc.checks.check_...`) that *returns* a
verdict rather than raising, so that a learner sees a readable message; here a verdict of
"not yet" in a cell of the book's own solutions fails that cell, so the book's solutions are
verified on every run, not only when the notebook was last executed.
"""

from __future__ import annotations

import pytest


def failed_verdicts(source: str, outputs) -> list[str]:
    """The "not yet" verdicts that a cell calling a check printed or returned."""
    if "gc.checks.check_" not in source:
        return []
    texts = []
    for out in outputs or []:
        texts.append(str(out.get("text", "")))
        texts.append(str(out.get("data", {}).get("text/plain", "")))
    return [line for text in texts for line in text.splitlines() if line.startswith("[NOT YET]")]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    cell = getattr(item, "cell", None)
    if call.when != "call" or not report.passed or cell is None:
        return
    failed = failed_verdicts(cell.source, getattr(item, "test_outputs", None))
    if failed:
        report.outcome = "failed"
        report.longrepr = "the book's own solution does not pass its check:\n" + "\n".join(failed)
