"""X-Twilio-Signature checked as Twilio documents it, with the HMAC key prepared once.

Twilio signs a webhook with HMAC-SHA1 keyed by the Auth Token over the full URL it requested
followed by the POST parameters sorted by name, each name followed by its value (a repeated name:
its values sorted), base64-encoded (https://www.twilio.com/docs/usage/security#validating-requests).
Since its URL may or may not carry the default port, the request is valid when either form matches.

`twilio.request_validator.RequestValidator` does the same but builds the key, parses the URL, adds
and removes its port and computes both HMACs on every request: 11 % of a gather webhook's CPU
(docs/performance.md).  Here the public base URL's two forms are made once, the keyed HMAC is
copied per request (`hmac.HMAC.copy`: no key schedule), the parameters are hashed once and the
second URL form only when the first fails.  tests/twilio/test_twilio_signature.py compares this
with `RequestValidator` on many random requests.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterable
from hashlib import sha1
from urllib.parse import urlparse

from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import add_port, remove_port

from robocall.inputs import NO_CONTROL, BadInput
from robocall.text import bilingual


class SignatureCheck:
    """`valid(path_and_query, params, signature)` for requests to `public_base_url` + path and query."""

    def __init__(self, auth_token: str, public_base_url: str) -> None:
        self._key = hmac.new(auth_token.encode("utf-8"), digestmod=sha1)
        parsed = urlparse(public_base_url)
        # The base URL's two forms, as RequestValidator makes them from the whole URL (the port is in
        # the host part only, so the path and query that follow do not change them).
        forms = [remove_port(parsed), add_port(parsed)]
        self._bases = [form.encode("utf-8") for form in dict.fromkeys(forms)]

    def valid(self, path_and_query: str, params: Iterable[tuple[str, object]], signature: str) -> bool:
        if not signature:
            return False
        given = signature.encode("utf-8", "surrogateescape")
        grouped: dict[str, list[str]] = {}
        for name, value in params:
            if not isinstance(value, str):  # a file part: Twilio's webhooks are forms of text
                return False
            grouped.setdefault(name, []).append(value)
        signed = "".join(name + value for name in sorted(grouped) for value in sorted(set(grouped[name])))
        tail = (path_and_query + signed).encode("utf-8")
        for base in self._bases:
            mac = self._key.copy()
            mac.update(base)
            mac.update(tail)
            if hmac.compare_digest(base64.b64encode(mac.digest()), given):
                return True
        return False


async def twilio_form(request: web.Request) -> MultiDictProxy[str | bytes | web.FileField]:
    """The request's form, read before its signature is checked; a body that is no form at all (a
    multipart body without its boundary...) is a 400 saying so, not aiohttp's ValueError (a 500)."""
    try:
        return await request.post()
    except ValueError as error:
        raise web.HTTPBadRequest(text=bilingual(f"nội dung không phải biểu mẫu ({error})",
                                                f"the body is not a form ({error})")) from None


def form_id(form: MultiDictProxy[str | bytes | web.FileField], name: str) -> str:
    """An identifier or number of a signed form (a Call or Message SID, From, To): BadInput naming it when it
    is too long or holds a control character (a NUL is refused by PostgreSQL: a 500); "" when absent."""
    value = str(form.get(name, ""))
    if len(value) > 200 or not re.fullmatch(NO_CONTROL, value):
        raise BadInput(name, "quá dài hoặc có ký tự điều khiển / too long, or holds a control character")
    return value
