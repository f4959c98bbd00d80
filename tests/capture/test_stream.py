"""capture/stream.py without a socket: what each input to the stream decides, exactly as the browser
would hear it (docs/protocol.md). tests/capture/test_consumer.py runs the same rules through the real
ASGI stack."""

import json
import subprocess
import sys

import numpy as np
import pytest

from capture import protocol, stream
from capture.exceptions import ConsentMissing, InvalidTransition, SessionFinished, StaleWriter
from capture.stream import (
    Close,
    CloseSocket,
    Limits,
    Progress,
    Queue,
    Refused,
    Send,
    Stop,
    Stream,
    error_frame,
    refusal,
)
from capture.vad import ClosedWindow

QUIET = bytes(protocol.FRAME_BYTES)
LIMITS = Limits(max_frame_bytes=64 * 1024, rate_x=2.5, burst_s=30.0, max_frames=54_000)
NO_COMMIT = {"0": -1, "1": -1}


def outputs(call, *args, **kwargs) -> list:
    """What the consumer performs for an input: the outputs, or the refusal of a domain error."""
    try:
        return call(*args, **kwargs)
    except stream.DOMAIN_ERRORS as exc:
        return [refusal(exc)]


def frame(seq: int, channel: int = 0, pcm: bytes = QUIET) -> protocol.AudioFrame:
    return protocol.AudioFrame(channel=channel, seq=seq, pcm=pcm)


def ack(seq: int, channel: int = 0) -> Send:
    return Send({"type": "ack", "ch": channel, "seq": seq})


def silent(channel: int = 0) -> Send:
    return Send({"type": "speech", "ch": channel, "active": False})


def acked(n: int, channel: int = 0) -> list:
    """What frames 0..n-1 hear on a new socket: the first one also tells the speech state."""
    return [[ack(0, channel), silent(channel)]] + [[ack(seq, channel)] for seq in range(1, n)]


def started(*, limits=LIMITS, first_seq=None, status="recording") -> Stream:
    s = Stream(status=status, limits=limits)
    s.welcome(first_seq=first_seq or {0: 0}, status=status, commit=NO_COMMIT, now=0.0)
    return s


def send_frames(s: Stream, seqs, *, channel=0, every_s=0.0) -> list:
    return [outputs(s.audio, frame(seq, channel), now=i * every_s) for i, seq in enumerate(seqs)]


# Hello and resume ----------------------------------------------------------------------------------


def test_hello_announces_each_channel_once_sorted_and_defaults_to_the_microphone():
    s = Stream(status="recording", limits=LIMITS)
    assert s.hello({"type": "hello", "proto": 1, "channels": [1, 0, 1]}) == [0, 1]
    assert s.hello({"type": "hello"}) == [0]


@pytest.mark.parametrize(
    "channels", [[], [True], [False, 1], [0.0], [1.0, 0], ["0"], [[0]], [0, 2], None, "01", {"0": 1}]
)
def test_hello_channels_must_be_a_list_of_the_integers_0_or_1(channels):
    s = Stream(status="recording", limits=LIMITS)
    assert outputs(s.hello, {"type": "hello", "channels": channels}) == [
        error_frame("bad_channel", "channels must be a list drawn from [0, 1]")
    ]


def test_welcome_tells_where_each_channel_resumes_and_takes_frames_from_there():
    s = Stream(status="recording", limits=LIMITS)
    commit = {"0": 9, "1": -1}
    assert s.welcome(first_seq={0: 31, 1: 0}, status="recording", commit=commit, now=0.0) == [
        Send({"type": "welcome", "status": "recording", "commit": commit, "next": {"0": 31, "1": 0}})
    ]
    assert outputs(s.audio, frame(30), now=0.0) == [ack(30)]  # already held: acked, dropped
    assert outputs(s.audio, frame(31), now=0.0) == [ack(31), silent()]
    assert outputs(s.audio, frame(0, channel=1), now=0.0) == [ack(0, channel=1), silent(1)]


def test_welcome_while_the_session_ends_is_followed_by_its_progress_and_takes_no_audio():
    s = Stream(status="recording", limits=LIMITS)
    assert s.welcome(first_seq={0: 25}, status="ending", commit=NO_COMMIT, now=0.0) == [
        Send({"type": "welcome", "status": "ending", "commit": NO_COMMIT, "next": {"0": 25}}),
        Progress(),
    ]
    assert outputs(s.audio, frame(25), now=0.0) == [
        error_frame("ended", "the session has stopped; no new audio is accepted")
    ]


