"""Shared fixtures. Tests never touch the network: downloads use file:// mirrors they create."""

import os

import matplotlib

matplotlib.use("Agg")

import pytest


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No profile/device/data variables; the cache points into a temporary folder."""
    for var in ("GAN_COURSE_PROFILE", "GAN_COURSE_DEVICE", "GAN_COURSE_DATA", "GAN_COURSE_MAX_STEPS",
                "GAN_COURSE_STANDIN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return monkeypatch


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, through Playwright: one instance for the whole session
    (the website tests and the live explorer tests share it)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from test_book import CHROMIUM_ARGS, _chromium

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def pytest_report_header(config):
    return f"GAN_COURSE_PROFILE={os.environ.get('GAN_COURSE_PROFILE', '(unset)')}"
