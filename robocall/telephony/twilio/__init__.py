"""Phone calls through Twilio Programmable Voice: the REST API to place and end calls (backend.py),
the webhooks that carry each call (webhooks.py, TwiML from twiml.py).  docs/twilio.md."""
