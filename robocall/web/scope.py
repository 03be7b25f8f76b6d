"""Which people a user may see and act on: the one place queries are narrowed to a user's districts.

A district officer (`User.districts` set) sees the contacts of those districts, their calls and
cases, and nothing else; the provincial CDC (no districts) sees everything.  A case whose caller is
not a contact yet has no district: only the province sees it until staff there make the contact.
Every query of personal data takes a `Scope` and adds `contact_condition()`; single objects are
checked with `allows()`, so a case of another district is a 404 on pages, exports and the API alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlmodel import col, select

from robocall.models import Contact
from robocall.web.security import current_user


@dataclass(frozen=True)
class Scope:
    districts: tuple[str, ...] = ()  # empty: the whole province

    @classmethod
    def parse(cls, text: str) -> Scope:
        return cls(tuple(d.strip() for d in text.split(",") if d.strip()))

    @property
    def province(self) -> bool:
        return not self.districts

    def contact_condition(self) -> list[Any]:
        """Conditions on `Contact` (outer-joined: a case without a contact matches only the province)."""
        return [] if self.province else [col(Contact.district).in_(self.districts)]

    def of_contact(self, contact_id: Any) -> list[Any]:
        """Conditions on a row's contact id column (no join): the contact is one of the districts'."""
        if self.province:
            return []
        return [col(contact_id).in_(select(Contact.id).where(col(Contact.district).in_(self.districts)))]

    def allows(self, contact: Contact | None) -> bool:
        return self.covers(contact.district if contact is not None else None)

    def covers(self, district: str | None) -> bool:
        """A case of `district` is in the scope (None: a case with no contact, the province's alone)."""
        return self.province or (district is not None and district in self.districts)


WHOLE_PROVINCE = Scope()


def scope_of(request: web.Request) -> Scope:
    user = current_user(request) or {}
    return Scope.parse(str(user.get("districts", "")))
