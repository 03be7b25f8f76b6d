"""Which gateway a number goes through: carrier (ported-number table, else the prefix) -> gateway.

The carrier of a number comes from robocall.phones (phonenumbers' prefix data:
``Viettel``, ``Vinaphone``, ``MobiFone``, ``Vietnamobile``, ``G-Mobile``...),
unless the number was ported to another network: then the SmsRouteOverride table
says where it is now.  SMS_ROUTES maps carriers to configured gateways, with a
``default`` for the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlmodel import col

from robocall.sms_models import SmsRouteOverride

DEFAULT = "default"


def parse_routes(spec: str) -> dict[str, str]:
    """``Viettel=a,default=b`` -> {"viettel": "a", "default": "b"} (carrier names case-insensitive)."""
    routes: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        carrier, sep, gateway = item.partition("=")
        if not sep or not gateway.strip():
            raise ValueError(f"SMS_ROUTES: {item!r} is not carrier=gateway")
        routes[carrier.strip().lower()] = gateway.strip()
    return routes


class Router:
    def __init__(self, routes: dict[str, str], gateways: Iterable[str]) -> None:
        known = set(gateways)
        unknown = sorted(set(routes.values()) - known)
        if unknown:
            raise ValueError(f"SMS_ROUTES names gateways not in SMS_GATEWAYS: {', '.join(unknown)}")
        if DEFAULT not in routes:
            if len(known) != 1:
                raise ValueError("SMS_ROUTES needs a default=... route when several gateways are configured")
            routes = {**routes, DEFAULT: next(iter(known))}
        self.routes = routes

    def gateway_for(self, carrier: str) -> str:
        return self.routes.get(carrier.lower(), self.routes[DEFAULT])


def ported_carriers(connection: Connection) -> dict[str, str]:
    """The whole ported-number table (ported numbers are a small share of a province's)."""
    rows = connection.execute(select(col(SmsRouteOverride.phone), col(SmsRouteOverride.carrier)))
    return {phone: carrier for phone, carrier in rows}
