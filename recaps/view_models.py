"""View-models: what a page shows, shaped for its template (SVG geometry, bars in words). Beside the
views, apart from selectors.py, which only reads."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from .models import Recap
from .selectors import PATTERNS_THEMES_MAX, normalise_label


@dataclass
class PatternCell:
    x: float
    r: float
    share: float
    label: str


@dataclass
class PatternRow:
    label: str
    count: int
    y: float
    cells: list[PatternCell]


@dataclass
class Patterns:
    recaps: list[Recap]
    rows: list[PatternRow]
    recurring: list[tuple[str, int]]
    width: int
    height: int
    label_w: int
    col_w: int
    row_h: int
    columns: list[tuple[float, str]]  # (x, short label) per session


def patterns_view(recaps: list[Recap]) -> Patterns:
    """Themes across sessions (oldest first, as a timeline), with geometry for an inline SVG dot grid
    computed here so the template stays plain."""
    per_recap: list[dict[str, float]] = []
    totals: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for recap in recaps:
        shares: dict[str, float] = {}
        for theme in recap.data.get("themes") or []:
            key = normalise_label(theme.get("label", ""))
            if key:
                shares[key] = max(shares.get(key, 0.0), float(theme.get("share") or 0.0))
                shown[key] = theme.get("label", "")  # newest wording wins
        for key, share in shares.items():
            counts[key] += 1
            totals[key] += share
        per_recap.append(shares)
    top = sorted(counts, key=lambda k: (-counts[k], -totals[k], k))[:PATTERNS_THEMES_MAX]
    label_w, row_h, head_h = 96, 40, 28
    # Spread a few sessions over a phone-width card (about 300 px); many scroll sideways at 34 px each.
    col_w = max(34, (300 - label_w - 8) // max(len(recaps), 1))
    width = label_w + col_w * max(len(recaps), 1) + 8
    height = head_h + row_h * max(len(top), 1)
    max_share = max((s for shares in per_recap for s in shares.values()), default=1.0) or 1.0
    rows = []
    for r, key in enumerate(top):
        cells = []
        for c, shares in enumerate(per_recap):
            share = shares.get(key, 0.0)
            if share > 0:
                # Area, not radius, follows share, so a twice-as-big theme does not look four times bigger.
                radius = 3 + 11 * math.sqrt(share / max_share)
                cells.append(
                    PatternCell(label_w + col_w * c + col_w / 2, round(radius, 1), share, recaps[c].label)
                )
        rows.append(PatternRow(shown[key], counts[key], head_h + row_h * r + row_h / 2, cells))
    columns = [(label_w + col_w * c + col_w / 2, f"S{recap.number}") for c, recap in enumerate(recaps)]
    recurring = [(shown[k], n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n >= 2]
    return Patterns(recaps, rows, recurring, width, height, label_w, col_w, row_h, columns)


@dataclass(frozen=True)
class ThemeRow:
    label: str
    relative: int  # 0..100, the bar's length against the session's heaviest theme
    how_much: str


def theme_rows(themes: list[dict]) -> list[ThemeRow]:
    """Themes as a reader understands them: heaviest first, in words ("most", "often", "at
    times") rather than a percentage of mentions that nobody can check."""
    shares = [float(t.get("share") or 0.0) for t in themes]
    top = max(shares, default=0.0) or 1.0
    rows = []
    for i, (theme, share) in enumerate(sorted(zip(themes, shares, strict=True), key=lambda p: -p[1])):
        relative = share / top
        how_much = "most" if i == 0 else "often" if relative >= 0.5 else "at times"
        rows.append(
            ThemeRow(
                label=str(theme.get("label") or ""), relative=max(4, round(relative * 100)), how_much=how_much
            )
        )
    return rows


# A channel counts as unheard when it ran this long with (almost) no speech while the other one spoke.
UNHEARD_MIN_RECORDED_S = 30.0
UNHEARD_MAX_SPEECH_S = 2.0
OTHER_MIN_SPEECH_S = 10.0


def unheard_channel(data: dict) -> tuple[str, float] | None:
    """("call" or "microphone", seconds) when one side of a two-channel recording was silent: a muted
    tab, a call in the desktop app rather than the browser, headphones on the wrong device. The
    recap then has one side only and says so."""
    channels = (data.get("stats") or {}).get("channels") or {}
    if "0" not in channels or "1" not in channels:
        return None  # microphone only: nothing was expected on the call channel
    for silent, other, name in (("1", "0", "call"), ("0", "1", "microphone")):
        s, o = channels[silent], channels[other]
        if (
            float(s.get("recorded_s") or 0) >= UNHEARD_MIN_RECORDED_S
            and float(s.get("speech_s") or 0) <= UNHEARD_MAX_SPEECH_S
            and float(o.get("speech_s") or 0) >= OTHER_MIN_SPEECH_S
        ):
            return name, float(s["recorded_s"])
    return None
