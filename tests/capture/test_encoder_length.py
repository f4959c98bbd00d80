"""The encoder runs on a window's own length, not Whisper's 30 s (capture/transcription.py
WindowLengthPipeline), and a window whose decode loops on that shorter input is decoded again over 30 s.

The fallback tests use stand-in pipelines that say which input they were given; the last test runs the
real tiny.en model and looks at the features the encoder actually receives."""

from types import SimpleNamespace

import pytest

from capture import transcription
from tests.audio import espeak_pcm, need_espeak, silence


def test_the_encoder_input_is_the_window_plus_padding_at_least_the_minimum_at_most_30_s():
    frames = transcription.encoder_frames
    assert frames(4.2, pad_s=3, min_s=15) == 1500  # a short window: the minimum
    assert frames(13.4, pad_s=3, min_s=15) == 1700  # 16.4 s, up to a whole second
    assert frames(27.5, pad_s=3, min_s=15) == 3000  # never over Whisper's 30 s
    assert frames(4.2, pad_s=3, min_s=0) == 800


def _seg(seek, text, start, end):
    return SimpleNamespace(
        seek=seek,
        start=start,
        end=end,
        text=" " + text,
        avg_logprob=-0.2,
        no_speech_prob=0.02,
        compression_ratio=1.1,
        words=None,
    )


class Pipeline:
    """Answers each window's clip with `say(window index)`, pieces spread evenly over the clip unless
    `covers` (index -> fraction of the clip the pieces cover) says less; records each call's clips."""

    def __init__(self, say, covers=lambda index: 1.0):
        self.say = say
        self.covers = covers
        self.calls = []

    def transcribe(self, audio, *, clip_timestamps, **kwargs):
        self.calls.append(clip_timestamps)
        segments = []
        for clip in clip_timestamps:
            index = int(clip["start"]) // 3  # the windows below are 3 s long: clips start at 0, 3, 6
            texts = self.say(index)
            span = (clip["end"] - clip["start"]) * self.covers(index) / max(1, len(texts))
            for k, text in enumerate(texts):
                start = clip["start"] + k * span
                segments.append(_seg(int(clip["start"] * 100), text, start, start + span))
        return iter(segments), None


@pytest.fixture
def pipelines(monkeypatch, settings):
    settings.WHISPER_ENCODER_MIN_S = 15
    loop = ["And so my fellow Americans."] * 18
    short = Pipeline(lambda i: loop if i == 1 else [f"window {i} on a short input."])
    whole = Pipeline(lambda i: [f"window {i} over 30 s."])
    monkeypatch.setattr(transcription, "get_pipeline", lambda full=False: whole if full else short)
    return short, whole


def test_only_a_window_that_loops_on_the_short_input_is_decoded_again_over_30_s(pipelines):
    short, full = pipelines
    pcm = silence(3.0)
    out = transcription.transcribe_many([pcm, pcm, pcm])
    assert [[p.text for p in pieces] for pieces in out] == [
        ["window 0 on a short input."],
        ["window 1 over 30 s."],
        ["window 2 on a short input."],
    ]
    assert len(short.calls) == 1 and len(short.calls[0]) == 3
    assert full.calls == [[{"start": 3, "end": 6.0}]]  # window 1 alone
    # Times stay relative to the window's own start after the second decode.
    assert out[1][0].start == 0.0


def test_a_window_that_repeats_itself_within_a_plausible_word_rate_also_counts_as_a_loop(pipelines):
    short, full = pipelines
    short.say = lambda i: ["I'm sorry. I'm sorry. I'm sorry. I'm sorry."]
    out = transcription.transcribe_many([silence(3.0)])
    assert [p.text for p in out[0]] == ["window 0 over 30 s."]


def test_a_fast_talker_is_not_a_loop(pipelines):
    short, full = pipelines
    # 14 distinct words in 3 s: fast, but speech.
    short.say = lambda i: ["Honestly I could not tell you why every single thing went wrong on Monday."]
    out = transcription.transcribe_many([silence(3.0)])
    assert [p.text for p in out[0]] == [
        "Honestly I could not tell you why every single thing went wrong on Monday."
    ]
    assert full.calls == []


def test_a_window_whose_decode_stops_early_is_decoded_again_over_30_s(pipelines):
    # tiny.en on a shorter input sometimes ended a window early and dropped its last sentence; a
    # window holds speech with its pauses cut to 0.5 s, so 2 s and more left uncovered is speech lost.
    short, full = pipelines
    short.say = lambda i: [f"window {i} on a short input."]
    short.covers = lambda i: 0.3 if i == 0 else 1.0  # 0.9 s of 3 s
    out = transcription.transcribe_many([silence(3.0), silence(3.0)])
    assert [[p.text for p in pieces] for pieces in out] == [
        ["window 0 over 30 s."],
        ["window 1 on a short input."],
    ]
    assert full.calls == [[{"start": 0, "end": 3.0}]]


def test_a_window_with_nothing_decoded_is_decoded_again_but_a_short_one_is_not(pipelines):
    short, full = pipelines
    short.say = lambda i: []
    full.say = lambda i: []
    out = transcription.transcribe_many([silence(3.0), silence(1.5)])
    assert out == [[], []]
    assert full.calls == [[{"start": 0, "end": 3.0}]]  # 1.5 s is within what a pause may leave


def test_with_the_whole_30_s_set_there_is_no_second_decode(pipelines, settings):
    short, full = pipelines
    settings.WHISPER_ENCODER_MIN_S = 30
    transcription.transcribe_many([silence(3.0), silence(3.0)])
    assert full.calls == []


@pytest.mark.slow
def test_the_real_encoder_gets_the_window_s_length_and_still_hears_it(tmp_path, settings, monkeypatch):
    need_espeak()
    from faster_whisper import BatchedInferencePipeline

    seen = []
    real = BatchedInferencePipeline.generate_segment_batched

    def spy(self, features, tokenizer, options):
        seen.append(features.shape[-1])
        return real(self, features, tokenizer, options)

    monkeypatch.setattr(BatchedInferencePipeline, "generate_segment_batched", spy)
    pcm = silence(0.5) + espeak_pcm("My manager asked for the report early.", tmp_dir=tmp_path)
    settings.WHISPER_ENCODER_MIN_S, settings.WHISPER_ENCODER_PAD_S = 15, 3
    transcription.get_pipeline.cache_clear()
    try:
        short = transcription.transcribe_pcm(pcm)
        settings.WHISPER_ENCODER_MIN_S = 30
        transcription.get_pipeline.cache_clear()
        whole = transcription.transcribe_pcm(pcm)
    finally:
        transcription.get_pipeline.cache_clear()
    assert seen == [1500, 3000]
    for pieces in (short, whole):
        text = " ".join(p.text for p in pieces).lower()
        assert "manager" in text and "report" in text
