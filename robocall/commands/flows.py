"""`robocall flows check|try|draw`: validate, play and draw YAML call flows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from robocall.audio.check import audio_warnings
from robocall.config import get_settings
from robocall.flows import FlowError, load_flow
from robocall.flows.draw import DrawError, draw_flow
from robocall.flows.loader import flow_files, load_flows
from robocall.flows.script import parse_keys, run_script
from robocall.text import bilingual


@click.group()
def flows() -> None:
    """Call flows written in YAML (ivr_flows/)."""


@flows.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def check(paths: tuple[Path, ...]) -> None:
    """Validate flows; print every problem as file:line: message.  Defaults to ivr_flows/.

    With TELEPHONY_BACKEND asterisk or twilio, also warns (without failing) about prompts that have
    no rendered audio yet and prompts with contact fields (what is played if their rendering fails).
    """
    targets = list(paths) or [Path("ivr_flows")]
    missing = [p for p in targets if not p.exists()]
    for path in missing:
        click.echo(f"{path}:1: " + bilingual("không có tệp hay thư mục này", "no such file or directory"), err=True)
    files = flow_files(p for p in targets if p.exists())
    loaded, problems = load_flows(files, get_settings().audio_dir)
    for problem in sorted(problems):
        click.echo(str(problem), err=True)
    for flow in loaded.values():
        nodes, rules = len(flow.spec.nodes), len(flow.spec.escalations)
        click.echo(f"ok  {flow.file}  ({flow.name}: " + bilingual(f"{nodes} nút, {rules} quy tắc báo động",
                                                                 f"{nodes} nodes, {rules} escalation rules") + ")")
    # Warnings only: a flow without audio still runs (the backend speaks its text).
    for warning in audio_warnings(list(loaded.values()), get_settings()):
        click.echo(f"cảnh báo / warning: {warning}", err=True)
    if problems or missing or not files:
        if not files and not missing:
            click.echo(bilingual("không tìm thấy tệp kịch bản nào", "no flow files found"), err=True)
        count = len(problems) + len(missing)
        click.echo(bilingual(f"{count} lỗi", f"{count} problem{'s' if count != 1 else ''} found"), err=True)
        sys.exit(1)


@flows.command("try")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--keys", "keys", default="", help='Key presses, comma-separated: "1,2,375#,,hangup" ("" = silence).')
@click.option("--language", default=None, help="Language of the call (default: the flow's first).")
@click.option("--json", "as_json", is_flag=True, help="Print the transcript, answers and escalations as JSON.")
def try_flow(path: Path, keys: str, language: str | None, as_json: bool) -> None:
    """Play a flow against a simulated caller who presses KEYS."""
    flow = _load_or_exit(path)
    if language is not None and language not in flow.spec.languages:
        # A real call falls back to the first language; a trial asked for one must not pretend to play it.
        declared = ", ".join(flow.spec.languages)
        raise click.ClickException(bilingual(
            f"kịch bản '{flow.name}' không có ngôn ngữ '{language}' (chỉ có: {declared})",
            f"flow '{flow.name}' has no language '{language}' (it has: {declared})"))
    transcript = run_script(flow, parse_keys(keys), language=language)
    if as_json:
        click.echo(json.dumps(transcript.to_json(), ensure_ascii=False, indent=2))
        return
    click.echo(transcript.text())
    click.echo("")
    click.echo("Answers:" if transcript.answers else "Answers: none")
    for name, value in transcript.answers.items():
        click.echo(f"  {name} = {value!r}")
    click.echo("Escalations:" if transcript.escalations else "Escalations: none")
    for escalation in transcript.escalations:
        click.echo(f"  {escalation['level']}: {escalation['reason']} (rule {escalation['rule']})")
    click.echo(f"Ended: {transcript.end_reason} after {transcript.steps} steps")


@flows.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the drawing (.svg or .png).")
@click.option("--language", default=None, help="Language of the prompt excerpts (default: the flow's first).")
def draw(path: Path, output: Path, language: str | None) -> None:
    """Draw a flow: nodes, keys, branches, answers and where escalations fire."""
    flow = _load_or_exit(path)
    try:
        written = draw_flow(flow, output, language=language)
    except DrawError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {written}")


def _load_or_exit(path: Path):  # type: ignore[no-untyped-def]
    try:
        return load_flow(path, get_settings().audio_dir)
    except FlowError as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
