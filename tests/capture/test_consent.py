"""The consent gate: the law table (loaded, validated, sourced), the rule shown for the chosen places
(strictest wins), the page with and without JavaScript's help, the stored record, remembered answers,
and that capture (page or socket) cannot start without a consent record."""

import copy
import json
import re
from datetime import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from capture import services
from capture.consent.law import (
    ALL_PARTY,
    CA_CODES,
    DATA_FILE,
    ELSEWHERE,
    IN_PERSON,
    ONE_PARTY,
    UNKNOWN,
    US_CODES,
    VIDEO,
    LawDataError,
    consent_rule_explain,
    consent_rule_for,
    consent_shown_for,
    law_table,
    law_table_load,
    law_table_parse,
)
from capture.consent.records import ConsentRecordInvalid, consent_record_build, consent_record_validate
from capture.consent.services import consent_give, consent_record_save
from capture.models import CaptureSession, ConsentPreference, LinkedDevice
from capture.pairing.middleware import CAPTURE_DEVICE_SESSION_KEY
from tests.capture.conftest import communicator, run
from tests.factories import PASSWORD

ALL_PARTY_13 = ["CA", "CT", "DE", "FL", "IL", "MD", "MA", "MI", "MT", "NH", "OR", "PA", "WA"]
CONTESTED = ["NV", "DE", "OR"]


def raw_table() -> dict:
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def entry(raw: dict, code: str) -> dict:
    return next(e for e in raw["jurisdictions"] if e["code"] == code)


# The law table -------------------------------------------------------------------------------------


def test_law_table_loads_complete_with_a_source_for_every_entry():
    table = law_table_load()
    assert table.version >= 1 and table.reviewed.year >= 2026
    assert set(table.jurisdictions) == US_CODES | CA_CODES | {ELSEWHERE}
    assert len(US_CODES) == 51 and len(CA_CODES) == 13  # 50 states + DC; 10 provinces + 3 territories
    for j in table.jurisdictions.values():
        assert j.rule in (ALL_PARTY, ONE_PARTY, UNKNOWN), j.code
        assert j.name and j.note, j.code
        assert j.sources and all(s.cite.strip() for s in j.sources), j.code
        assert all(s.url == "" or s.url.startswith(("https://", "http://")) for s in j.sources), j.code
    assert any("2511(2)(d)" in s.cite for s in table.federal_sources)


def test_the_13_usually_listed_states_are_all_party():
    table = law_table()
    for code in ALL_PARTY_13:
        assert table.get(f"US-{code}").rule == ALL_PARTY, code
    assert table.get("US-CA").sources[0].cite.startswith("Cal. Penal Code §632")
    # A few one-party states for contrast.
    for code in ("NY", "TX", "GA", "DC", "VT"):
        assert table.get(f"US-{code}").rule == ONE_PARTY, code


def test_contested_places_are_flagged_explained_and_shown_at_their_strictest():
    table = law_table()
    for code in CONTESTED:
        place = table.get(f"US-{code}")
        assert place.contested, code
        assert place.contested_note, code
        assert place.rule == ALL_PARTY, code  # the strictest reading is the one shown
    assert not table.get("US-CA").contested and not table.get("US-NY").contested


def test_canada_is_one_party_under_criminal_code_184():
    table = law_table()
    for code in CA_CODES:
        place = table.get(code)
        assert place.rule == ONE_PARTY, code
        assert any("C-46" in s.cite and "184" in s.cite for s in place.sources), code
        assert "s. 184" in place.note, code


def test_elsewhere_is_unknown_and_treated_as_all_party():
    decision = consent_rule_for(session_type=IN_PERSON, client=ELSEWHERE)
    assert law_table().get(ELSEWHERE).rule == UNKNOWN
    assert decision.rule == ALL_PARTY and decision.unknown
    assert "check" in decision.text.title.lower()
    assert any("check the law" in line for line in consent_rule_explain(decision))


@pytest.mark.parametrize(
    "break_it, message",
    [
        (lambda raw: entry(raw, "US-CA").update(sources=[]), "US-CA: needs at least one source"),
        (lambda raw: entry(raw, "US-TX").pop("sources"), "US-TX: needs at least one source"),
        (lambda raw: entry(raw, "US-WA")["sources"][0].update(cite=" "), "cite"),
        (lambda raw: entry(raw, "CA-ON").update(rule="two_party"), "CA-ON: rule must be one of"),
        (lambda raw: entry(raw, "US-NV").update(rule="one_party"), "US-NV: contested places are stored"),
        (lambda raw: entry(raw, "US-DE").pop("contested_note"), "US-DE: 'contested_note'"),
        (lambda raw: raw["jurisdictions"].remove(entry(raw, "US-WY")), "missing US entries: ['US-WY']"),
        (lambda raw: raw["jurisdictions"].append(entry(raw, "US-OH")), "US-OH: listed twice"),
        (lambda raw: raw.update(reviewed="last week"), "reviewed"),
        (lambda raw: raw["rules"].pop("unknown"), "rules"),
    ],
)
def test_a_broken_law_table_fails_at_load(break_it, message):
    raw = copy.deepcopy(raw_table())
    break_it(raw)
    with pytest.raises(LawDataError, match=re.escape(message)):
        law_table_parse(raw)