def test_a_later_hello_starts_over_from_the_new_resume_point():
    s = started()
    send_frames(s, range(5))
    s.welcome(first_seq={0: 3}, status="recording", commit=NO_COMMIT, now=1.0)
    assert outputs(s.audio, frame(4), now=1.0) == [
        error_frame("seq_gap", "resend from the expected frame", ch=0, expected=3)
    ]
    assert outputs(s.audio, frame(3), now=1.0) == [ack(3)]  # speech state unchanged: not told again


def test_audio_before_hello_or_on_a_channel_hello_did_not_announce_is_refused():
    s = Stream(status="recording", limits=LIMITS)
    hello_first = [error_frame("hello_first", "send hello with this channel before audio")]
    assert outputs(s.audio, frame(0), now=0.0) == hello_first
    s = started()
    assert outputs(s.audio, frame(0, channel=1), now=0.0) == hello_first


# Sequence numbers --------------------------------------------------------------------------------


def test_frames_in_order_are_acked_and_the_first_tells_the_speech_state():
    s = started()
    assert send_frames(s, range(3)) == [[ack(0), silent()], [ack(1)], [ack(2)]]


def test_duplicates_are_acked_and_dropped():
    s = started()
    send_frames(s, range(3))
    assert outputs(s.audio, frame(1), now=0.0) == [ack(1)]
    assert outputs(s.audio, frame(0), now=0.0) == [ack(0)]
    assert s.windowers[0].next_seq == 3


def test_a_gap_asks_for_a_resend_from_the_expected_frame_per_channel():
    s = started(first_seq={0: 0, 1: 0})
    send_frames(s, range(3))
    assert outputs(s.audio, frame(7), now=0.0) == [
        error_frame("seq_gap", "resend from the expected frame", ch=0, expected=3)
    ]
    assert outputs(s.audio, frame(1, channel=1), now=0.0) == [
        error_frame("seq_gap", "resend from the expected frame", ch=1, expected=0)
    ]
    assert outputs(s.audio, frame(3), now=0.0) == [ack(3)]


def test_closed_windows_are_queued_before_the_frame_that_closed_them_is_acked():
    s = started()
    assert send_frames(s, range(27)) == acked(27)
    # 5 s of silence, less the frames kept for the pre-roll of speech that may follow.
    assert outputs(s.audio, frame(27), now=0.0) == [
        Queue((ClosedWindow(channel=0, seq_first=0, seq_last=24, pcm=b"", pieces=()),)),
        ack(27),
    ]


