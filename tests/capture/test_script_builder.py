"""The message builder: the five-part ask in each tone, a privacy paragraph true to the product, the
read-aloud format, and the page working with a plain GET (no JavaScript)."""

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from capture import services
from capture.consent.script import FORMATS, PARTS, PAUSE, REASONS, TONES, script_build
from capture.consent.services import consent_record_save
from tests.factories import PASSWORD, consent_record

KEYS = [key for key, _ in PARTS]
NO_AUDIO = re.compile(r"\bno (raw )?audio\b", re.I)


def build(**overrides):
    choices = {"reasons": ["remember"], "recording_format": "recap", "tone": "warm", **overrides}
    return script_build(**choices)


@pytest.mark.parametrize("read_aloud", [False, True])
@pytest.mark.parametrize("tone", list(TONES))
def test_each_tone_has_the_five_parts(tone, read_aloud):
    script = build(tone=tone, read_aloud=read_aloud, reasons=["adhd", "practice"])
    assert [p.key for p in script.parts] == KEYS == ["reason", "format", "privacy", "use", "answer"]
    assert all(p.text.strip() for p in script.parts)
    for part in script.parts:  # each part is in the message, in order
        assert part.text in script.text
    positions = [script.text.index(p.text) for p in script.parts]
    assert positions == sorted(positions)
    reason = script.part("reason").text
    assert "ADHD" in reason and "practise" in reason
    assert "Undertone" in script.part("format").text
    assert "recap" in script.part("format").text


@pytest.mark.parametrize("read_aloud", [False, True])
def test_tones_are_worded_differently_part_by_part(read_aloud):
    scripts = {tone: build(tone=tone, read_aloud=read_aloud) for tone in TONES}
    for key in KEYS:
        texts = {scripts[tone].part(key).text for tone in TONES}
        assert len(texts) == len(TONES), f"{key} reads the same in two tones"


@pytest.mark.parametrize("read_aloud", [False, True])
@pytest.mark.parametrize("tone", list(TONES))
def test_privacy_paragraph_promises_what_the_product_does(tone, read_aloud):
    privacy = build(tone=tone, read_aloud=read_aloud).part("privacy").text
    assert NO_AUDIO.search(privacy), privacy
    assert "encrypted" in privacy
    assert "delete" in privacy
    if not read_aloud:  # the written message says where and for how long, too
        assert "Undertone's" in privacy and "until I delete it" in privacy
        assert re.search(r"text is deleted|transcript is deleted", privacy)
        assert re.search(r"other company|nowhere else|third party", privacy)


@pytest.mark.parametrize("recording_format", list(FORMATS))
def test_every_format_says_only_a_recap_is_kept(recording_format):
    for tone in TONES:
        text = build(tone=tone, recording_format=recording_format).part("format").text
        assert "recap" in text and "Undertone" in text, (tone, recording_format)
    assert len({build(recording_format=f).part("format").text for f in FORMATS}) == len(FORMATS)


def test_use_is_personal_and_the_answer_leaves_room_to_say_no():
    for tone in TONES:
        script = build(tone=tone)
        assert re.search(r"for me|my own reflection|personal reflection", script.part("use").text)
        assert re.search(r"say no|rather not|rather I didn't", script.part("answer").text)


def test_read_aloud_is_spoken_short_lines_ending_with_a_pause():
    written = build(tone="warm", therapist_name="Dr. Lee", name="Sam")
    spoken = build(tone="warm", therapist_name="Dr. Lee", name="Sam", read_aloud=True)
    assert written.text != spoken.text
    assert written.text.startswith("Hi Dr. Lee,") and written.text.endswith("Thank you,\nSam")
    assert not spoken.greeting and "Dr. Lee" not in spoken.text  # they are in the room
    assert spoken.text.rstrip().endswith(PAUSE)
    assert spoken.part("answer").text.endswith(PAUSE)
    lines = [line for line in spoken.text.splitlines() if line and line != PAUSE]
    assert all(len(line.split()) <= 14 for line in lines), [line for line in lines if len(line.split()) > 14]
    assert max(len(p.split()) for p in written.part("privacy").text.split(". ")) > 14  # written runs longer
    assert spoken.part("reason").text.startswith("Before we start")
    assert re.search(r"^I'd like to keep a record", spoken.part("reason").text, re.M)  # first person


def test_no_reason_chosen_still_gives_a_reason_and_names_are_trimmed():
    script = build(reasons=[], name="  Sam   Rivera ", therapist_name="x" * 200)
    assert "help me remember" in script.part("reason").text
    assert script.text.endswith("Sam Rivera")
    assert script.greeting == f"Hi {'x' * 60},"
    assert build(tone="direct").greeting == "Hello,"


