"""Telephony and messaging automation for epidemic tracing."""

__version__ = "0.1.0"
