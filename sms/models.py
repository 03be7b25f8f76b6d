"""SMS tables (same SQLModel metadata as robocall.models; migration 0002_sms).

Every message of a campaign is a row with a state; the figures of `sms status`
and `robocall report` are counted from these rows.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from robocall.models import utcnow


class CampaignStatus(StrEnum):
    SCHEDULED = "scheduled"  # waits for send_at
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    FINISHED = "finished"


class MessageState(StrEnum):
    QUEUED = "queued"  # waits for a worker (or for next_try_at after a transient failure)
    SUBMITTED = "submitted"  # handed to a gateway, no answer yet (a worker may have died here)
    ACCEPTED = "accepted"  # the carrier took it (gateway_message_id set); waits for a receipt
    DELIVERED = "delivered"
    FAILED = "failed"  # reason says why
    EXPIRED = "expired"  # the carrier gave up, or the campaign was cancelled before it went out


FINAL_STATES = (MessageState.DELIVERED, MessageState.FAILED, MessageState.EXPIRED)
# What the report counts as "sent": the carrier took it.
SENT_STATES = (MessageState.ACCEPTED, MessageState.DELIVERED)


class SmsCampaign(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = ""
    template: str
    strip_accents: bool = False
    source: str = Field(default="", description="where recipients came from: a file name or a contacts filter")
    status: str = Field(default=CampaignStatus.RUNNING, index=True)
    send_at: dt.datetime | None = None
    recipients: int = 0
    duplicates: int = 0
    invalid: int = 0
    opted_out: int = 0
    created_at: dt.datetime = Field(default_factory=utcnow)
    finished_at: dt.datetime | None = None


class SmsMessage(SQLModel, table=True):
    __table_args__ = (
        # Duplicates in a list are sent once: the database refuses a second row.
        UniqueConstraint("campaign_id", "phone", name="one_sms_per_phone_per_campaign"),
        # Receipts are matched back by (gateway, the carrier's message id).
        Index("ix_smsmessage_gateway_message", "gateway", "gateway_message_id"),
        Index("ix_smsmessage_campaign_state", "campaign_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="smscampaign.id")
    phone: str = Field(description="E.164")
    carrier: str = Field(default="", description="network the number is on (prefix, or the ported-number table)")
    gateway: str = Field(default="", description="configured gateway it goes through")
    text: str | None = Field(default=None, description="rendered text; NULL when it is the campaign's template as is")
    encoding: str = ""
    segments: int = 1
    state: str = Field(default=MessageState.QUEUED)
    attempts: int = 0
    reason: str = ""
    gateway_message_id: str | None = None
    next_try_at: dt.datetime | None = None
    queued_at: dt.datetime = Field(default_factory=utcnow)
    submitted_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = Field(default=None, index=True)
    done_at: dt.datetime | None = None


class SmsInvalidRecipient(SQLModel, table=True):
    """A number of a campaign's list that could not be used, with the reason (for the CDC staff)."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="smscampaign.id", index=True)
    row: int = Field(description="line of the file (1 = header), or contact id")
    value: str = ""
    reason: str


class SmsReceipt(SQLModel, table=True):
    """A delivery receipt as it arrived; applied to its message once the message is known."""

    __table_args__ = (Index("ix_smsreceipt_gateway_message", "gateway", "gateway_message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    gateway: str
    gateway_message_id: str
    status: str = Field(description="delivered, failed or expired")
    error: str = ""
    received_at: dt.datetime = Field(default_factory=utcnow)
    applied: bool = Field(default=False, index=True)


class SmsRouteOverride(SQLModel, table=True):
    """Numbers ported to another network: the carrier they are on now (wins over the prefix)."""

    phone: str = Field(primary_key=True, description="E.164")
    carrier: str
    updated_at: dt.datetime = Field(default_factory=utcnow)


class SmsOptOut(SQLModel, table=True):
    """People who answered STOP / TU CHOI and are not contacts (contacts get Contact.opted_out too)."""

    phone: str = Field(primary_key=True, description="E.164")
    at: dt.datetime = Field(default_factory=utcnow)
    source: str = ""


class SmsInbound(SQLModel, table=True):
    """Every SMS received, and what was done with it."""

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(index=True)
    text: str
    gateway: str = ""
    action: str = ""
    received_at: dt.datetime = Field(default_factory=utcnow)
