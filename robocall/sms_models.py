"""SMS tables (same SQLModel metadata as robocall.models; migration 0002_sms).

Every message of a campaign is a row with a state; the figures of `sms status`
and `robocall report` are counted from these rows.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, literal_column, text
from sqlmodel import Field, SQLModel, col

from robocall.models import utcnow


class CampaignStatus(StrEnum):
    SCHEDULED = "scheduled"  # waits for send_at
    LOADING = "loading"  # its list is still being read; what is loaded is being sent (create_campaign(stream=True))
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    FINISHED = "finished"


SENDABLE = (CampaignStatus.RUNNING, CampaignStatus.LOADING)  # workers send the messages of these


class CampaignKind(StrEnum):
    BROADCAST = "broadcast"  # one text to a list, sent once per number, respecting quiet hours
    # The one standing campaign of single messages (robocall/conversations/outbox.py): replies to people who wrote to us
    # and health notices after a call.  Never finished, never held back by quiet hours.
    TRANSACTIONAL = "transactional"


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
    __table_args__ = (
        # At most one standing transactional campaign, however many workers race to create it.
        Index("one_transactional_campaign", "kind", unique=True,
              sqlite_where=text("kind = 'transactional'"), postgresql_where=text("kind = 'transactional'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default=CampaignKind.BROADCAST, description="broadcast or transactional (robocall/conversations/outbox.py)")
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
    # While the list loads, its messages are sent in batches cut by id (sms.fanout.drive): they all have
    # ids above loaded_from, and every one with an id up to loaded_up_to is written.
    loaded_from: int | None = Field(default=None, description="the highest message id before the list's")
    loaded_up_to: int | None = Field(default=None, description="the list is written up to this message id")


FILLFACTOR = 40  # of smsmessage's pages, on PostgreSQL


class SmsMessage(SQLModel, table=True):
    __table_args__ = (
        # Duplicates in a list are sent once: the database refuses a second row.  Single messages
        # (a purpose set: replies, health notices) may go to one number many times.
        Index("one_sms_per_phone_per_campaign", "campaign_id", "phone", unique=True,
              sqlite_where=text("purpose = ''"), postgresql_where=text("purpose = ''")),
        # Single messages only (replies, advice: a small share): the report's of a period and the transactional
        # campaign's page.  Neither column changes after the insert, and a list's COPY writes no entry here.
        Index("ix_smsmessage_single_queued_at", "queued_at",
              sqlite_where=text("purpose <> ''"), postgresql_where=text("purpose <> ''")),
        # No other index: a message changes state three times (claimed, accepted, receipt), and an
        # update that touches no indexed column is a "HOT" update on PostgreSQL (no index writes).
        # Receipts find their message through smsmessagepart (carrier ids, insert-only).
        # Pages filled to 40 % (migration 0007): COPY packs them full, and an update that finds no room
        # on the row's page is not HOT.  Three versions of a ~250-byte row fit with room to spare.
        {"postgresql_with": {"fillfactor": FILLFACTOR}},
    )

    id: int | None = Field(default=None, primary_key=True)
    # Not a foreign key (migration 0008): PostgreSQL checks one with a query per inserted row, 40 % of
    # loading a list.  Only the loader and the outbox write messages, into a campaign they hold;
    # campaigns are never deleted.
    campaign_id: int = Field(description="the SmsCampaign it belongs to")
    phone: str = Field(description="E.164")
    carrier: str = Field(default="", description="network the number is on (prefix, or the ported-number table)")
    gateway: str = Field(default="", description="configured gateway it goes through")
    text: str | None = Field(default=None, description="rendered text; NULL when it is the campaign's template as is")
    purpose: str = Field(default="", description="'' in a campaign's list; else why this single message (outbox.Purpose)")
    encoding: str = ""
    segments: int = 1
    state: str = Field(default=MessageState.QUEUED)
    attempts: int = 0
    reason: str = ""
    gateway_message_id: str | None = Field(default=None, description="the carrier's id of part 1 (shown; "
                                           "receipts are matched through smsmessagepart)")
    next_try_at: dt.datetime | None = None
    queued_at: dt.datetime = Field(default_factory=utcnow)
    submitted_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None  # not indexed (HOT updates): reports scan, a few seconds at most
    done_at: dt.datetime | None = None


def single_messages() -> Any:
    """The condition "a single message" with its literal, so the partial index above can serve it (a bound
    parameter would hide from the planner that it is the index's own condition)."""
    return col(SmsMessage.purpose) != literal_column("''")


def list_messages() -> Any:
    """The condition "a message of a campaign's list" (the partial index one_sms_per_phone_per_campaign's)."""
    return col(SmsMessage.purpose) == literal_column("''")


class SmsInvalidRecipient(SQLModel, table=True):
    """A number of a campaign's list that could not be used, with the reason (for the CDC staff)."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="smscampaign.id", index=True)
    row: int = Field(description="line of the file (1 = header), or contact id")
    value: str = ""
    reason: str


class SmsReceipt(SQLModel, table=True):
    """A delivery receipt that matched no message within sms.receipts.MATCH_WINDOW, set aside for the
    staff (matched receipts change their message and are not kept)."""

    __table_args__ = (Index("ix_smsreceipt_gateway_message", "gateway", "gateway_message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    gateway: str
    gateway_message_id: str
    status: str = Field(description="delivered, failed or expired")
    error: str = ""
    received_at: dt.datetime = Field(default_factory=utcnow)
    applied: bool = Field(default=False, index=True)


class SmsMessagePart(SQLModel, table=True):
    """The carrier's id of every part of every accepted message (part 1 included), so that receipts
    find their message.  Insert-only, written in bulk with the accepted results; no foreign key (its
    check would lock each message row: a write per message) — messages are never deleted.  Its key
    is what receipts look up (migration 0009): one index to write per row, no serial id."""

    gateway: str = Field(primary_key=True)
    gateway_message_id: str = Field(primary_key=True)
    part: int = Field(primary_key=True)
    message_id: int = Field(primary_key=True)


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


class DialogueStatus(StrEnum):
    OPEN = "open"
    ENDED = "ended"


class SmsDialogue(SQLModel, table=True):
    """A health declaration by SMS (robocall/conversations/sms_declaration.py): the flow's session between two messages.

    One open dialogue per number; when it ends, the answers and escalations are written as a
    CallAttempt with channel ``sms`` (attempt_id), exactly as a hotline call is.
    """

    __table_args__ = (
        Index("one_open_sms_dialogue_per_phone", "phone", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_smsdialogue_status_last_at", "status", "last_at"),  # the sweep of expired dialogues
    )

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(description="E.164 of the person writing")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    flow: str
    gateway: str = Field(default="", description="gateway the first message came in through")
    status: str = Field(default=DialogueStatus.OPEN)
    session: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False),
                                    description="answers so far, with their question and time (not yet an Answer row)")
    replies: int = Field(default=0, description="messages the person sent in this dialogue after the keyword")
    started_at: dt.datetime = Field(default_factory=utcnow)
    last_at: dt.datetime = Field(default_factory=utcnow, description="last message from the person")
    ended_at: dt.datetime | None = None
    closed_by: str = Field(default="", description="flow (it ended), expired, opt_out or restart (KB again)")
    attempt_id: int | None = Field(default=None, foreign_key="callattempt.id")
