"""Test speech made on the fly with espeak-ng (a Debian package), so the always-run tests need no
shared files. ../shared/audio is used where present (tests skip it when absent)."""

import shutil
import subprocess
import uuid
import wave
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_AUDIO = ROOT.parent / "shared" / "audio"
FRAME_BYTES = 6400


def need_espeak():
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (make test installs it)")


def espeak(text: str, *, voice: str = "en-us", speed: int = 150, work: Path) -> np.ndarray:
    """float32 16 kHz mono of `text` spoken by espeak-ng, decoded and resampled by PyAV as the worker
    decodes files. The one speech maker of the tests and the benchmarks (bench/ imports it)."""
    need_espeak()
    from faster_whisper import decode_audio

    wav = work / f"espeak-{uuid.uuid4().hex}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True, timeout=60)
    try:
        return decode_audio(str(wav), sampling_rate=16000)
    finally:
        wav.unlink(missing_ok=True)


def to_int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")


def espeak_pcm(text: str, *, voice: str = "en-us", speed: int = 150, tmp_dir: Path) -> bytes:
    """16 kHz mono PCM16LE of `text` spoken by espeak-ng."""
    return to_int16(espeak(text, voice=voice, speed=speed, work=tmp_dir)).tobytes()


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * 16000) * 2)


def frames(pcm: bytes) -> list[bytes]:
    """Split into 200 ms wire payloads, zero-padding the last one."""
    if len(pcm) % FRAME_BYTES:
        pcm += bytes(FRAME_BYTES - len(pcm) % FRAME_BYTES)
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def write_wav(path: Path, pcm_channels: list[bytes], rate: int = 16000) -> Path:
    """Write one or more PCM16 mono tracks as a WAV (interleaved when several)."""
    arrays = [np.frombuffer(p, dtype="<i2") for p in pcm_channels]
    n = max(len(a) for a in arrays)
    arrays = [np.pad(a, (0, n - len(a))) for a in arrays]
    data = np.stack(arrays, axis=1).astype("<i2").tobytes() if len(arrays) > 1 else arrays[0].tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(arrays))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data)
    return path
