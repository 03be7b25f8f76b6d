"""Tracing campaigns: who to call when, the dialer, and the campaign runner."""