def test_a_change_of_speech_is_told_once():
    noise = np.random.default_rng(7).normal(0, 3000, 20 * protocol.FRAME_BYTES // 2).astype("<i2").tobytes()
    pcm = [noise[i : i + protocol.FRAME_BYTES] for i in range(0, len(noise), protocol.FRAME_BYTES)]
    s = started()
    told = [
        out
        for seq, chunk in enumerate(pcm)
        for out in outputs(s.audio, frame(seq, pcm=chunk), now=0.0)
        if isinstance(out, Send) and out.message["type"] == "speech"
    ]
    assert told == [silent(), Send({"type": "speech", "ch": 0, "active": True})]


# Pause, resume, stop -----------------------------------------------------------------------------


def test_a_paused_session_drops_frames_without_ack_until_resumed():
    s = started()
    assert s.set_status("paused") == [Send({"type": "state", "status": "paused"})]
    assert outputs(s.audio, frame(0), now=0.0) == [
        error_frame("paused", "recording is paused; frame dropped")
    ]
    assert outputs(s.audio, frame(0), now=0.0) == [
        error_frame("paused", "recording is paused; frame dropped")
    ]
    assert s.set_status("recording") == [Send({"type": "state", "status": "recording"})]
    assert outputs(s.audio, frame(0), now=0.0) == [ack(0), silent()]


def test_duplicates_are_still_acked_and_gaps_still_told_while_paused():
    s = started()
    send_frames(s, range(2))
    s.set_status("paused")
    assert outputs(s.audio, frame(1), now=0.0) == [ack(1)]
    assert outputs(s.audio, frame(5), now=0.0) == [
        error_frame("seq_gap", "resend from the expected frame", ch=0, expected=2)
    ]


def test_stop_queues_what_is_still_in_memory_then_the_session_ends():
    s = started()
    send_frames(s, range(28))
    assert s.stop() == [Queue((ClosedWindow(channel=0, seq_first=25, seq_last=27, pcm=b"", pieces=()),))]
    assert s.stopped("ending") == [Send({"type": "state", "status": "ending"}), Progress()]
    assert outputs(s.audio, frame(28), now=0.0) == [
        error_frame("ended", "the session has stopped; no new audio is accepted")
    ]
    assert s.stop() == []  # stop again (after a reconnect): nothing left to queue


def test_stop_while_paused_queues_too_and_with_nothing_held_queues_nothing():
    s = started()
    send_frames(s, range(3))
    s.set_status("paused")
    assert s.stop() == [Queue((ClosedWindow(channel=0, seq_first=0, seq_last=2, pcm=b"", pieces=()),))]
    assert started().stop() == []


def test_commits_carry_progress_only_while_the_session_ends_and_done_ends_the_audio():
    s = started()
    assert s.committed({"0": 24, "1": -1}, windows_left=3) == [
        Send({"type": "commit", "commit": {"0": 24, "1": -1}})
    ]
    s.stopped("ending")
    assert s.committed({"0": 27, "1": -1}, windows_left=0) == [
        Send({"type": "commit", "commit": {"0": 27, "1": -1}}),
        Send({"type": "progress", "windows_left": 0}),
    ]
    assert s.done("/recaps/1/") == [Send({"type": "done", "recap_url": "/recaps/1/"})]
    assert s.status == "done"
    # With a language model writing the final recap, the page keeps the socket open for "polished".
    assert s.done("/recaps/1/", polishing=True) == [
        Send({"type": "done", "recap_url": "/recaps/1/", "polishing": True})
    ]
    assert s.polishing(2, 3) == [Send({"type": "polishing", "step": 2, "steps": 3})]
    assert s.polished() == [Send({"type": "polished"})]


# The own-voice limit and the session length -----------------------------------------------------


SELF = Limits(
    max_frame_bytes=64 * 1024, rate_x=2.5, burst_s=30.0, max_frames=3, self_mode=True, self_minutes=5
)
MIC_ONLY = error_frame("mic_only", "a recap in your own voice records the microphone (channel 0) only")


def test_own_voice_hello_must_name_the_microphone_only():
    s = Stream(status="recording", limits=SELF)
    assert outputs(s.hello, {"type": "hello", "channels": [0, 1]}) == [MIC_ONLY]
    assert outputs(s.hello, {"type": "hello", "channels": [1]}) == [MIC_ONLY]
    assert s.hello({"type": "hello", "channels": [0]}) == [0]


def test_own_voice_audio_on_channel_1_is_refused_before_anything_else():
    s = Stream(status="recording", limits=SELF)  # not even a hello yet
    assert outputs(s.audio, frame(0, channel=1), now=0.0) == [MIC_ONLY]


def test_own_voice_past_the_cap_is_refused_and_stops_the_session():
    s = started(limits=SELF)
    assert send_frames(s, range(3)) == acked(3)
    assert outputs(s.audio, frame(3), now=0.0) == [
        error_frame("self_limit", "a recap in your own voice is 5 min at most"),
        Stop(),
    ]
    assert outputs(s.audio, frame(2), now=0.0) == [ack(2)]  # held frames are still acked


def test_a_session_over_the_maximum_length_closes_with_4413():
    s = started(limits=Limits(max_frame_bytes=64 * 1024, rate_x=2.5, burst_s=30.0, max_frames=5))
    assert send_frames(s, range(5)) == acked(5)
    assert outputs(s.audio, frame(5), now=0.0) == [Close(protocol.CLOSE_TOO_LONG)]


def test_limits_come_from_the_capture_settings():
    capture = {
        "MAX_FRAME_BYTES": 65536,
        "MAX_RATE_X": 2.5,
        "RATE_BURST_S": 30.0,
        "MAX_SELF_S": 300,
        "HOLD_PAUSE_S": 6.0,
    }
    assert Limits.of(capture, max_frames=1525, self_mode=True) == Limits(
        max_frame_bytes=65536,
        rate_x=2.5,
        burst_s=30.0,
        max_frames=1525,
        self_mode=True,
        self_minutes=5,
        hold_pause_s=6.0,
    )


# Nagle's rule for windows ---------------------------------------------------------------------------

LOUD = [
    np.random.default_rng(i).normal(0, 3000, protocol.FRAME_BYTES // 2).astype("<i2").tobytes()
    for i in range(5)
]


def _speak_then_pause(s: Stream, seq: int, *, speech_frames: int, pause_frames: int, channel: int = 0):
    """Loud frames (webrtcvad calls them voiced) then quiet ones: the speech windows queued."""
    queued = []
    for i in range(speech_frames + pause_frames):
        pcm = LOUD[i % len(LOUD)] if i < speech_frames else QUIET
        for out in s.audio(frame(seq + i, channel, pcm=pcm), now=(seq + i) * 0.2):
            if isinstance(out, Queue):
                queued += [w for w in out.windows if not w.is_silence]
    return queued, seq + speech_frames + pause_frames


def test_a_short_window_is_held_for_the_next_turn_while_an_earlier_one_waits_for_its_commit():
    s = started(limits=LIMITS)
    first, seq = _speak_then_pause(s, 0, speech_frames=10, pause_frames=15)
    assert len(first) == 1  # nothing waited: closed after the usual 2 s pause
    s.committed({"0": first[0].seq_last}, windows_left=0)
    second, seq = _speak_then_pause(s, seq, speech_frames=10, pause_frames=15)
    assert len(second) == 1 and not any(w.hold for w in s.windowers.values())

    # The second window is not committed yet: the third, short, is held through a 5 s pause, so the
    # next turn joins it: one model call for both turns, instead of a second call queued behind.
    held, seq = _speak_then_pause(s, seq, speech_frames=10, pause_frames=25)
    assert held == [] and all(w.hold for w in s.windowers.values())
    joined, seq = _speak_then_pause(s, seq, speech_frames=10, pause_frames=45)
    assert len(joined) == 1 and len(joined[0].pieces) == 2

    # Once everything of ours is committed, windows close after the usual pause again, and a held
    # window is queued the moment the earlier one's commit arrives, before the commit is passed on
    # (no further frame needed: the page may be paused or done sending).
    s.committed({"0": joined[0].seq_last}, windows_left=0)
    quick, seq = _speak_then_pause(s, seq, speech_frames=10, pause_frames=15)
    assert len(quick) == 1
    held, seq = _speak_then_pause(s, seq, speech_frames=10, pause_frames=15)
    assert held == []
    queue, commit = s.committed({"0": quick[0].seq_last}, windows_left=0)
    assert isinstance(queue, Queue) and len(queue.windows) == 1 and not queue.windows[0].is_silence
    assert commit == Send({"type": "commit", "commit": {"0": quick[0].seq_last}})
    after, seq = _speak_then_pause(s, seq, speech_frames=0, pause_frames=30)
    assert after == []  # nothing twice


def test_a_window_on_the_other_channel_also_holds():
    s = started(limits=LIMITS, first_seq={0: 0, 1: 0})
    client, _ = _speak_then_pause(s, 0, speech_frames=10, pause_frames=15, channel=0)
    assert len(client) == 1
    therapist, _ = _speak_then_pause(s, 0, speech_frames=10, pause_frames=15, channel=1)
    assert therapist == []  # the client's window still waits: the therapist's short one is held


# Flood limits ------------------------------------------------------------------------------------


def test_a_frame_or_message_over_the_size_limit_closes_with_4009():
    s = Stream(status="recording", limits=LIMITS)
    s.admit(64 * 1024)
    assert outputs(s.admit, 64 * 1024 + 1) == [Close(protocol.CLOSE_TOO_BIG)]


def test_a_burst_is_allowed_but_flooding_past_it_closes_with_4429():
    s = started(limits=Limits(max_frame_bytes=64 * 1024, rate_x=2.5, burst_s=1.0, max_frames=54_000))
    assert send_frames(s, range(5)) == acked(5)  # 1 s of audio at once
    assert outputs(s.audio, frame(5), now=0.0) == [Close(protocol.CLOSE_RATE)]


def test_the_rate_limit_counts_per_channel_and_refills_with_time():
    s = started(
        limits=Limits(max_frame_bytes=64 * 1024, rate_x=2.5, burst_s=1.0, max_frames=54_000),
        first_seq={0: 0, 1: 0},
    )
    send_frames(s, range(5))
    assert send_frames(s, range(5), channel=1) == acked(5, channel=1)
    assert outputs(s.audio, frame(5), now=0.4) == [ack(5)]  # 0.4 s at 2.5x: the whole second back


def test_twice_real_time_is_under_the_limit_and_three_times_is_not():
    limits = Limits(max_frame_bytes=64 * 1024, rate_x=2.5, burst_s=2.0, max_frames=54_000)
    s = started(limits=limits)
    assert [Close(protocol.CLOSE_RATE)] not in send_frames(s, range(1000), every_s=0.1)
    s = started(limits=limits)
    sent = send_frames(s, range(1000), every_s=0.2 / 3)
    assert [Close(protocol.CLOSE_RATE)] in sent


def test_resent_duplicates_count_against_the_rate_too():
    s = started(limits=Limits(max_frame_bytes=64 * 1024, rate_x=2.5, burst_s=1.0, max_frames=54_000))
    send_frames(s, range(3))
    assert send_frames(s, [0, 1]) == [[ack(0)], [ack(1)]]
    assert outputs(s.audio, frame(0), now=0.0) == [Close(protocol.CLOSE_RATE)]


# Control messages (capture/protocol.py decodes them) ----------------------------------------------


@pytest.mark.parametrize(
    "text", ["{not json", "", "[]", '"hello"', "1", "null", '{"kind": "hello"}', "[" * 30_000 + "]" * 30_000]
)
def test_a_control_message_that_is_no_json_object_with_a_type_is_bad_json(text):
    assert outputs(protocol.decode_control, text) == [
        error_frame("bad_json", "control messages are JSON objects with a type")
    ]


@pytest.mark.parametrize("kind", [[], {}, None, 1, True, 1.5])
def test_a_type_that_is_not_a_string_is_unknown_type(kind):
    assert outputs(protocol.decode_control, json.dumps({"type": kind})) == [
        error_frame("unknown_type", "the type of a control message is a string")
    ]


def test_an_unknown_type_is_named_in_the_error_cut_to_40_characters():
    assert outputs(protocol.decode_control, '{"type": "launch"}') == [
        error_frame("unknown_type", "unknown message type 'launch'")
    ]
    assert outputs(protocol.decode_control, '{"type": "' + "x" * 70 + '"}') == [
        error_frame("unknown_type", f"unknown message type {'x' * 40!r}")
    ]


@pytest.mark.parametrize("kind", ["hello", "pause", "resume", "stop"])
def test_known_control_messages_decode(kind):
    assert protocol.decode_control(f'{{"type": "{kind}", "x": 1}}') == {"type": kind, "x": 1}


# The one mapping from domain errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "heard"),
    [
        (StaleWriter("window starts at 3, expected 5"), Close(protocol.CLOSE_TAKEN_OVER)),
        (ConsentMissing("no consent recorded for this session"), Close(protocol.CLOSE_CONSENT)),
        (SessionFinished("this session is finished"), Close(protocol.CLOSE_FINISHED)),
        (CloseSocket(protocol.CLOSE_UNAUTHENTICATED, "not signed in"), Close(protocol.CLOSE_UNAUTHENTICATED)),
        (
            InvalidTransition("cannot pause or resume while done"),
            error_frame("invalid_transition", "cannot pause or resume while done"),
        ),
        (protocol.FrameError("bad_version", "nope"), error_frame("bad_version", "nope")),
        (Refused("seq_gap", "resend", ch=1, expected=4), error_frame("seq_gap", "resend", ch=1, expected=4)),
    ],
)
def test_every_domain_error_is_heard_as_an_error_frame_or_a_close_code(error, heard):
    assert refusal(error) == heard


def test_error_frames_keep_their_wire_format():
    assert error_frame("seq_gap", "resend from the expected frame", ch=0, expected=3).message == {
        "type": "error",
        "code": "seq_gap",
        "detail": "resend from the expected frame",
        "ch": 0,
        "expected": 3,
    }


def test_anything_else_is_no_refusal():
    with pytest.raises(TypeError):
        refusal(ValueError("a bug"))


# Purity ------------------------------------------------------------------------------------------


def test_the_stream_module_imports_no_django_channels_asyncio_or_redis():
    probe = (
        "import sys, capture.stream; "
        "print(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'django', 'channels', 'asyncio', 'redis', 'asgiref', 'kombu', 'celery', 'daphne'}))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_statuses_are_those_of_the_model():
    from capture.models import CaptureSession

    Status = CaptureSession.Status
    assert (stream.RECORDING, stream.PAUSED, stream.ENDING, stream.DONE) == (
        Status.RECORDING,
        Status.PAUSED,
        Status.ENDING,
        Status.DONE,
    )


# Several frames in one message ----------------------------------------------------------------------


def _windows(outs: list) -> list[tuple[int, int, bytes]]:
    return [(w.seq_first, w.seq_last, w.pcm) for out in outs if isinstance(out, Queue) for w in out.windows]


def test_a_message_of_two_frames_is_held_as_two_frames_and_acked_once_for_the_last():
    audio = [LOUD[i % len(LOUD)] for i in range(20)] + [QUIET] * 20
    one_by_one, paired = started(), started()
    singles = [out for seq, pcm in enumerate(audio) for out in one_by_one.audio(frame(seq, pcm=pcm), now=0.0)]
    pairs = [
        out
        for seq in range(0, len(audio), 2)
        for out in paired.audio(frame(seq, pcm=audio[seq] + audio[seq + 1]), now=0.0)
    ]
    # The same windows, cut at the same seqs, with the same audio.
    assert _windows(pairs) == _windows(singles) and _windows(pairs)
    acks = [out.message["seq"] for out in pairs if isinstance(out, Send) and out.message["type"] == "ack"]
    assert acks == list(range(1, len(audio), 2))
    assert paired.windowers[0].next_seq == len(audio)


def test_a_resent_message_that_overlaps_what_is_held_keeps_only_the_new_frame():
    s = started()
    send_frames(s, range(3))
    assert outputs(s.audio, frame(2, pcm=QUIET * 2), now=0.0) == [ack(3)]
    assert s.windowers[0].next_seq == 4
    assert outputs(s.audio, frame(0, pcm=QUIET * 3), now=0.0) == [ack(2)]  # all held: acked, dropped
    assert s.windowers[0].next_seq == 4


def test_a_message_that_starts_past_the_expected_frame_asks_for_a_resend():
    s = started()
    send_frames(s, range(2))
    assert outputs(s.audio, frame(3, pcm=QUIET * 2), now=0.0) == [
        error_frame("seq_gap", "resend from the expected frame", ch=0, expected=2)
    ]
    assert s.windowers[0].next_seq == 2


def test_a_message_across_the_maximum_length_keeps_the_frames_before_it_then_closes():
    s = started(limits=Limits(max_frame_bytes=64 * 1024, rate_x=2.5, burst_s=30.0, max_frames=5))
    send_frames(s, range(3))
    assert outputs(s.audio, frame(3, pcm=QUIET * 3), now=0.0) == [ack(4), Close(protocol.CLOSE_TOO_LONG)]
    assert s.windowers[0].next_seq == 5


def test_a_message_across_the_self_mode_cap_keeps_the_frames_before_it_then_stops():
    limits = Limits(max_frame_bytes=64 * 1024, rate_x=2.5, burst_s=30.0, max_frames=4, self_mode=True)
    s = started(limits=limits)
    send_frames(s, range(3))
    detail = "a recap in your own voice is 5 min at most"
    assert outputs(s.audio, frame(3, pcm=QUIET * 2), now=0.0) == [
        ack(3),
        error_frame("self_limit", detail),
        Stop(),
    ]


def test_a_message_spends_the_rate_budget_of_every_frame_it_carries():
    # 1 s of burst at 2.5x: five frames one by one, or one message of five, but not two messages of five.
    limits = Limits(max_frame_bytes=64 * 1024, rate_x=2.5, burst_s=1.0, max_frames=54_000)
    s = started(limits=limits)
    assert outputs(s.audio, frame(0, pcm=QUIET * 5), now=0.0)[0] == ack(4)
    assert outputs(s.audio, frame(5, pcm=QUIET * 5), now=0.0) == [Close(protocol.CLOSE_RATE)]
