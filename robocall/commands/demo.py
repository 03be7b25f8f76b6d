"""`robocall demo`: the main job on the embedded defaults.

Until tracing campaigns land, the demo plays every shipped flow against a
few simulated residents and prints the transcripts, answers and escalations.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import click

from robocall.flows.loader import load_flows
from robocall.flows.random_caller import CallerHabits, respond
from robocall.flows.script import run_call, sample_fields


# The demo's residents are who the call expects, and did come back from a zone.
RESIDENT_TRUTH = {"right_person": True, "returned_from_zone": True}


@click.command()
@click.option("--flows-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("ivr_flows"))
@click.option("--callers", default=3, show_default=True, help="Simulated residents per flow.")
@click.option("--seed", default=2021, show_default=True, help="Seed for the residents' behaviour.")
def demo(flows_dir: Path, callers: int, seed: int) -> None:
    """Play every shipped flow against simulated residents and print what happened."""
    flows, problems = load_flows([flows_dir])
    for problem in problems:
        click.echo(f"skipped: {problem}", err=True)
    rng = random.Random(seed)
    today = dt.date(2021, 8, 15)
    habits = CallerHabits(silence=0.08, wrong_key=0.08, hang_up=0.02, yes=0.3)
    for flow in flows.values():
        for number in range(1, callers + 1):
            transcript = run_call(flow, lambda gather: respond(flow, gather, today, rng, habits, RESIDENT_TRUTH),
                                  sample_fields(today))
            click.secho(f"\n=== {flow.name} · resident {number} ===", bold=True)
            click.echo(transcript.text())
            levels = ", ".join(e["level"] for e in transcript.escalations) or "none"
            click.echo(f"--- ended: {transcript.end_reason}; answers: {len(transcript.answers)}; escalations: {levels}")
    if problems:
        raise SystemExit(1)