def test_unknown_choices_raise():
    with pytest.raises(KeyError):
        build(tone="sarcastic")
    with pytest.raises(KeyError):
        build(recording_format="video")
    with pytest.raises(KeyError):
        build(reasons=["because"])


# The page ---------------------------------------------------------------------------------------


@pytest.fixture
def signed_in(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.mark.django_db
def test_plain_get_renders_a_message_without_javascript(signed_in):
    body = signed_in.get(reverse("capture:ask")).content.decode()
    default = build()
    assert '<textarea id="ask-text"' in body
    assert escape(default.part("privacy").text) in body
    assert 'method="get"' in body and 'id="ask-update"' in body  # the no-JS "Update the message"
    for _, label in PARTS:
        assert escape(label) in body
    for key in REASONS:
        assert f'value="{key}"' in body
    scripts = re.findall(r"<script[^>]*>", body)  # files only (CSP script-src 'self'); the site's own
    assert all(re.search(r'\ssrc="/static/[^"]+\.js"', tag) for tag in scripts), scripts
    assert '<script type="module" src="/static/capture/ask.js">' in scripts


@pytest.mark.django_db
def test_get_with_choices_renders_that_message(signed_in):
    params = {
        "reasons": ["adhd", "intense"],
        "recording_format": "transcript",
        "tone": "direct",
        "name": "Sam",
        "therapist_name": "Dr. Lee",
    }
    response = signed_in.get(reverse("capture:ask"), params)
    body = response.content.decode()
    expected = build(reasons=["adhd", "intense"], recording_format="transcript", tone="direct", name="Sam",
                     therapist_name="Dr. Lee")  # fmt: skip
    assert escape(expected.text) in body
    assert re.search(r'value="direct"[^>]*checked', body) and re.search(r'value="adhd"[^>]*checked', body)
    spoken = signed_in.get(reverse("capture:ask"), {**params, "read_aloud": "on"}).content.decode()
    assert escape(PAUSE) in spoken and "What to say" in spoken and "Dear Dr. Lee" not in spoken


@pytest.mark.django_db
def test_bad_choices_fall_back_to_the_defaults_with_an_error(signed_in):
    response = signed_in.get(reverse("capture:ask"), {"tone": "sarcastic"})
    assert response.status_code == 200
    assert "tone" in response.context["form"].errors
    assert escape(build().text) in response.content.decode()


@pytest.mark.django_db
def test_message_json_for_the_live_preview(signed_in):
    data = signed_in.get(reverse("capture:ask_message"), {"tone": "brief", "reasons": "processing"}).json()
    expected = build(tone="brief", reasons=["processing"])
    assert data["text"] == expected.text
    assert [p["key"] for p in data["parts"]] == KEYS


@pytest.mark.django_db
def test_builder_needs_sign_in(client):
    response = client.get(reverse("capture:ask"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.get(reverse("capture:ask_message")).status_code == 302


@pytest.mark.django_db
def test_home_links_to_the_builder(signed_in):
    assert f'href="{reverse("capture:ask")}"' in signed_in.get(reverse("home")).content.decode()


@pytest.mark.parametrize("tone", sorted(TONES))
@pytest.mark.parametrize("read_aloud", [False, True])
def test_with_a_language_model_the_privacy_paragraph_says_where_the_text_goes(tone, read_aloud):
    plain = build(tone=tone, read_aloud=read_aloud)
    with_model = build(tone=tone, read_aloud=read_aloud, model_host="gpu.local")
    privacy = {p.key: p.text for p in with_model.parts}["privacy"]
    assert "gpu.local" not in {p.key: p.text for p in plain.parts}["privacy"]
    assert "language model at gpu.local" in privacy
    # No promise left that contradicts it.
    assert "Nothing is sent to any other company" not in privacy and "sent nowhere else" not in privacy


@pytest.mark.django_db
def test_the_message_builder_and_the_capture_page_name_the_model_host(client, user, settings):
    client.force_login(user)
    settings.RECAP_LLM_URL, settings.RECAP_LLM_MODEL = "http://10.0.0.5:8080/v1", "m"
    assert "language model at 10.0.0.5" in client.get("/capture/ask/").content.decode()
    session = services.capture_session_create(user=user)
    consent_record_save(session=session, consent=consent_record())
    assert "language model at 10.0.0.5" in client.get(f"/capture/s/{session.id}/").content.decode()
    settings.RECAP_LLM_URL = ""
    assert "language model" not in client.get("/capture/ask/").content.decode()
