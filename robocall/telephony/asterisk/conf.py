"""Asterisk configuration rendered from the templates in conf/ (the same files docs/asterisk.md shows).

Templates use ``@NAME@`` placeholders (Asterisk's own ``${...}`` stays untouched); a placeholder
left without a value is an error naming the file, never a silently broken configuration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATES = Path(__file__).with_name("conf")
_PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")


@dataclass(frozen=True)
class AsteriskLayout:
    """Where an Asterisk instance lives and listens."""

    prefix: Path  # the installed Asterisk (bin/, sbin/, lib/asterisk/modules/), only read
    etc: Path  # where the rendered *.conf files go
    run: Path  # what Asterisk writes: db, spool, run (control socket: keep short), log, cache
    ami_port: int = 5038
    ami_bind: str = "127.0.0.1"
    ami_permit: str = "127.0.0.1/255.255.255.255"
    ami_user: str = "robocall"
    ami_secret: str = ""
    sip_bind: str = "127.0.0.1"
    sip_port: int = 5060
    rtp_start: int = 10000
    rtp_end: int = 20000
    agi_url: str = "agi://127.0.0.1:4573"
    channel_limit: int = 30  # calls the server carries at once: a hotline call beyond it is refused busy
    extra: Mapping[str, str] = field(default_factory=dict)  # more files: name -> content (trunks, residents)

    @property
    def asterisk_conf(self) -> Path:
        return self.etc / "asterisk.conf"

    @property
    def control_socket(self) -> Path:
        return self.run / "run" / "asterisk.ctl"

    def values(self) -> dict[str, str]:
        return {
            "PREFIX": str(self.prefix.resolve()), "ETC": str(self.etc.resolve()), "RUN": str(self.run.resolve()),
            "AMI_PORT": str(self.ami_port), "AMI_BIND": self.ami_bind, "AMI_PERMIT": self.ami_permit,
            "AMI_USER": self.ami_user, "AMI_SECRET": self.ami_secret,
            "SIP_BIND": self.sip_bind, "SIP_PORT": str(self.sip_port),
            "RTP_START": str(self.rtp_start), "RTP_END": str(self.rtp_end), "AGI_URL": self.agi_url,
            "CHANNEL_LIMIT": str(self.channel_limit),
        }


def render_template(text: str, values: Mapping[str, str], where: str) -> str:
    missing = sorted({name for name in _PLACEHOLDER.findall(text) if name not in values})
    if missing:
        raise ValueError(f"{where}: no value for placeholder(s) {', '.join('@' + m + '@' for m in missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def render(layout: AsteriskLayout) -> Path:
    """Write every template (and `layout.extra`) into layout.etc; returns the asterisk.conf path."""
    if not layout.ami_secret:
        raise ValueError("Asterisk AMI secret is empty: set ASTERISK_AMI_SECRET")
    if len(str(layout.control_socket.resolve())) > 100:
        # A UNIX socket path over 107 bytes is silently truncated and `-rx` can't reach Asterisk.
        raise ValueError(f"Asterisk run folder {layout.run} is too long for its control socket; use a shorter path")
    layout.etc.mkdir(parents=True, exist_ok=True)
    for sub in ("db", "spool", "run", "log", "cache", "keys"):
        (layout.run / sub).mkdir(parents=True, exist_ok=True)
    values = layout.values()
    for template in sorted(TEMPLATES.glob("*.conf.in")):
        text = render_template(template.read_text(encoding="utf-8"), values, str(template))
        (layout.etc / template.name.removesuffix(".in")).write_text(text, encoding="utf-8")
    for name, content in layout.extra.items():
        (layout.etc / name).write_text(content, encoding="utf-8")
    return layout.asterisk_conf
