"""What encoding a window over its own length (not Whisper's 30 s) costs in words, and saves in CPU.

The worker's encoder runs on a window plus WHISPER_ENCODER_PAD_S of padding, at least
WHISPER_ENCODER_MIN_S (capture/transcription.py WindowLengthPipeline); a window whose decode loops
or leaves speech uncovered is decoded again over 30 s. This runs the worker's own `transcribe_many`
on one window at a time for each setting given (PAD,MIN; "0,30" is faster-whisper's 30 s for
every window) and prints, per setting: word error rate against the reference text, process CPU, and
how many windows were decoded again; then the windows whose words differ between settings.

Windows: ../shared/audio's real speech (jfk.flac, both voices of stereo_diarization.wav) when present,
also slowed, sped up, pitched, with noise, quiet, telephone-band, after 2.5 s of silence, and joined;
then 16 espeak-ng sentences in 5 voices, alone, three to a window, and each followed by the start of
jfk.flac. Clips that begin or end in seconds of silence are not what capture/vad.py sends (it keeps
at most 0.5 s pauses), so here they can count as "skipped speech" and be decoded again.

Usage: .venv/bin/python bench/encoder_length.py [--settings 0,30 1,10 3,15] [--show]
Prints a table, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stream import DECODED_AGAIN, wer  # noqa: E402  (the same word error rate as bench/stream.py)

SAMPLE_RATE = 16000
SHARED_AUDIO = Path(__file__).resolve().parents[2] / "shared" / "audio"
JFK = (
    "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for "
    "your country."
)
LEFT = "He began a confused complaint against the wizard, who had vanished behind the curtain on the left."
RIGHT = "The horizon seems extremely distant."
VOICES = ("en-us", "en-gb", "en-us+m3", "en-gb+f2", "en-us+f3")


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def sox(audio: np.ndarray, *effects: str, tmp: Path) -> np.ndarray:
    from faster_whisper import decode_audio

    source, target = tmp / "in.wav", tmp / "out.wav"
    with wave.open(str(source), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    subprocess.run(["sox", str(source), str(target), *effects], check=True, timeout=60)
    return decode_audio(str(target), sampling_rate=SAMPLE_RATE)


def windows(tmp: Path) -> list[tuple[str, np.ndarray, str]]:
    from faster_whisper import decode_audio
    from window_cost import ESPEAK_SENTENCES

    rng = np.random.default_rng(0)
    out: list[tuple[str, np.ndarray, str]] = []
    jfk_path, stereo_path = SHARED_AUDIO / "jfk.flac", SHARED_AUDIO / "stereo_diarization.wav"
    jfk = None
    if jfk_path.exists() and stereo_path.exists():
        jfk = decode_audio(str(jfk_path), sampling_rate=SAMPLE_RATE)
        left, right = decode_audio(str(stereo_path), sampling_rate=SAMPLE_RATE, split_stereo=True)
        slow_left = sox(left, "tempo", "0.9", tmp=tmp)
        out += [
            ("jfk", jfk, JFK),
            ("left", left, LEFT),
            ("right", right, RIGHT),
            ("jfk slower", sox(jfk, "tempo", "0.85", tmp=tmp), JFK),
            ("jfk faster", sox(jfk, "tempo", "1.2", tmp=tmp), JFK),
            ("jfk lower", sox(jfk, "pitch", "-300", tmp=tmp), JFK),
            ("jfk higher", sox(jfk, "pitch", "300", tmp=tmp), JFK),
            ("jfk noise", jfk + rng.normal(0, 0.02, len(jfk)).astype(np.float32), JFK),
            ("jfk quiet", jfk * 0.1, JFK),
            ("jfk phone", sox(jfk, "sinc", "300-3400", tmp=tmp), JFK),
            ("jfk late", np.concatenate([silence(2.5), jfk]), JFK),
            ("left+right", np.concatenate([left, silence(0.5), right]), f"{LEFT} {RIGHT}"),
            (
                "right+jfk+left",
                np.concatenate([right, silence(1), jfk, silence(1), left]),
                f"{RIGHT} {JFK} {LEFT}",
            ),
            (
                "jfk twice",
                np.concatenate([jfk, silence(0.8), sox(jfk, "tempo", "1.1", tmp=tmp)]),
                f"{JFK} {JFK}",
            ),
            ("jfk start", jfk[: int(2.3 * SAMPLE_RATE)], "And so, my fellow Americans"),
            ("right faster", sox(right, "tempo", "1.3", tmp=tmp), RIGHT),
            (
                "left slower noise",
                slow_left + rng.normal(0, 0.01, len(slow_left)).astype(np.float32),
                LEFT,
            ),
        ]
    spoken = []
    for i, sentence in enumerate(ESPEAK_SENTENCES):
        path = tmp / f"s{i}.wav"
        subprocess.run(
            ["espeak-ng", "-v", VOICES[i % len(VOICES)], "-s", "150", "-w", str(path), sentence],
            check=True,
            timeout=60,
        )
        spoken.append((decode_audio(str(path), sampling_rate=SAMPLE_RATE), sentence))
    out += [(f"espeak {i}", audio, text) for i, (audio, text) in enumerate(spoken)]
    for k in range(0, 15, 3):
        three = [spoken[k], spoken[k + 1], spoken[(k + 2) % len(spoken)]]
        audio = np.concatenate([three[0][0], silence(0.6), three[1][0], silence(1.5), three[2][0]])
        out.append((f"espeak {k}-{k + 2}", audio, " ".join(t for _a, t in three)))
    if jfk is not None:
        start = jfk[: int(4.1 * SAMPLE_RATE)]
        for k in range(0, len(spoken), 2):
            audio = np.concatenate([spoken[k][0], silence(0.4), start])
            out.append(
                (
                    f"espeak {k}+jfk",
                    audio,
                    f"{spoken[k][1]} And so, my fellow Americans, ask not what your country",
                )
            )
    return out


class AgainCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        found = DECODED_AGAIN.match(record.getMessage())
        if found:
            self.count += int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", nargs="+", default=["0,30", "1,10", "3,15"], help="PAD,MIN seconds")
    parser.add_argument("--show", action="store_true", help="print every differing window's text")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "undertone_web.settings.base")
    import django

    django.setup()
    from django.conf import settings

    from capture import transcription

    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    counter = AgainCounter()
    log = logging.getLogger("capture.transcription")
    log.setLevel(logging.INFO)
    log.addHandler(counter)

    def pcm(audio: np.ndarray) -> bytes:
        return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()

    with tempfile.TemporaryDirectory() as tmp:
        clips = windows(Path(tmp))
    rows, texts = [], {}
    for setting in args.settings:
        pad, least = (float(x) for x in setting.split(","))
        settings.WHISPER_ENCODER_PAD_S, settings.WHISPER_ENCODER_MIN_S = pad, least
        transcription.get_pipeline.cache_clear()
        transcription.transcribe_many([pcm(silence(1.0))])  # load and warm up
        counter.count = 0
        errors = total = 0
        cpu = 0.0
        for name, audio, reference in clips:
            start = time.process_time()
            pieces = transcription.transcribe_many([pcm(audio)])[0]
            cpu += time.process_time() - start
            text = " ".join(p.text for p in pieces)
            e, n = wer(reference, text)
            errors, total = errors + e, total + n
            texts.setdefault(name, {})[setting] = (e, text)
        rows.append(
            {
                "setting": setting,
                "wer": round(errors / total, 4),
                "cpu_s": round(cpu, 2),
                "again": counter.count,
            }
        )

    print(
        f"{len(clips)} windows, {sum(len(a) for _n, a, _t in clips) / SAMPLE_RATE:.0f} s of audio, "
        "one window per call"
    )
    print(f"{'pad,min s':>9} {'WER':>7} {'cpu s':>7} {'vs 30 s':>7} {'decoded again':>13}")
    base = next((r for r in rows if r["setting"].endswith(",30")), rows[0])
    for r in rows:
        print(
            f"{r['setting']:>9} {r['wer']:>7.4f} {r['cpu_s']:>7.2f} "
            f"{r['cpu_s'] / base['cpu_s']:>7.2f} {r['again']:>13}"
        )
    differing = [name for name, by in texts.items() if len({t for _e, t in by.values()}) > 1]
    print(f"windows whose words differ between settings: {len(differing)} of {len(clips)}")
    if args.show:
        for name in differing:
            print(f"  {name}")
            for setting, (e, text) in texts[name].items():
                print(f"    {setting:>6} {e:>2} {text}")
    print(json.dumps({"windows": len(clips), "by_setting": rows, "differing": len(differing)}))


if __name__ == "__main__":
    main()