def test_an_unreadable_law_table_file_fails_at_load(tmp_path):
    bad = tmp_path / "jurisdictions.json"
    bad.write_text("{ not json", encoding="utf-8")
    with pytest.raises(LawDataError, match="cannot read"):
        law_table_load(path=bad)


# The rule shown -------------------------------------------------------------------------------------


def test_in_person_uses_the_one_place():
    ca = consent_rule_for(session_type=IN_PERSON, client="US-CA", therapist="US-NY")
    assert ca.rule == ALL_PARTY and ca.therapist is None and [p.code for p in ca.places] == ["US-CA"]
    ny = consent_rule_for(session_type=IN_PERSON, client="US-NY")
    assert ny.rule == ONE_PARTY and not ny.mixed


def test_video_client_one_party_therapist_all_party_is_all_party():
    decision = consent_rule_for(session_type=VIDEO, client="US-NY", therapist="US-CA")
    assert decision.rule == ALL_PARTY and decision.mixed
    assert decision.deciding.code == "US-CA"
    text = " ".join(consent_rule_explain(decision))
    assert "New York" in text and "California" in text and "strictest rule applies" in text
    # And the other way round.
    assert consent_rule_for(session_type=VIDEO, client="US-CA", therapist="US-NY").rule == ALL_PARTY


def test_video_both_one_party_stays_one_party_but_still_asks():
    decision = consent_rule_for(session_type=VIDEO, client="CA-ON", therapist="US-TX")
    assert decision.rule == ONE_PARTY and not decision.mixed
    assert any("still records only with your therapist's agreement" in line for line in decision.lines)


def test_contested_and_unknown_places_make_it_all_party():
    nv = consent_rule_for(session_type=VIDEO, client="US-NY", therapist="US-NV")
    assert nv.rule == ALL_PARTY and [j.code for j in nv.contested] == ["US-NV"]
    abroad = consent_rule_for(session_type=VIDEO, client="US-NY", therapist=ELSEWHERE)
    assert abroad.rule == ALL_PARTY and abroad.unknown and abroad.deciding.code == ELSEWHERE


def test_bad_input_to_the_rule_function_raises():
    with pytest.raises(ValueError):
        consent_rule_for(session_type=VIDEO, client="US-NY")  # no therapist location
    with pytest.raises(ValueError):
        consent_rule_for(session_type="phone", client="US-NY")
    with pytest.raises(KeyError):
        consent_rule_for(session_type=IN_PERSON, client="US-XX")


# The record -----------------------------------------------------------------------------------------


def test_record_build_and_validate():
    record = consent_record_build(
        session_type=VIDEO, client="US-NY", therapist="US-CA", therapist_agreed=True
    )
    consent_record_validate(record)
    assert record["rule"]["code"] == ALL_PARTY and record["rule"]["deciding"] == "US-CA"
    assert record["law_table"] == {
        "version": law_table().version,
        "reviewed": law_table().reviewed.isoformat(),
    }
    for bad in (
        {**record, "therapist_agreed": False},
        {**record, "rule": {**record["rule"], "code": ONE_PARTY}},  # not what the table says
        {**record, "therapist": None},  # video without the therapist's place
        {"therapist_agreed": True},
    ):
        with pytest.raises(ConsentRecordInvalid):
            consent_record_validate(bad)


@pytest.mark.django_db
def test_consent_give_refuses_an_unconfirmed_record_and_writes_nothing(user):
    session = services.capture_session_create(user=user)
    with pytest.raises(ConsentRecordInvalid):
        consent_give(
            session=session, session_type=IN_PERSON, client="US-CA", therapist=None, therapist_agreed=False
        )
    session.refresh_from_db()
    assert session.consent is None and session.consent_at is None
    assert not ConsentPreference.objects.exists()


# The page --------------------------------------------------------------------------------------------


def login(client: Client, user) -> Client:
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def session(user):
    return services.capture_session_create(user=user)


