"""`robocall twilio check`: is this deployment ready for Twilio calls?

- the credentials: Twilio answers a fetch of the account (active, not suspended);
- the caller id: TWILIO_FROM_NUMBER is one of the account's numbers;
- the webhooks: from PUBLIC_BASE_URL, as Twilio will reach them, `/health` answers and the voice
  webhook answers an unsigned request with 403 (the server is there, and it checks signatures).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from twilio.base.exceptions import TwilioRestException

from robocall.config import Settings
from robocall.telephony.twilio import api


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(settings: Settings) -> list[Check]:
    return asyncio.run(_checks(settings))


async def _checks(settings: Settings) -> list[Check]:
    if not settings.twilio_account_sid or not settings.twilio_auth_token:
        return [Check("credentials", False, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set")]
    checks = await _account(settings)
    checks.extend(await _webhooks(settings))
    return checks


async def _account(settings: Settings) -> list[Check]:
    client = api.client(settings)
    try:
        try:
            account = await client.api.v2010.accounts(settings.twilio_account_sid).fetch_async()
        except TwilioRestException as exc:
            return [Check("credentials", False, f"Twilio refused them: {exc.status} {exc.code or ''} {exc.msg}")]
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return [Check("credentials", False, f"Twilio's API cannot be reached ({settings.twilio_api_base}): {exc}")]
        checks = [Check("credentials", account.status == "active",
                        f"account {account.friendly_name or account.sid}: {account.status}")]
        number = settings.twilio_from_number
        if not number:
            checks.append(Check("caller id", False, "TWILIO_FROM_NUMBER is not set"))
        else:
            owned = await client.incoming_phone_numbers.list_async(phone_number=number, limit=1)
            checks.append(Check("caller id", bool(owned),
                                f"{number} is a number of this account" if owned else
                                f"{number} is not a number of this account (buy or port it: docs/twilio.md)"))
        return checks
    finally:
        await api.close(client)


async def _webhooks(settings: Settings) -> list[Check]:
    urls = api.Urls(settings.public_base_url)
    health = settings.public_base_url + "/health"
    checks = []
    timeout = aiohttp.ClientTimeout(total=settings.twilio_timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            async with session.get(health) as response:
                checks.append(Check("server", response.status == 200, f"GET {health}: {response.status}"))
            async with session.post(urls.inbound, data={"CallSid": "CAcheck"}) as response:
                ok = response.status == 403
                detail = f"POST {urls.inbound} unsigned: {response.status}" + (
                    " (refused: signatures are checked)" if ok else
                    " (expected 403: is TWILIO_AUTH_TOKEN set on the server, and the proxy passing /twilio/?)")
                checks.append(Check("voice webhooks", ok, detail))
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            checks.append(Check("server", False, f"{settings.public_base_url} cannot be reached: {exc}"))
    if not settings.public_base_url.startswith("https://"):
        checks.append(Check("https", False, "PUBLIC_BASE_URL is not https: Twilio's requests and the callers' "
                                             "data would cross the internet in clear"))
    return checks
