"""Telephony backends (simulator, Asterisk, Twilio): thin adapters between a phone line and the flow engine."""
