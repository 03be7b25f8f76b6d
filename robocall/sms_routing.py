"""Which gateway a number goes through: carrier (ported-number table, else the prefix) -> gateway.

The carrier of a number comes from robocall.phones (phonenumbers' prefix data:
``Viettel``, ``Vinaphone``, ``MobiFone``, ``Vietnamobile``, ``G-Mobile``...),
unless the number was ported to another network: then the SmsRouteOverride table
says where it is now.  SMS_ROUTES maps carriers to configured gateways, with a
``default`` for the rest (parsed and checked by robocall.config).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlmodel import col

from robocall.config import DEFAULT_ROUTE, Settings, resolve_routes
from robocall.sms_models import SmsRouteOverride


class Router:
    def __init__(self, routes: dict[str, str], gateways: Iterable[str]) -> None:
        self.routes = resolve_routes(routes, gateways)
        self._default = self.routes[DEFAULT_ROUTE]

    @classmethod
    def from_settings(cls, settings: Settings) -> Router:
        """SMS_ROUTES over SMS_GATEWAYS (checked against each other when the settings were read)."""
        return cls(settings.sms_routes, settings.sms_gateways)

    def gateway_for(self, carrier: str) -> str:
        return self.routes.get(carrier.lower(), self._default)


def ported_carriers(connection: Connection) -> dict[str, str]:
    """The whole ported-number table (ported numbers are a small share of a province's)."""
    rows = connection.execute(select(col(SmsRouteOverride.phone), col(SmsRouteOverride.carrier)))
    return {phone: carrier for phone, carrier in rows}
