"""Test speech made on the fly with espeak-ng (a Debian package), so the always-run tests need no
shared files. ../shared/audio is used where present (tests skip it when absent)."""

import shutil
import subprocess
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


def espeak_pcm(text: str, *, voice: str = "en-us", speed: int = 150, tmp_dir: Path) -> bytes:
    """16 kHz mono PCM16LE of `text` spoken by espeak-ng."""
    need_espeak()
    raw = tmp_dir / "espeak.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True)
    with wave.open(str(raw)) as w:
        rate = w.getframerate()
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    raw.unlink()
    n_out = int(len(audio) * 16000 / rate)
    resampled = np.interp(np.linspace(0, len(audio) - 1, n_out), np.arange(len(audio)), audio)
    return resampled.astype("<i2").tobytes()


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
