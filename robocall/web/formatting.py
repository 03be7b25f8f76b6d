"""Jinja filters: local times and dates, waiting times, numbers and percentages in the page's language
(Babel, through robocall.labels: no hand-written strftime on a page), and the display names of stored
values (the flows' answers, values and levels, and robocall.labels for the rest, all through
robocall.flows.vocabulary.Vocabulary.name)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import pass_context
from jinja2.runtime import Context

from robocall import labels
from robocall.flows.vocabulary import Vocabulary
from robocall.logging_setup import mask_phone


def _lang(context: Context) -> str:
    return str(context.get("lang") or "vi")


def _vocabulary(context: Context) -> Vocabulary:
    """The loaded flows' names (page_context puts them on every page; a page without them, such as an
    error page, names the system's values only)."""
    found = context.get("vocabulary")
    return found if isinstance(found, Vocabulary) else Vocabulary()


@pass_context
def local_time(context: Context, value: dt.datetime | None, tz: ZoneInfo | None = None,
               kind: str = "datetime") -> str:
    """`{{ e.at|local_time(tz) }}`: an instant in the province's time zone and the page's language;
    kind `datetime`, `seconds`, `date`, `time` or `day_month` (robocall.labels.moment)."""
    return labels.moment(value, _lang(context), tz or context["tz"], kind)


@pass_context
def duration(context: Context, minutes: int) -> str:
    """A waiting time in the page's language: `3 ngày`, `2 giờ`, `12 phút`."""
    return labels.waiting(minutes, _lang(context))


@pass_context
def percent(context: Context, value: float) -> str:
    return labels.percent(value, _lang(context))


@pass_context
def number(context: Context, value: float | int) -> str:
    return labels.number(value, _lang(context))


@pass_context
def label(context: Context, value: object, kind: str) -> str:
    """`{{ e.level|label('level') }}`: the display name of a stored value."""
    return _vocabulary(context).name(kind, value, _lang(context))


@pass_context
def day(context: Context, value: dt.date | None) -> str:
    """A calendar day (no time zone: a follow-up's day, a date of exposure) in the page's language."""
    return labels.day(value, _lang(context))


@pass_context
def flow_title(context: Context, name: str) -> str:
    """A flow by its title (from its file), not its file name."""
    titles = context.get("flow_titles") or {}
    return str(titles.get(name) or name)


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?")


@pass_context
def audit_detail(context: Context, detail: dict[str, Any] | None) -> list[tuple[str, str]]:
    """An audit entry's details as (name, value) for reading: names and named values by their labels,
    no Python dict or list text."""
    lang, tz = _lang(context), context.get("tz") or ZoneInfo("UTC")
    names = _vocabulary(context)

    def shown(value: Any) -> str:
        if isinstance(value, str) and ISO_DAY.fullmatch(value):  # kept as ISO in the log, read as a date
            return labels.day(dt.date.fromisoformat(value), lang)
        if isinstance(value, str) and ISO_MOMENT.fullmatch(value):
            return labels.moment(dt.datetime.fromisoformat(value), lang, tz, "datetime")
        if isinstance(value, bool):
            return labels.label("value", "yes" if value else "no", lang)
        if value is None or value == "":
            return "—"
        if isinstance(value, int | float):
            return labels.number(value, lang)
        if isinstance(value, dict):
            # A filter's level or category (a queue viewed with level=urgent) by its display name.
            return "; ".join(f"{labels.label('detail', k, lang)}: "
                             f"{names.name(k, v, lang) if k in ('level', 'category') else shown(v)}"
                             for k, v in value.items())
        if isinstance(value, list | tuple):
            return ", ".join(shown(v) for v in value)
        return labels.label("value", value, lang)

    return [(labels.label("detail", key, lang), shown(value))
            for key, value in (detail or {}).items() if key != "path"]


@pass_context
def answer_value(context: Context, value: Any, answer: str | None = None) -> str:
    """An answer as staff read it: ✔/✘ for yes/no, a number in the page's language (38,6), a named
    value by the name its flow gives it (`{{ x.value|answer_value(x.question) }}`)."""
    if value is True:
        return "✔"
    if value is False:
        return "✘"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return labels.number(value, _lang(context))
    return _vocabulary(context).name("value", value, _lang(context), answer=answer)


FILTERS = {"mask": mask_phone, "local_time": local_time, "duration": duration, "percent": percent, "day": day,
           "answer_value": answer_value, "num": number, "label": label,
           "flow_title": flow_title, "audit_detail": audit_detail}