def consent_url(session) -> str:
    return reverse("capture:consent", args=[session.id])


def shown_for(session_type, client, therapist=None) -> str:
    return consent_shown_for(session_type=session_type, client=client, therapist=therapist)


def answers(session_type=IN_PERSON, client="US-CA", therapist="", agreed=True, shown=None, **extra):
    data = {"session_type": session_type, "client_location": client, "therapist_location": therapist}
    if agreed:
        data["therapist_agreed"] = "on"
    if shown is None and client:
        shown = shown_for(session_type, client, therapist or None)
    data["shown_for"] = shown or ""
    return {**data, **extra}


def not_recorded(session) -> bool:
    session.refresh_from_db()
    return session.consent is None and session.consent_at is None and session.status == "consent"


@pytest.mark.django_db
def test_gate_page_asks_the_three_questions_and_loads_its_script_from_a_file(client, user, session):
    body = login(client, user).get(consent_url(session)).content.decode()
    assert 'name="session_type"' in body and 'value="video"' in body and 'value="in_person"' in body
    assert 'name="client_location"' in body and 'name="therapist_location"' in body
    assert '<optgroup label="United States">' in body and '<optgroup label="Canada">' in body
    assert "My therapist agreed to me recording this session to make a private recap" in body
    assert "not legal advice" in body
    assert f'href="{reverse("capture:ask")}"' in body  # "Not asked yet? Build a message"
    # Scripts only as files (the site's CSP will be script-src 'self'): no inline code.
    scripts = re.findall(r"<script[^>]*>", body)
    assert all(re.search(r'\ssrc="/static/[^"]+\.js"', tag) for tag in scripts), scripts
    assert '<script type="module" src="/static/capture/consent.js">' in scripts


@pytest.mark.django_db
def test_post_records_the_consent_with_the_rule_shown(client, user, session):
    response = login(client, user).post(
        consent_url(session), answers(VIDEO, "US-NY", "US-CA", shown=shown_for(VIDEO, "US-NY", "US-CA"))
    )
    assert response.status_code == 302 and response["Location"] == reverse(
        "capture:session", args=[session.id]
    )
    session.refresh_from_db()
    record = session.consent
    assert session.status == CaptureSession.Status.RECORDING and session.consent_at is not None
    assert record["therapist_agreed"] is True and record["session_type"] == VIDEO
    assert record["client"]["code"] == "US-NY" and record["therapist"]["code"] == "US-CA"
    assert record["rule"]["code"] == ALL_PARTY and record["rule"]["label"] == "all-party"
    assert record["law_table"]["version"] == law_table().version
    assert datetime.fromisoformat(record["confirmed_at"])
    consent_record_validate(record)
    # Where and which rule, never content.
    assert set(record) == {
        "version", "therapist_agreed", "session_type", "client", "therapist", "rule", "law_table",
        "confirmed_at",
    }  # fmt: skip


@pytest.mark.django_db
def test_the_all_party_rule_is_shown_for_an_all_party_state(client, user, session):
    login(client, user)
    checked = client.post(consent_url(session), {**answers(client="US-FL", agreed=False), "action": "check"})
    body = checked.content.decode()
    assert checked.status_code == 200 and not_recorded(session)
    assert "Everyone must agree" in body and "all-party" in body
    assert escape("Florida law says everyone taking part") in body
    assert "Fla. Stat. §934.03" in body
    assert f'value="{shown_for(IN_PERSON, "US-FL")}"' in body  # the rule now on screen
    # The fragment the script swaps in says the same.
    fragment = client.get(
        reverse("capture:consent_rule"),
        {"session_type": VIDEO, "client_location": "US-NY", "therapist_location": "US-PA"},
    ).content.decode()
    assert "Everyone must agree" in fragment and "strictest rule applies" in fragment
    assert f'data-shown-for="{shown_for(VIDEO, "US-NY", "US-PA")}"' in fragment
    one_party = client.get(
        reverse("capture:consent_rule"), {"session_type": IN_PERSON, "client_location": "CA-QC"}
    ).content.decode()
    assert "One person may record" in one_party and "s. 184" in one_party and "not legal advice" in one_party
    assert "Everyone must agree" not in one_party


