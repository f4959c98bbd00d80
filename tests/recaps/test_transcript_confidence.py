"""The recogniser's confidence on its way from faster-whisper to the recap engine: word probabilities
become character spans of the piece text, and avg_logprob, no_speech_prob and those spans survive the
task's segment dicts, the encrypted transcript rows, recap_build and the recap_file command. No model
is loaded here: tests/capture/test_pipeline_integration.py checks the fields from the real one."""

import json
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command

from capture import audio_store, transcription
from capture.models import CaptureSession, CaptureWindow, TranscriptSegment
from capture.tasks import transcribe_window
from capture.transcription import UNSURE_WORD_PROBABILITY, Piece, transcribe_pcm, unsure_spans
from recaps.models import Recap
from recaps.services import recap_build


def _marked(text, spans):
    return [text[a:b] for a, b in spans]


# Word -> span mapping --------------------------------------------------------------------------------


def test_low_probability_words_become_spans_of_the_stripped_text():
    # As faster-whisper gives them: a leading space on every word, punctuation merged into its word.
    text = "My therapist suggested that I try and reading exercise."
    words = [
        (" My", 0.98),
        (" therapist", 0.99),
        (" suggested", 1.0),
        (" that", 0.94),
        (" I", 0.99),
        (" try", 0.96),
        (" and", 0.21),
        (" reading", 0.27),
        (" exercise.", 0.89),
    ]
    spans = unsure_spans(text, words)
    assert _marked(text, spans) == ["and", "reading"]


def test_a_repeated_word_is_marked_where_it_occurs_not_at_its_first_occurrence():
    text = "I said I would, and I did."
    words = [
        (" I", 0.99),
        (" said", 0.9),
        (" I", 0.2),
        (" would,", 0.9),
        (" and", 0.9),
        (" I", 0.9),
        (" did.", 0.9),
    ]
    assert unsure_spans(text, words) == ((7, 8),)


def test_merged_punctuation_and_a_final_word_are_covered():
    text = '"Stop," she said.'
    words = [(' "Stop,"', 0.3), (" she", 0.9), (" said.", 0.1)]
    assert _marked(text, unsure_spans(text, words)) == ['"Stop,"', "said."]


def test_the_threshold_is_strict_and_sure_text_has_no_spans():
    text = "fine words"
    assert unsure_spans(text, [(" fine", UNSURE_WORD_PROBABILITY), (" words", 0.99)]) == ()
    assert unsure_spans(text, [(" fine", UNSURE_WORD_PROBABILITY - 0.01), (" words", 0.99)]) == ((0, 4),)
    assert unsure_spans(text, []) == ()
    assert unsure_spans(text, [(" ", 0.1), ("", 0.1)]) == ()  # empty words (merged away) mark nothing


def test_an_unsure_word_that_cannot_be_placed_makes_the_whole_text_unsure():
    text = "I feel calmer now"
    assert unsure_spans(text, [(" I", 0.9), (" fell", 0.2), (" calmer", 0.9)]) == ((0, len(text)),)
    assert unsure_spans("", [(" what", 0.1)]) == ()


def test_a_sure_word_that_cannot_be_placed_leaves_the_rest_aligned():
    text = "I feel calmer now"
    spans = unsure_spans(text, [(" I", 0.9), (" fell", 0.9), (" calmer", 0.3), (" now", 0.9)])
    assert _marked(text, spans) == ["calmer"]


# transcribe_pcm with a stand-in model (the batched pipeline's interface) ----------------------------


class FakeModel:
    def __init__(self, segments):
        self.segments = segments
        self.kwargs = None

    def transcribe(self, audio, **kwargs):
        self.kwargs = kwargs
        return iter(self.segments), None


def _seg(text, *, start=0.0, end=2.0, avg_logprob=-0.3, no_speech_prob=0.05, words=()):
    return SimpleNamespace(
        seek=0,  # the one window's clip starts at 0 (capture/transcription.py transcribe_many)
        start=start,
        end=end,
        text=text,
        avg_logprob=avg_logprob,
        no_speech_prob=no_speech_prob,
        compression_ratio=1.2,
        words=[SimpleNamespace(word=w, probability=p, start=start, end=end) for w, p in words] or None,
    )


def test_transcribe_pcm_carries_confidence_and_unsure_spans(monkeypatch):
    model = FakeModel(
        [
            _seg(" I want to practise breathing.", words=[(" I", 0.9), (" want", 0.9), (" to", 0.9),
                                                           (" practise", 0.4), (" breathing.", 0.95)]),
            _seg(" Thank you.", avg_logprob=-0.9, no_speech_prob=0.9),  # a hallucination: still dropped
            _seg(" No word list here", start=2.0, end=3.0, avg_logprob=-1.4, no_speech_prob=0.1),
        ]
    )  # fmt: skip
    monkeypatch.setattr(transcription, "get_pipeline", lambda full=False: model)
    pieces = transcribe_pcm(b"\x00\x00" * 16000)
    assert model.kwargs["word_timestamps"] is True
    assert model.kwargs["without_timestamps"] is False  # sentence-like pieces, as before batching
    assert model.kwargs["clip_timestamps"] == [{"start": 0, "end": 1.0}]
    assert pieces == [
        Piece(
            0.0,
            2.0,
            "I want to practise breathing.",
            avg_logprob=-0.3,
            no_speech_prob=0.05,
            unsure=((10, 18),),
            # With their times, for splitting a piece where the voice changes (in-person sessions).
            words=tuple(
                (0.0, 2.0, w, p)
                for w, p in [
                    (" I", 0.9),
                    (" want", 0.9),
                    (" to", 0.9),
                    (" practise", 0.4),
                    (" breathing.", 0.95),
                ]
            ),
        ),
        Piece(2.0, 3.0, "No word list here", avg_logprob=-1.4, no_speech_prob=0.1, unsure=()),
    ]


