"""Metrics that live in one process (Prometheus, `prometheus_client`'s default registry).

What the database knows (calls, escalations, SMS, queues) is counted at scrape time by the web
server's collector (robocall/web/metrics.py); only what exists nowhere else is counted here: the
FastAGI sessions a `robocall asterisk serve` process holds, and how long the webhooks the web server
answers take.  Labels are route templates and outcomes, never a number, a name or an id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

FASTAGI_SESSIONS = Gauge("robocall_fastagi_sessions", "FastAGI sessions open in this process (calls being run)")
FASTAGI_SESSIONS_ENDED = Counter(
    "robocall_fastagi_sessions_ended", "FastAGI sessions ended, by outcome (ok, refused, failed)", ["outcome"])

# Twilio waits 15 s for a voice webhook's TwiML; a carrier's receipt callback retries after a few seconds.
WEBHOOK_SECONDS = Histogram(
    "robocall_webhook_seconds", "Time to answer a telephony or SMS carrier webhook, by route template",
    ["route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0))