@pytest.mark.django_db
def test_contested_state_says_sources_disagree(client, user, session):
    body = (
        login(client, user)
        .post(consent_url(session), {**answers(client="US-NV", agreed=False), "action": "check"})
        .content.decode()
    )
    assert "Sources disagree about Nevada" in body and "Everyone must agree" in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data, field, message",
    [
        (answers(agreed=False), "therapist_agreed", "Please confirm that your therapist agreed"),
        (answers(client=""), "client_location", "Please choose where you are."),
        (answers(client="US-XX"), "client_location", "Please choose a place from the list."),
        (answers(session_type=""), "session_type", "Please choose how this session happens."),
        (
            answers(session_type=VIDEO, client="US-NY", therapist="", shown="video:US-NY:-"),
            "therapist_location",
            "For a video session, please choose where your therapist is",
        ),
    ],
)
def test_bad_answers_get_clear_errors_and_record_nothing(client, user, session, data, field, message):
    response = login(client, user).post(consent_url(session), data)
    assert response.status_code == 200
    assert not_recorded(session)
    assert message in response.content.decode() or escape(message) in response.content.decode()
    assert field in response.context["form"].errors


@pytest.mark.django_db
def test_confirming_without_having_seen_the_rule_asks_again(client, user, session):
    # No JavaScript, a place chosen and the box ticked in one go: the rule for it was never on screen.
    response = login(client, user).post(consent_url(session), answers(client="US-WA", shown=""))
    body = response.content.decode()
    assert response.status_code == 200 and not_recorded(session)
    assert "Please read it, then confirm again" in body and "Everyone must agree" in body
    # The checkbox is not ticked for them.
    assert re.search(r'<input type="checkbox" name="therapist_agreed"[^>]*checked', body) is None
    # A rule shown for other places does not count either.
    stale = answers(client="US-WA", shown=shown_for(IN_PERSON, "US-NY"))
    assert client.post(consent_url(session), stale).status_code == 200 and not_recorded(session)
    # Confirming again, now that it was shown, records.
    assert client.post(consent_url(session), answers(client="US-WA")).status_code == 302
    assert not not_recorded(session)


@pytest.mark.django_db
def test_answers_are_remembered_but_the_confirmation_is_asked_every_session(client, user, session):
    login(client, user)
    client.post(consent_url(session), answers(VIDEO, "US-NY", "US-CA"))
    preference = ConsentPreference.objects.get(user=user)
    assert (preference.session_type, preference.client_location, preference.therapist_location) == (
        VIDEO,
        "US-NY",
        "US-CA",
    )
    second = services.capture_session_create(user=user)
    response = client.get(consent_url(second))
    body = response.content.decode()
    form = response.context["form"]
    assert form.initial == {"session_type": VIDEO, "client_location": "US-NY", "therapist_location": "US-CA"}
    assert re.search(r'<input type="radio" name="session_type" value="video"[^>]*checked', body)
    assert re.search(r'<option value="US-NY" selected>New York</option>', body)
    assert re.search(r'<option value="US-CA" selected>California</option>', body)
    assert "filled in where you were last time" in body
    # The rule for the remembered places is on screen, and the box is not ticked.
    assert "Everyone must agree" in body and f'value="{shown_for(VIDEO, "US-NY", "US-CA")}"' in body
    assert re.search(r'<input type="checkbox" name="therapist_agreed"[^>]*checked', body) is None
    assert 'name="therapist_agreed"' in body
    # Still required: the remembered answers alone do not record.
    client.post(consent_url(second), answers(VIDEO, "US-NY", "US-CA", agreed=False))
    assert not_recorded(second)


@pytest.mark.django_db
def test_an_in_person_session_keeps_the_remembered_therapist_place(client, user, session):
    login(client, user)
    client.post(consent_url(session), answers(VIDEO, "US-NY", "US-CA"))
    second = services.capture_session_create(user=user)
    client.post(consent_url(second), answers(IN_PERSON, "US-NY", "US-TX"))
    second.refresh_from_db()
    assert second.consent["therapist"] is None  # in person: one place, whatever was posted
    preference = ConsentPreference.objects.get(user=user)
    assert (preference.session_type, preference.therapist_location) == (IN_PERSON, "US-CA")


@pytest.mark.django_db
def test_a_second_confirmation_changes_nothing(client, user, session):
    login(client, user)
    client.post(consent_url(session), answers(client="US-CA"))
    session.refresh_from_db()
    first = session.consent
    response = client.post(consent_url(session), answers(client="US-NY"))
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.consent == first


@pytest.mark.django_db
def test_someone_elses_session_is_not_found(client, other_user, session):
    assert login(client, other_user).get(consent_url(session)).status_code == 404
    assert client.post(consent_url(session), answers()).status_code == 404
    assert not_recorded(session)


