"""`robocall asterisk check`: is every Asterisk server of the deployment ready for robocall's calls?

For each server of ASTERISK_SERVERS (or the one of ASTERISK_HOST), at the same time:
- AMI: it logs in (a closed port and a refused login are told apart);
- the dialplan: the contexts robocall needs, AGI() in the outbound one, and ROBOCALL_CHANNEL_LIMIT
  equal to the server's channel limit (the hotline refuses calls beyond it);
- the FastAGI server, from the server itself: it originates ``Local/s@robocall-check``, whose AGI()
  reaches `robocall asterisk serve` or not; the channel's hang-up cause says which (16: it did).
And from here: the FastAGI server answers on ASTERISK_AGI_LISTEN.

Every finding is said in Vietnamese first, then in English, naming the server.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from robocall.config import Settings
from robocall.telephony.asterisk.ami import AmiClient, AmiError, Message
from robocall.telephony.asterisk.settings import ServerSettings, server_settings, servers

REQUIRED_CONTEXTS = ("robocall-outbound", "robocall-hotline", "robocall-check")
CHECK_CHANNEL = "Local/s@robocall-check"
AGI_REACHED = "16"  # the hang-up cause [robocall-check] gives when AGI() answered


@dataclass(frozen=True)
class Finding:
    server: str  # "" : the deployment as a whole
    ok: bool
    vi: str
    en: str

    def line(self) -> str:
        where = f" [{self.server}]" if self.server else ""
        return f"{'ok' if self.ok else 'LỖI / PROBLEM'}{where}: {self.vi} / {self.en}"


def run_checks(settings: Settings, timeout: float) -> list[Finding]:
    return asyncio.run(_checks(settings, timeout))


async def _checks(settings: Settings, timeout: float) -> list[Finding]:
    found: list[Finding] = [_agi_listening(settings)]
    targets: list[ServerSettings] = []
    if settings.asterisk_servers:
        for name in settings.asterisk_servers:
            try:
                targets.append(server_settings(settings, name))
            except ValueError as exc:
                found.append(Finding(name, False, f"thiếu mật khẩu AMI ({exc})", str(exc)))
    elif not settings.asterisk_ami_secret:
        found.append(Finding("", False, "ASTERISK_AMI_SECRET trống: đặt mật khẩu AMI trong biến môi trường",
                             "ASTERISK_AMI_SECRET is empty"))
    else:
        targets = servers(settings)
    for findings in await asyncio.gather(*(check_server(server, timeout) for server in targets)):
        found.extend(findings)
    return found


def _agi_listening(settings: Settings) -> Finding:
    host, port = settings.asterisk_agi_listen
    here = host if host != "0.0.0.0" else "127.0.0.1"
    try:
        with socket.create_connection((here, port), timeout=3):
            return Finding("", True, f"máy chủ FastAGI trả lời tại {host}:{port}",
                           f"the FastAGI server answers on {host}:{port}")
    except OSError as exc:
        return Finding("", False, f"máy chủ FastAGI không trả lời tại {host}:{port} ({exc}): hãy chạy "
                       "`robocall asterisk serve`",
                       f"the FastAGI server does not answer on {host}:{port} ({exc}): start `robocall asterisk serve`")


async def check_server(server: ServerSettings, timeout: float) -> list[Finding]:
    end = server.endpoint
    name, where = end.name, f"{end.host}:{end.port}"
    client = AmiClient(end.host, end.port, end.user, end.secret, backoff=(timeout, timeout), name=f"check-{name}")
    await client.start(wait=None)
    try:
        try:
            await client.wait_ready(timeout)
        except AmiError:
            return [_login_problem(client, name, where, end.user)]
        found = [Finding(name, True, f"đã đăng nhập AMI tại {where} với tài khoản {end.user}",
                         f"logged in to AMI at {where} as {end.user}")]
        try:
            found += await _dialplan(client, server)
            if any(f.vi.startswith("không có ngữ cảnh [robocall-check]") for f in found):
                return found
            found.append(await _agi_from_server(client, name, timeout))
        except AmiError as exc:
            found.append(Finding(name, False, f"AMI từ chối một lệnh ({exc}): kiểm tra quyền read/write trong "
                                 "manager.conf (docs/asterisk.md)",
                                 f"AMI refused an action ({exc}): check the read/write rights in manager.conf"))
        return found
    finally:
        await client.close()


def _login_problem(client: AmiClient, name: str, where: str, user: str) -> Finding:
    if client.login_refused:
        return Finding(name, False, f"AMI tại {where} từ chối đăng nhập của {user}: sai tên hoặc mật khẩu, hoặc "
                       "địa chỉ này không được phép (manager.conf: secret, permit)",
                       f"AMI at {where} refused the login of {user}: wrong user or secret, or this address is not "
                       f"permitted (manager.conf: secret, permit) [{client.last_error}]")
    if client.last_error:
        return Finding(name, False, f"không kết nối được AMI tại {where}: Asterisk không chạy, sai cổng, hoặc "
                       "tường lửa chặn (manager.conf: enabled, port, bindaddr)",
                       f"cannot connect to AMI at {where}: Asterisk is not running, the port is wrong, or a "
                       f"firewall blocks it (manager.conf: enabled, port, bindaddr) [{client.last_error}]")
    return Finding(name, False, f"AMI tại {where} không sẵn sàng (Asterisk đang khởi động?)",
                   f"AMI at {where} is not ready (Asterisk still booting?)")


async def _dialplan(client: AmiClient, server: ServerSettings) -> list[Finding]:
    name = server.endpoint.name
    entries = await client.action_list("ShowDialPlan")
    contexts = {m.get("Context") for m in entries}
    found = []
    for context in REQUIRED_CONTEXTS:
        if context in contexts:
            found.append(Finding(name, True, f"có ngữ cảnh [{context}]", f"dialplan context {context}"))
        else:
            found.append(Finding(name, False, f"không có ngữ cảnh [{context}] trong dialplan: cài extensions.conf "
                                 "theo docs/asterisk.md",
                                 f"the dialplan has no context [{context}]: install extensions.conf from "
                                 "docs/asterisk.md"))
    apps = {m.get("Application") for m in entries if m.get("Context") == "robocall-outbound"}
    if "robocall-outbound" in contexts and "AGI" not in apps:
        found.append(Finding(name, False, "[robocall-outbound] không gọi AGI()", "[robocall-outbound] does not call AGI()"))
    limit = await _global(client, "ROBOCALL_CHANNEL_LIMIT")
    if limit != str(server.channel_limit):
        found.append(Finding(name, False, f"ROBOCALL_CHANNEL_LIMIT trong dialplan là {limit or 'trống'}, robocall "
                             f"tính {server.channel_limit} kênh cho máy chủ này: đặt cho bằng nhau",
                             f"the dialplan's ROBOCALL_CHANNEL_LIMIT is {limit or 'empty'} but robocall counts "
                             f"{server.channel_limit} channels for this server: make them equal"))
    return found


async def _global(client: AmiClient, variable: str) -> str:
    try:
        return (await client.action("Getvar", {"Variable": variable})).get("Value")
    except AmiError:
        return ""


async def _agi_from_server(client: AmiClient, name: str, timeout: float) -> Finding:
    """Originate the check channel; its hang-up cause says whether AGI() reached the FastAGI server."""
    causes: asyncio.Queue[str] = asyncio.Queue()

    async def hung_up(message: Message) -> None:
        await causes.put(message.get("Cause"))

    client.subscribe(hung_up, lambda m: m.event == "Hangup" and m.get("Channel").startswith(CHECK_CHANNEL + "-")
                     and m.get("Channel").endswith(";2"))
    agi = await _global(client, "ROBOCALL_AGI")
    await client.action("Originate", {"Channel": CHECK_CHANNEL, "Application": "Wait", "Data": "1",
                                      "Async": "true", "Timeout": str(int(timeout * 1000))})
    try:
        cause = await asyncio.wait_for(causes.get(), timeout + 5)
    except TimeoutError:
        cause = ""
    if cause == AGI_REACHED:
        return Finding(name, True, f"Asterisk này tới được máy chủ FastAGI ({agi})",
                       f"this Asterisk reaches the FastAGI server ({agi})")
    return Finding(name, False, f"Asterisk này không tới được máy chủ FastAGI tại ROBOCALL_AGI = {agi or 'trống'}: "
                   "kiểm tra `robocall asterisk serve`, ASTERISK_AGI_LISTEN và tường lửa",
                   f"this Asterisk cannot reach the FastAGI server at ROBOCALL_AGI = {agi or 'empty'}: check "
                   f"`robocall asterisk serve`, ASTERISK_AGI_LISTEN and the firewall (hang-up cause {cause or 'none'})")
