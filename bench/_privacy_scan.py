"""Byte-level scanning for the privacy audit (bench/privacy_audit.py). No Django here: it reads bytes
(files, Redis values, a Redis MONITOR stream) and counts what should never be there.

What counts as a hit in a blob of bytes:
- a spoken word (>= 5 letters, case-insensitive) as ASCII/UTF-8, UTF-16-LE or UTF-16-BE. An ASCII hit
  needs a non-alphanumeric byte (or the start) just before it: base64 and Fernet tokens are long runs of
  letters, where a 5-letter word turns up by chance now and then; a word in text never follows a letter;
- the whole phrase (its words in order, 1-4 separators between them);
- any base64 run (24+ characters, standard or URL-safe alphabet) is decoded and the decoded bytes are
  searched for words and audio too: Celery bodies, and anything else a careless encoder hid;
- audio: 64 slices (256 bytes each) of the PCM16 that was streamed, found byte for byte (or as hex,
  or as a Python bytes repr, or inside base64). Near-silent
  slices are never used: a run of zeros matches any zero page. The audit dithers its audio by +-1 LSB
  with a random seed, so the slices are unique to one run (no other run's files can match them);
- audio containers: RIFF....WAVE, fLaC, OggS magic.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
import sys
import sysconfig
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WORD_MIN_LETTERS = 5
SLICE_BYTES = 256
SLICE_COUNT = 64
MAGIC = {
    "wav": re.compile(rb"RIFF.{4}WAVE", re.DOTALL),
    "flac": re.compile(rb"fLaC"),
    "ogg": re.compile(rb"OggS"),
}
BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{24,}={0,2}")
FERNET_TOKEN = re.compile(rb"gAAAAA[A-Za-z0-9_-]{40,}={0,2}")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def spoken_words(*texts: str) -> list[str]:
    """Distinct words of >= 5 letters, lowercased: the needles. Shorter words ("the", "and") are in
    every file."""
    words = set()
    for text in texts:
        words.update(w.lower() for w in re.findall(r"[A-Za-z]+", text or "") if len(w) >= WORD_MIN_LETTERS)
    return sorted(words)


def audio_slices(pcm: bytes, *, count: int = SLICE_COUNT, size: int = SLICE_BYTES) -> list[bytes]:
    """`count` evenly spaced `size`-byte slices of PCM16, chosen among the loud ones only."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2")
    per = size // 2
    loud = []
    for i in range(len(samples) // per):
        block = samples[i * per : (i + 1) * per].astype(np.int32)
        if np.abs(block).max() >= 1000 and block.std() >= 300 and len(np.unique(block)) >= per // 2:
            loud.append(i)
    if not loud:
        return []
    picks = sorted(
        {loud[round(j * (len(loud) - 1) / max(count - 1, 1))] for j in range(min(count, len(loud)))}
    )
    return [samples[i * per : (i + 1) * per].tobytes() for i in picks]


def _word_patterns(word: str) -> list[re.Pattern]:
    ascii_word = re.escape(word.encode("ascii"))
    return [
        re.compile(rb"(?<![A-Za-z0-9])" + ascii_word, re.IGNORECASE),
        re.compile(re.escape(word.encode("utf-16-le")), re.IGNORECASE),
        re.compile(re.escape(word.encode("utf-16-be")), re.IGNORECASE),
    ]


def _phrase_pattern(phrase: str) -> re.Pattern | None:
    words = re.findall(r"[A-Za-z]+", phrase or "")
    if len(words) < 3:
        return None
    return re.compile(rb"[^A-Za-z0-9]{1,4}".join(re.escape(w.encode()) for w in words), re.IGNORECASE)


def _b64decode(run: bytes) -> bytes | None:
    run = run.rstrip(b"=")
    run = run[: len(run) - len(run) % 4] if len(run) % 4 == 1 else run
    padded = run + b"=" * (-len(run) % 4)
    try:
        if b"-" in run or b"_" in run:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


@dataclass
class Hits:
    words: dict[str, int] = field(default_factory=dict)
    phrase: int = 0
    audio: int = 0
    magic: dict[str, int] = field(default_factory=dict)
    where: list[str] = field(default_factory=list)  # "label: what" for the first hits, for the report

    @property
    def word_total(self) -> int:
        return sum(self.words.values()) + self.phrase

    @property
    def audio_total(self) -> int:
        return self.audio + sum(self.magic.values())

    def add(self, other: Hits) -> None:
        for k, v in other.words.items():
            self.words[k] = self.words.get(k, 0) + v
        for k, v in other.magic.items():
            self.magic[k] = self.magic.get(k, 0) + v
        self.phrase += other.phrase
        self.audio += other.audio
        self.where += other.where[: max(0, 20 - len(self.where))]


class Scanner:
    def __init__(
        self,
        *,
        words: Iterable[str],
        phrases: Iterable[str] = (),
        slices: Iterable[bytes] = (),
        magic: bool = True,
    ):
        self.words = sorted(set(words))
        self.word_patterns = {w: _word_patterns(w) for w in self.words}
        self.phrase_patterns = [p for p in (_phrase_pattern(x) for x in phrases) if p is not None]
        self.slices = list(slices)
        # Audio written as text: hex, or a Python bytes repr (a careless `log.debug("%r", pcm)`).
        self.slice_texts = [(s.hex().encode(), repr(s)[2:-1].encode().lower()) for s in self.slices]
        self.magic = magic

    def scan(self, data: bytes, label: str = "", *, decode_base64: bool = True) -> Hits:
        hits = Hits()
        for word, patterns in self.word_patterns.items():
            n = sum(len(p.findall(data)) for p in patterns)
            if n:
                hits.words[word] = n
                hits.where.append(f"{label}: word {word!r} x{n}")
        for pattern in self.phrase_patterns:
            n = len(pattern.findall(data))
            if n:
                hits.phrase += n
                hits.where.append(f"{label}: the phrase x{n}")
        lowered = data.lower() if self.slice_texts else b""
        found = [
            i
            for i, s in enumerate(self.slices)
            if data.find(s) >= 0 or any(lowered.find(t) >= 0 for t in self.slice_texts[i])
        ]
        if found:
            hits.audio += len(found)
            hits.where.append(f"{label}: {len(found)} of {len(self.slices)} audio slices")
        if self.magic:
            for name, pattern in MAGIC.items():
                n = len(pattern.findall(data))
                if n:
                    hits.magic[name] = hits.magic.get(name, 0) + n
                    hits.where.append(f"{label}: {name} magic x{n}")
        if decode_base64:
            for match in BASE64_RUN.finditer(data):
                decoded = _b64decode(match.group())
                if decoded:
                    sub = self.scan(decoded, f"{label} (base64 at {match.start()})", decode_base64=False)
                    hits.add(sub)
        return hits


# SQLite -----------------------------------------------------------------------------------------


@dataclass
class FreelistReport:
    page_size: int = 0
    pages: int = 0
    free_pages: int = 0
    dirty_free_pages: int = 0  # free pages with any non-zero byte outside the freelist's own pointers

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def sqlite_freelist(data: bytes) -> FreelistReport:
    """Walk the freelist of an SQLite main file (https://www.sqlite.org/fileformat2.html#freelist) and
    check that every free page is zeroed, which PRAGMA secure_delete=ON promises."""
    report = FreelistReport()
    if len(data) < 100 or not data.startswith(b"SQLite format 3\x00"):
        return report
    page_size = struct.unpack(">H", data[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    report.page_size = page_size
    report.pages = len(data) // page_size
    trunk = struct.unpack(">I", data[32:36])[0]
    seen = set()

    def page(n: int) -> bytes:
        return data[(n - 1) * page_size : n * page_size]

    while trunk and trunk not in seen and trunk <= report.pages:
        seen.add(trunk)
        body = page(trunk)
        next_trunk, leaves = struct.unpack(">II", body[:8])
        leaves = min(leaves, (page_size - 8) // 4)
        report.free_pages += 1
        if any(body[8 + 4 * leaves :]):
            report.dirty_free_pages += 1
        for i in range(leaves):
            leaf = struct.unpack(">I", body[8 + 4 * i : 12 + 4 * i])[0]
            if 0 < leaf <= report.pages:
                report.free_pages += 1
                if any(page(leaf)):
                    report.dirty_free_pages += 1
        trunk = next_trunk
    return report


# Redis ------------------------------------------------------------------------------------------


def redis_dump(client) -> list[tuple[str, bytes]]:
    """Every key of every database of one Redis, as (label, bytes) with the key name and every value
    of every type: strings, lists, hashes, sets, sorted sets (members and scores), streams."""
    out = []
    keyspace = client.info("keyspace")
    for db_name in sorted(keyspace):
        db = int(db_name[2:])
        c = client if db == client.connection_pool.connection_kwargs.get("db", 0) else _with_db(client, db)
        for key in c.scan_iter(count=500):
            kind = c.type(key).decode()
            parts: list[bytes] = [key]
            if kind == "string":
                parts.append(c.get(key) or b"")
            elif kind == "list":
                parts += c.lrange(key, 0, -1)
            elif kind == "hash":
                for k, v in c.hgetall(key).items():
                    parts += [k, v]
            elif kind == "set":
                parts += list(c.smembers(key))
            elif kind == "zset":
                for member, score in c.zrange(key, 0, -1, withscores=True):
                    parts += [member, repr(score).encode()]
            elif kind == "stream":
                for entry_id, fields in c.xrange(key, "-", "+"):
                    parts.append(entry_id)
                    for k, v in fields.items():
                        parts += [k, v]
            out.append((f"db{db} {kind} {key.decode(errors='replace')}", b"\n".join(parts)))
    return out


def _with_db(client, db: int):
    import redis

    kwargs = dict(client.connection_pool.connection_kwargs)
    kwargs["db"] = db
    return redis.Redis(**{k: v for k, v in kwargs.items() if k in {"host", "port", "db", "password"}})


_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"a": b"\a", b"b": b"\b", b'"': b'"', b"\\": b"\\"}


def parse_monitor_line(line: bytes) -> list[bytes] | None:
    """One MONITOR line (`+1700000000.1 [0 127.0.0.1:1234] "SET" "k" "\\x00..."`) -> its arguments,
    unescaped (Redis writes them with sdscatrepr: \\xHH, \\n, \\", \\\\ ...)."""
    start = line.find(b'] "')
    if not line.startswith(b"+") or start < 0:
        return None
    args, i, buf, n = [], start + 2, bytearray(), len(line)
    in_arg = False
    while i < n:
        ch = line[i : i + 1]
        if not in_arg:
            if ch == b'"':
                in_arg, buf = True, bytearray()
            i += 1
            continue
        if ch == b"\\" and i + 1 < n:
            nxt = line[i + 1 : i + 2]
            if nxt == b"x" and i + 3 < n:
                buf.append(int(line[i + 2 : i + 4], 16))
                i += 4
                continue
            buf += _ESCAPES.get(nxt, nxt)
            i += 2
            continue
        if ch == b'"':
            args.append(bytes(buf))
            in_arg = False
            i += 1
            continue
        buf += ch
        i += 1
    return args


# Celery messages --------------------------------------------------------------------------------


@dataclass
class CeleryMessage:
    task: str
    args: list
    kwargs: dict
    argsrepr: str = ""
    kwargsrepr: str = ""

    def ids_only(self) -> bool:
        """Every argument is a UUID or an int, and the reprs in the headers show nothing else."""
        values = list(self.args) + list(self.kwargs.values())
        ok = all(isinstance(v, int) or (isinstance(v, str) and UUID_RE.match(v)) for v in values)
        return ok and all(
            UUID_RE.match(s) or s.isdigit() or s == ""
            for s in re.findall(r"'([^']*)'", self.argsrepr + self.kwargsrepr)
        )


def celery_messages(blob: bytes) -> list[CeleryMessage]:
    """Kombu messages (JSON envelopes with a base64 body) found in a Redis value or command argument."""
    import json

    found = []
    for candidate in _json_objects(blob):
        if not isinstance(candidate, dict) or "body" not in candidate or "headers" not in candidate:
            continue
        headers = candidate.get("headers") or {}
        body = candidate["body"]
        if candidate.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        try:
            decoded = json.loads(body)
        except (ValueError, TypeError):
            continue
        if isinstance(decoded, list) and len(decoded) == 3:
            args, kwargs, _embed = decoded
        else:
            args, kwargs = [], decoded if isinstance(decoded, dict) else {}
        found.append(
            CeleryMessage(
                task=str(headers.get("task", "?")),
                args=list(args or []),
                kwargs=dict(kwargs or {}),
                argsrepr=str(headers.get("argsrepr") or ""),
                kwargsrepr=str(headers.get("kwargsrepr") or ""),
            )
        )
    return found


def _json_objects(blob: bytes) -> Iterable:
    import json

    text = blob.decode("utf-8", errors="ignore")
    decoder = json.JSONDecoder()
    i = text.find("{")
    while i >= 0:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        yield obj
        if isinstance(obj, list) and obj and isinstance(obj[0], str):
            # The unacked hash stores [message-json-string, exchange, routing_key].
            yield from _json_objects(obj[0].encode())
        i = text.find("{", end)


# Files ------------------------------------------------------------------------------------------


def files_under(root: Path, *, exclude: Iterable[Path] = ()) -> list[Path]:
    """Every regular file under `root` (not following links), except under `exclude`."""
    excluded = [Path(p).resolve() for p in exclude]
    if not root.exists():
        return []
    return [
        path
        for path in sorted(root.rglob("*"))
        if (real := _regular_file(path)) is not None and not _inside(real, excluded)
    ]


def _regular_file(path: Path) -> Path | None:
    """The resolved path of a regular file that is not a link, or None (gone, a link, not a file)."""
    try:
        if path.is_symlink() or not path.is_file():
            return None
        return path.resolve()
    except OSError:
        return None


def _inside(real: Path, roots: Iterable[Path]) -> bool:
    return any(real == root or root in real.parents for root in roots)


# Files a process holds open ---------------------------------------------------------------------


def _opened_for_writing(pid: int, fd: str) -> bool:
    """The descriptor's access mode (/proc/PID/fdinfo/FD `flags`, octal) is O_WRONLY or O_RDWR."""
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}") as f:
            for line in f:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8) & os.O_ACCMODE != os.O_RDONLY
    except (OSError, ValueError, IndexError):
        pass
    return True  # unknown: count it rather than go blind


def held_files(pids: Iterable[int], roots: Iterable[str], exclude: Iterable[str] = ()) -> dict[str, bool]:
    """Regular files under `roots` (path prefixes ending in '/') and not under `exclude` that the
    processes `pids` hold open now, from /proc/PID/fd: {path: opened for writing}."""
    roots, exclude = tuple(roots), tuple(exclude)
    found: dict[str, bool] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if not target.startswith(roots) or (exclude and target.startswith(exclude)):
                continue
            path = target.removesuffix(" (deleted)")
            found[path] = found.get(path, False) or _opened_for_writing(pid, fd)
    return found


def installed_roots(extra: Iterable[Path | str] = ()) -> list[Path]:
    """Where installed, read-only code and data live for this interpreter (the stack's processes run
    the same one): the virtualenv, the base Python, site-packages, plus `extra` (the speech model)."""
    paths = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix]
    paths += [sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    paths += [str(p) for p in extra]
    out: list[Path] = []
    for p in paths:
        if p and Path(p).exists() and Path(p).resolve() not in out:
            out.append(Path(p).resolve())
    return out


def stack_files(seen: dict[str, bool], installed: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(counted, skipped) of the files the stack was seen holding open. Counted: every file it opened
    for writing, wherever it is, and every file it only read outside the installed trees (a file it
    wrote earlier and reads back). Skipped: files it only read inside an installed tree (the
    virtualenv, site-packages, the model): the stack's code and data, not something it made; the
    model's vocabulary holds most English words, so a checkout under /tmp would otherwise report the
    spoken words as found in model.bin."""
    installed = [Path(p).resolve() for p in installed]
    counted, skipped = [], []
    for name in sorted(seen):
        path = Path(name)
        if (real := _regular_file(path)) is None:
            continue
        (skipped if _inside(real, installed) and not seen[name] else counted).append(path)
    return counted, skipped


def read_bytes(path: Path, limit: int = 512 * 1024 * 1024) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError:
        return b""


def _marks(token: bytes) -> tuple[bytes, bytes]:
    """Two 32-character pieces of a token (after the version and time, and from the middle): one of
    them survives even when SQLite splits a long value across overflow pages."""
    return token[12:44], token[len(token) // 2 - 16 : len(token) // 2 + 16]


def fernet_residue(
    data: bytes,
    *,
    kept: Iterable[bytes],
    deleted: Iterable[bytes],
    decrypt: Callable[[bytes], bytes | None] | None,
    scanner: Scanner,
) -> dict[str, int]:
    """Encrypted leftovers in database bytes after the recap:
    - residue: a transcript-segment token collected while the segment existed (found by a 32-character
      piece), or any other whole Fernet token that is not a stored value and decrypts to text with a
      spoken word. The key lives on the same machine (it must, to show recaps), and AES-CBC blocks open
      without the HMAC, so even a fragment is the transcript at rest, one step removed;
    - kept: stored values (the recap itself, encrypted) found in the bytes: expected, not counted;
    - other: whole tokens that are neither (not counted)."""
    kept = [t for t in kept if len(t) > 64]
    deleted = [t for t in deleted if len(t) > 64]
    counts = {"kept": 0, "residue": 0, "other": 0}
    for token in deleted:
        counts["residue"] += max(data.count(mark) for mark in _marks(token))
    for token in kept:
        counts["kept"] += max(data.count(mark) for mark in _marks(token))
    for token in FERNET_TOKEN.findall(data):
        if any(token in t or t in token for t in kept + deleted) or any(
            mark in token for t in kept + deleted for mark in _marks(t)
        ):
            continue  # counted above
        plain = decrypt(token) if decrypt else None
        if plain is not None and scanner.scan(plain, decode_base64=False).word_total:
            counts["residue"] += 1
        else:
            counts["other"] += 1
    return counts