@pytest.mark.django_db
def test_a_linked_capture_laptop_can_give_consent_but_not_open_the_builder(user, session):
    from datetime import timedelta

    device = LinkedDevice.objects.create(
        user=user, name="Chrome on Linux", expires_at=timezone.now() + timedelta(days=30)
    )
    laptop = Client()
    laptop.force_login(user)
    store = laptop.session
    store[CAPTURE_DEVICE_SESSION_KEY] = str(device.id)
    store.save()
    page = laptop.get(consent_url(session))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Ask your therapist" in body and f'href="{reverse("capture:ask")}"' not in body
    assert (
        laptop.get(
            reverse("capture:consent_rule"), {"session_type": IN_PERSON, "client_location": "US-CA"}
        ).status_code
        == 200
    )
    assert laptop.get(reverse("capture:ask")).status_code == 403
    assert laptop.get(reverse("capture:ask_message")).status_code == 403
    assert laptop.post(consent_url(session), answers()).status_code == 302
    assert not not_recorded(session)


def consent_line(body: str) -> str:
    line = re.search(r'<p class="muted consent-record" id="consent">(.*?)</p>', body, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", "", line).split())


@pytest.mark.django_db
def test_recap_shows_the_consent_line(client, user, session):
    from recaps.models import Recap
    from tests.recaps.recap_fixtures import recap_data

    login(client, user)
    client.post(consent_url(session), answers(client="US-CA"))
    session.refresh_from_db()
    recap = Recap.objects.create(
        user=user, session=session, number=1, engine="local", data=recap_data("work_sleep"),
        session_date=session.consent_at,
    )  # fmt: skip
    text = consent_line(client.get(reverse("recaps:detail", args=[recap.id])).content.decode())
    stamp = timezone.localtime(session.consent_at).strftime("%-d %b %Y %H:%M")
    assert text == f"Consent: Therapist agreed · in person, in California (all-party) · {stamp}"


@pytest.mark.django_db
def test_recap_consent_line_for_a_video_session_and_an_own_voice_one(client, user):
    from recaps.models import Recap
    from tests.recaps.recap_fixtures import recap_data

    login(client, user)
    video = services.capture_session_create(user=user)
    client.post(consent_url(video), answers(VIDEO, "US-NY", "CA-ON"))
    own = services.capture_session_create(user=user, mode=CaptureSession.Mode.SELF)
    consent_record_save(session=own, consent={"mode": "self", "own_voice_only": True})
    bodies = []
    for number, s in enumerate((video, own), start=1):
        s.refresh_from_db()
        recap = Recap.objects.create(
            user=user, session=s, number=number, engine="local", data=recap_data("work_sleep"),
            session_date=s.consent_at, kind=s.mode,
        )  # fmt: skip
        bodies.append(consent_line(client.get(reverse("recaps:detail", args=[recap.id])).content.decode()))
    assert bodies[0].startswith(
        "Consent: Therapist agreed · by video, you in New York, your therapist in Ontario"
    )
    assert "(one-party) · " in bodies[0]
    assert bodies[1].startswith("Consent: Recap in your own voice, no one else recorded · ")


# No consent, no capture -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_session_page_sends_an_unconsented_session_to_the_gate(client, user, session):
    response = login(client, user).get(reverse("capture:session", args=[session.id]))
    assert response.status_code == 302 and response["Location"] == consent_url(session)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_transcribe", "clean_redis")
def test_socket_refuses_an_unconsented_session_with_4412_and_accepts_after_consent(user, cookie):
    session = services.capture_session_create(user=user)

    async def close_code():
        comm = communicator(session.id, cookie=cookie)
        await comm.connect()
        while True:
            output = await comm.receive_output(timeout=5)
            if output["type"] == "websocket.close":
                return output.get("code")

    assert run(close_code) == 4412

    # A failed gate (no confirmation) does not open it either.
    login(Client(), user).post(consent_url(session), answers(agreed=False))
    assert run(close_code) == 4412

    consent_give(
        session=session, session_type=IN_PERSON, client="US-CA", therapist=None, therapist_agreed=True
    )

    async def hello():
        comm = communicator(session.id, cookie=cookie)
        connected, _ = await comm.connect()
        assert connected
        await comm.send_to(text_data=json.dumps({"type": "hello", "proto": 1, "channels": [0]}))
        reply = json.loads(await comm.receive_from(timeout=5))
        await comm.disconnect()
        return reply["type"]

    assert run(hello) == "welcome"


@pytest.mark.django_db
def test_an_own_voice_session_is_sent_to_its_own_start_not_the_therapist_gate(client, user):
    own = services.capture_session_create(user=user, mode=CaptureSession.Mode.SELF)
    response = login(client, user).get(consent_url(own))
    assert response.status_code == 302 and response["Location"] == reverse("capture:self_start")
    client.post(consent_url(own), answers())
    assert not_recorded(own)
