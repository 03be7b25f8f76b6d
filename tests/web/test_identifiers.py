"""No identifier reaches a reader: every main page, in Vietnamese and in English, shows display names
(the flows' labels, robocall.labels, the catalogue of robocall.web.i18n), never stored keys such as
`no_answer`, `home_visit`, `cdc_staff` or Python's dict text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from aiohttp.test_utils import TestClient
from webhelp import ROOT, login, pages_in_both_languages, run_client
from webseed import USERS

from robocall.flows.loader import load_flows, vocabulary_of
from robocall.labels import LABELS

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
# Python's repr of a dict, a list or a value: {'a': 1}, [], None (not the English words "False alarm").
DICT_TEXT = re.compile(r"\{'|': |\[\]|[:=] ?(?:None|True|False)\b|^(?:None|True|False)$|\bNone\b")
# Stored values whose English form is an ordinary word: they must not show on a Vietnamese page.
ENGLISH_IDENTIFIERS = {"urgent", "watch", "callback", "busy", "completed", "returnee", "viewer", "admin",
                       "paused", "running", "finished", "outbound", "inbound", "ringing", "queued",
                       "scheduled", "cancelled", "loading", "unknown", "broadcast", "transactional",
                       "viettel", "vinaphone", "mobifone", "vietnamobile"}
# People's user names are data that staff typed, not identifiers.
ALLOWED = set(USERS.values())


class _VisibleText(HTMLParser):
    """The text a person sees: no scripts, styles, attribute values or hidden templates."""

    HIDDEN = {"script", "style", "template", "head", "svg", "code", "pre", "textarea"}

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


def identifiers_in(text: str, lang: str) -> set[str]:
    found = {token for token in SNAKE.findall(text) if token not in ALLOWED}
    found |= set(DICT_TEXT.findall(text))
    if lang == "vi":
        words = set(re.findall(r"\b[a-z_]+\b", text))
        found |= words & ENGLISH_IDENTIFIERS
    return found


def test_the_catalogue_names_every_value_in_both_languages() -> None:
    for kind, values in LABELS.items():
        for value, (vi, en) in values.items():
            assert vi.strip() and en.strip(), f"{kind} {value}"
            assert not SNAKE.search(vi) and not SNAKE.search(en), f"{kind} {value}"
    flows, problems = load_flows([ROOT / "ivr_flows"])
    assert problems == []
    for (kind, key), written in vocabulary_of(flows.values()).entries.items():  # the flows' own names
        for text in (written.label.vi, written.label.en):
            assert text.strip() and not SNAKE.search(text), f"{kind} {key}"


def test_no_page_shows_an_identifier_in_either_language(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    _, ids = seeded
    paths = ["/escalations", "/escalations?status=all", f"/escalations/{ids['urgent_old']}",
             f"/escalations/{ids['watch']}", f"/escalations/{ids['callback_done']}",
             f"/escalations/{ids['hotline_case']}", f"/contacts/{ids['contact_0']}", f"/contacts/{ids['contact_2']}",
             "/lists/symptomatic", "/lists/non_reporting", "/lists/monitoring", "/home-visits",
             "/campaigns", f"/campaigns/{ids['campaign']}", "/sms-campaigns", f"/sms-campaigns/{ids['sms_campaign']}",
             "/reports", "/users", "/contacts?q=nguyen", "/contacts?q=0912000001", "/audit"]

    pages = pages_in_both_languages(make_app(), "admin", paths)
    shown = {f"{lang} {path}": sorted(found) for (lang, path), html in pages.items()
             if (found := identifiers_in(visible_text(html), lang))}
    assert shown == {}, "\n".join(f"{page}: {found}" for page, found in shown.items())


def test_the_language_link_keeps_the_pages_filters(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    async def scenario(client: TestClient) -> tuple[str, str]:
        await login(client, "viewer")
        vi = await (await client.get("/escalations?level=urgent&district=Qu%E1%BA%ADn+1&sort=level")).text()
        en = await (await client.get("/escalations?level=urgent&sort=level&lang=en")).text()
        return vi, en

    vi, en = run_client(make_app(), scenario)
    link = re.search(r'<a href="([^"]+)" class="lang">EN</a>', vi)
    assert link and link.group(1) == "/escalations?level=urgent&amp;district=Qu%E1%BA%ADn+1&amp;sort=level&amp;lang=en"
    assert '<a href="/escalations?level=urgent&amp;sort=level&amp;lang=vi" class="lang">VI</a>' in en


def test_sms_campaign_pages_show_no_identifier_in_any_state(make_app, seeded) -> None:  # type: ignore[no-untyped-def]
    """The SMS list and a campaign's page in every status a campaign goes through (and the standing
    campaign of single messages), in both languages: statuses, carriers, encodings and kinds by name."""
    import datetime as dt

    from sqlmodel import Session as DbSession

    from robocall.sms_models import CampaignKind, CampaignStatus, SmsCampaign, SmsMessage

    engine, ids = seeded
    at = dt.datetime(2021, 8, 11, 1, 0, tzinfo=dt.UTC)
    campaigns = {}
    with DbSession(engine) as db:
        for status in CampaignStatus:
            campaign = SmsCampaign(name=f"Chiến dịch {LABELS['status'][status.value][0]}", template="CDC Hue",
                                   status=status.value, recipients=2, created_at=at,
                                   send_at=at + dt.timedelta(days=1) if status == CampaignStatus.SCHEDULED else None)
            db.add(campaign)
            db.flush()
            for n, (carrier, encoding) in enumerate((("Viettel", "GSM-7"), ("unknown", "UCS-2"))):
                db.add(SmsMessage(campaign_id=campaign.id or 0, phone=f"+8498700{campaign.id:03d}{n}", carrier=carrier,
                                  encoding=encoding, state="delivered", queued_at=at))
            campaigns[status.value] = campaign.id or 0
        single = SmsCampaign(kind=CampaignKind.TRANSACTIONAL, name="", template="", status="running", created_at=at)
        db.add(single)
        db.flush()
        campaigns["transactional"] = single.id or 0
        db.commit()
    paths = ["/sms-campaigns", *(f"/sms-campaigns/{i}" for i in [*campaigns.values(), ids["sms_campaign"]])]

    pages = pages_in_both_languages(make_app(), "cdc_staff", paths)
    shown = {f"{lang} {path}": sorted(found) for (lang, path), html in pages.items()
             if (found := identifiers_in(visible_text(html), lang))}
    assert shown == {}, "\n".join(f"{page}: {found}" for page, found in shown.items())
    for status, campaign_id in campaigns.items():
        if status == "transactional":
            continue
        for lang, index in (("vi", 0), ("en", 1)):
            page = pages[(lang, f"/sms-campaigns/{campaign_id}")]
            assert f'data-status="{status}">{LABELS["status"][status][index]}<' in page
    vi, en = pages[("vi", f"/sms-campaigns/{campaigns['paused']}")], pages[("en", f"/sms-campaigns/{campaigns['paused']}")]
    assert ">Viettel<" in vi and "Không rõ nhà mạng" in vi and "GSM-7 (không dấu)" in vi
    assert "Unknown network" in en and "UCS-2 (Unicode)" in en
    # The standing campaign of single messages cannot be cancelled.
    assert 'id="btn-sms-cancel"' not in pages[("vi", f"/sms-campaigns/{campaigns['transactional']}")]
    assert 'id="btn-sms-cancel"' in pages[("vi", f"/sms-campaigns/{campaigns['running']}")]
