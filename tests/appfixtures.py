"""Fixtures that build the real Flask app on a real Redis, and phones that call it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from phone import TOKEN, Phone

from app import create_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def menus_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped menus that a test may edit."""
    target = tmp_path / "menus"
    shutil.copytree(ROOT / "menus", target)
    return target


@pytest.fixture
def make_app(tmp_path: Path, redis_url: str, menus_dir: Path):
    """Factory: the real app on the test Redis, with settings overridden per test."""

    made = []

    def make(**overrides):
        settings = {"TWILIO_AUTH_TOKEN": TOKEN, "REDIS_URL": redis_url, "IVR_MENUS": str(menus_dir),
                    "IVR_RECORDINGS": str(ROOT / "recordings"), "IVR_DATA_DIR": str(tmp_path / "data"),
                    "IVR_RELOAD_SECONDS": "0", "IVR_LOG_LEVEL": "WARNING",
                    "IVR_WARM_SECONDS": "0",
                    # events written at once, so a test reads what a webhook stored right after it;
                    # the shipped default (batched, journalled) has its own tests: test_batching,
                    # test_journal, test_roundtrips, test_scale
                    "IVR_EVENT_BATCH_MS": "0"}
        settings.update({k: str(v) for k, v in overrides.items()})
        made.append(create_app(settings))
        return made[-1]

    yield make
    for app in made:  # events still waiting for their batch land now, not in a later test's Redis
        app.extensions["ivr"].events.flush()
    for app in made:  # no alert sender of this test may touch a later test's data
        parts = app.extensions["ivr"].__dict__.get("_survey_parts")
        if parts is not None:
            parts.sender.stop()


@pytest.fixture
def app(make_app):
    """The app with default test settings."""
    return make_app()


@pytest.fixture
def phone(app) -> Phone:
    """A phone calling the app."""
    return Phone(app.test_client())


@pytest.fixture
def new_phone(app):
    """Factory for more phones (other callers, or the same number calling again)."""

    def make(number: str = "+15551234567") -> Phone:
        return Phone(app.test_client(), number=number)

    return make
