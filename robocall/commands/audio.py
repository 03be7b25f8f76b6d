"""`robocall audio build|play`: render the flows' prompts to sound, listen to one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from robocall.audio.build import SOURCES, all_prompts, build
from robocall.audio.convert import BACKEND_FORMATS
from robocall.audio.prompts import KINDS, prompts_of
from robocall.audio.render import Renderer
from robocall.config import get_settings
from robocall.flows import FlowError, load_flow
from robocall.flows.loader import Flow, load_flows
from robocall.flows.templates import render


@click.group()
def audio() -> None:
    """Prompt audio: recorded files (audio/recorded/) and text-to-speech, for Asterisk and Twilio."""


@audio.command("build")
@click.argument("names", nargs=-1, metavar="[FLOW]...")
@click.option("--format", "fmt", type=click.Choice([*BACKEND_FORMATS, "all"]), default="all", show_default=True,
              help="Which backend's format to render.")
def build_command(names: tuple[str, ...], fmt: str) -> None:
    """Render every prompt of the flows (all by default; a FLOW is a name or a .yaml file).

    Only prompts whose text, voice or recording changed are rendered again.
    """
    flows = _flows(names)
    formats = list(BACKEND_FORMATS) if fmt == "all" else [fmt]
    renderer = Renderer()
    prompts = all_prompts(flows)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        console=Console(stderr=True))
    with progress:
        task = progress.add_task("rendering", total=len(prompts))
        summary = build(renderer, prompts, formats,
                        on_each=lambda prompt, _: progress.update(task, advance=1, description=prompt.label))
    table = Table(title=f"{len(prompts)} prompts")
    table.add_column("source")
    table.add_column("prompts", justify="right")
    for source in SOURCES:
        table.add_row(source, str(summary.counts.get(source, 0)))
    Console().print(table)
    click.echo(f"formats: {', '.join(formats)}; files in {renderer.cache.root}")
    for prompt, outcome in summary.failures:
        click.echo(f"failed: {prompt.label}: {outcome.error}", err=True)
    if summary.failures:
        sys.exit(1)


@audio.command("play")
@click.argument("flow_name", metavar="FLOW")
@click.argument("node")
@click.option("--lang", default=None, help="Language (default: the flow's first).")
@click.option("--kind", type=click.Choice(KINDS), default="prompt", show_default=True,
              help="The node's prompt, or what it says after silence (no_input) or a wrong key (invalid).")
@click.option("--field", "fields", multiple=True, metavar="NAME=VALUE",
              help="A contact field for a prompt that uses one, e.g. --field 'name=Nguyễn Văn An'.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the 8 kHz WAV here.")
@click.option("--play", "play_it", is_flag=True, help="Play it on this computer (sox's `play`, or aplay).")
def play_command(flow_name: str, node: str, lang: str | None, kind: str, fields: tuple[str, ...],
                 out: Path | None, play_it: bool) -> None:
    """Render one prompt (as a call would hear it) and write it, play it, or print where it is."""
    (flow,) = _flows((flow_name,))
    language = lang or flow.spec.languages[0]
    if node not in flow.spec.nodes:
        raise click.ClickException(f"flow '{flow.name}' has no node '{node}' (nodes: {', '.join(flow.spec.nodes)})")
    prompt = next((p for p in prompts_of(flow) if (p.node, p.kind, p.language) == (node, kind, language)), None)
    if prompt is None:
        raise click.ClickException(f"node '{node}' of '{flow.name}' says nothing as {kind} in '{language}'")
    renderer = Renderer()
    values = dict(_field(item) for item in fields)
    text = render(prompt.text, values) if values else renderer.fallback_of(prompt)
    outcome = renderer.render(prompt, ["asterisk"], text=text)
    if not outcome.ok:
        raise click.ClickException(f"could not render {prompt.label}: {outcome.error}")
    wav = outcome.paths["asterisk"]
    click.echo(f"{prompt.label}: {outcome.made_by}{' (cached)' if outcome.source == 'cached' else ''}: {text}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wav, out)
        click.echo(f"wrote {out}")
    else:
        click.echo(str(wav))
    if play_it:
        _play(wav)


def _field(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"'{item}' is not NAME=VALUE", param_hint="--field")
    return name.strip(), value


def _play(wav: Path) -> None:
    for player in (["play", "-q"], ["aplay", "-q"]):
        if shutil.which(player[0]):
            done = subprocess.run([*player, str(wav)], capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or [str(done.returncode)])[-1]
                raise click.ClickException(f"{player[0]} could not play it: {last}")
            return
    raise click.ClickException("no player found: install sox (play) or alsa-utils (aplay)")


def _flows(names: tuple[str, ...]) -> list[Flow]:
    """The flows named (a name from FLOWS_DIR or a flow file); all of FLOWS_DIR when none."""
    settings = get_settings()
    loaded, problems = load_flows([settings.flows_dir], settings.audio_dir) if settings.flows_dir.is_dir() else ({}, [])
    chosen: list[Flow] = []
    for name in names:
        path = Path(name)
        if path.suffix in (".yaml", ".yml") and path.is_file():
            try:
                chosen.append(load_flow(path, settings.audio_dir))
            except FlowError as error:
                raise click.ClickException("\n".join(str(p) for p in error.problems)) from None
        elif name in loaded:
            chosen.append(loaded[name])
        else:
            known = ", ".join(sorted(loaded)) or "none"
            raise click.ClickException(f"no flow named '{name}' in {settings.flows_dir} (flows: {known})")
    if names:
        return chosen
    for problem in problems:
        click.echo(f"skipped: {problem}", err=True)
    if not loaded:
        raise click.ClickException(f"no valid flow in {settings.flows_dir}")
    return list(loaded.values())
