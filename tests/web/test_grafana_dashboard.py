"""Every metric the shipped Grafana dashboard (deploy/grafana/robocall.json) queries is exported by /metrics."""

from __future__ import annotations

import json
import re

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from webhelp import ROOT, run_client

from robocall.config import reset_settings

DASHBOARD = ROOT / "deploy" / "grafana" / "robocall.json"
SUFFIXES = {"histogram": ("_bucket", "_count", "_sum"), "counter": ("_total", "_created"), "gauge": ("",)}


def queried_metrics() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert exprs, "the dashboard queries nothing"
    return {name for expr in exprs for name in re.findall(r"\b(robocall_[a-z0-9_]+)\b", expr)}


def test_every_metric_the_dashboard_queries_is_exported(redis_url, make_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("METRICS_TOKEN", "t0ken-for-grafana")
    reset_settings()

    async def scrape(client: TestClient) -> str:
        response = await client.get("/metrics", headers={"Authorization": "Bearer t0ken-for-grafana"})
        assert response.status == 200
        return await response.text()

    exported = set()
    for family in text_string_to_metric_families(run_client(make_app(), scrape)):
        suffixes = SUFFIXES.get(family.type, ("",))
        exported |= {family.name + suffix for suffix in suffixes}
    queried = queried_metrics()
    assert queried and queried <= exported, sorted(queried - exported)