# Task -> rows -> engine ----------------------------------------------------------------------------


@pytest.fixture
def ending_session(user):
    return CaptureSession.objects.create(user=user, status=CaptureSession.Status.ENDING)


@pytest.mark.django_db
@pytest.mark.usefixtures("clean_redis")
def test_transcribe_window_stores_the_confidence_with_each_segment(monkeypatch, ending_session):
    window = CaptureWindow.objects.create(
        session=ending_session, channel=1, seq_first=0, seq_last=10, pieces=[[0.0, 30.0, 2.2]], speech_s=2.2
    )
    audio_store.window_audio_put(window_id=window.id, pcm=b"\x01\x00" * 3200)
    pieces = [
        Piece(0.0, 1.0, "Try it daily.", avg_logprob=-0.25, no_speech_prob=0.02, unsure=((4, 6),)),
        Piece(1.0, 2.2, "Maybe twice.", avg_logprob=-1.2, no_speech_prob=0.3),
    ]
    monkeypatch.setattr(transcription, "transcribe_many", lambda pcms: [pieces for _ in pcms])
    monkeypatch.setattr("recaps.tasks.recap_build.delay", lambda session_id: None)

    transcribe_window(str(window.id))

    rows = list(TranscriptSegment.objects.filter(window=window).order_by("index"))
    assert [(r.start, r.end, r.text) for r in rows] == [
        (30.0, 31.0, "Try it daily."),
        (31.0, 32.2, "Maybe twice."),
    ]
    assert [(r.avg_logprob, r.no_speech_prob, r.unsure) for r in rows] == [
        (-0.25, 0.02, [[4, 6]]),
        (-1.2, 0.3, []),
    ]


@pytest.mark.django_db
def test_rows_round_trip_and_recap_build_hands_the_confidence_to_the_engine(monkeypatch, ending_session):
    window = CaptureWindow.objects.create(
        session=ending_session, channel=0, seq_first=0, seq_last=10, status=CaptureWindow.Status.DONE
    )
    TranscriptSegment.objects.create(
        session=ending_session, window=window, index=0, channel=0, start=1.0, end=2.0, text="I slept badly.",
        avg_logprob=-0.4, no_speech_prob=0.1, unsure=[[2, 7], [8, 13]],
    )  # fmt: skip
    # A row written before the confidence was kept.
    TranscriptSegment.objects.create(
        session=ending_session, window=window, index=1, channel=0, start=3.0, end=4.0, text="Old row."
    )
    row = TranscriptSegment.objects.get(index=0)
    assert (row.avg_logprob, row.no_speech_prob, row.unsure) == (-0.4, 0.1, [[2, 7], [8, 13]])

    seen = []

    class SpyEngine:
        name = "spy"

        def build(self, segments):
            seen.extend(segments)
            return SimpleNamespace(to_dict=lambda: {"summary": []})

    monkeypatch.setattr("recaps.engines.base.get_engine", lambda name: SpyEngine())
    assert recap_build(session_id=ending_session.id) is not None

    assert [(s.avg_logprob, s.no_speech_prob, s.unsure) for s in seen] == [
        (-0.4, 0.1, ((2, 7), (8, 13))),
        (None, None, ()),
    ]
    assert Recap.objects.get(session=ending_session).engine == "spy"


# recap_file ----------------------------------------------------------------------------------------


def test_recap_file_reads_the_optional_confidence_keys(monkeypatch, tmp_path):
    rows = [
        {"speaker": "client", "start": 0, "end": 2, "text": "I will walk daily.", "avg_logprob": -0.2,
         "no_speech_prob": 0.01, "unsure": [[7, 11]]},
        {"speaker": "therapist", "start": 2, "end": 4, "text": "Good."},
    ]  # fmt: skip
    transcript = tmp_path / "t.json"
    transcript.write_text(json.dumps(rows))
    seen = []

    class SpyEngine:
        def build(self, segments):
            seen.extend(segments)
            return SimpleNamespace(to_dict=lambda: {"summary": []})

    monkeypatch.setattr("recaps.management.commands.recap_file.get_engine", lambda name: SpyEngine())
    call_command("recap_file", str(transcript), stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert [(s.speaker, s.avg_logprob, s.no_speech_prob, s.unsure) for s in seen] == [
        ("client", -0.2, 0.01, ((7, 11),)),
        ("therapist", None, None, ()),
    ]

    transcript.write_text(
        json.dumps([{"speaker": "client", "start": 0, "text": "no end", "unsure": [[0, 2]]}])
    )
    with pytest.raises(CommandError, match="segment 0"):
        call_command("recap_file", str(transcript))
