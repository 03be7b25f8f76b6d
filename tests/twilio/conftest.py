"""Fixtures of the Twilio Voice tests (the world itself is in voicehelp.py)."""

from voicehelp import voice  # noqa: F401 - the fixture
