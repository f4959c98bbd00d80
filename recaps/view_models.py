"""View-models: what a page shows, shaped for its template (SVG geometry, bars in words). Beside the
views, apart from selectors.py, which only reads."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from .edits import (
    ITEM_NAMES,
    SECTIONS,
    WRITABLE,
    dated_title,
    item_digest,
    short_date,
    theme_key,
    theme_shown,
)
from .models import Recap
from .selectors import PATTERNS_THEMES_MAX

PATTERN_LABEL_LINE = 13  # characters per line of a row's label (two lines at most)


@dataclass
class PatternCell:
    x: float
    r: float
    share: float
    label: str  # the session's title


@dataclass
class PatternRow:
    label: str
    count: int
    y: float
    cells: list[PatternCell]
    lines: list[str]  # the label on at most two lines, for the SVG
    shares: list[float | None]  # per column, for the table


@dataclass
class PatternColumn:
    x: float
    short: str  # "S3"
    date: str  # "29 Nov"
    title: str
    recap: Recap


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
    columns: list[PatternColumn]
    scrolls: bool  # wider than a phone's card: the chart scrolls in its box, and says so
    scrolls_wide: bool  # wider than a desktop card too


def label_lines(label: str, width: int = PATTERN_LABEL_LINE) -> list[str]:
    """A theme's name in one or two short lines ("Guilt and" / "shame"), cut with … past that."""
    words, lines, line = label.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    if len(lines) > 2:
        lines = [lines[0], " ".join(lines[1:])]
    return [x if len(x) <= width else x[: width - 1].rstrip() + "…" for x in lines]


PHONE_CHART_W = 300  # about what a 390 px screen leaves for the chart inside its card
WIDE_CHART_W = 550  # and what the page's widest card leaves (40rem less padding)
COL_MIN_W = 46  # room for a date ("13 Oct") under every column


def patterns_view(recaps: list[Recap]) -> Patterns:
    """Themes across sessions (oldest first, as a timeline), merged by the topic vocabulary so "Sleep"
    and "Sleep problems" are one row (edits.theme_key), with geometry for an inline SVG dot grid
    computed here so the template stays plain. Each column is dated."""
    per_recap: list[dict[str, float]] = []
    totals: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for recap in recaps:
        shares: dict[str, float] = {}
        for theme in recap.data.get("themes") or []:
            label = str(theme.get("label") or "")
            if not label.strip():
                continue
            key = theme_key(label)
            # Two themes of one session on the same topic add up (both were that topic's time).
            shares[key] = min(1.0, shares.get(key, 0.0) + float(theme.get("share") or 0.0))
            shown[key] = theme_shown(label)  # newest wording wins outside the vocabulary
        for key, share in shares.items():
            counts[key] += 1
            totals[key] += share
        per_recap.append(shares)
    top = sorted(counts, key=lambda k: (-counts[k], -totals[k], k))[:PATTERNS_THEMES_MAX]
    label_w, row_h, head_h = 96, 40, 36
    # Spread a few sessions over a phone-width card; many scroll sideways, a date's width each.
    col_w = max(COL_MIN_W, (PHONE_CHART_W - label_w - 8) // max(len(recaps), 1))
    width = label_w + col_w * max(len(recaps), 1) + 8
    height = head_h + row_h * max(len(top), 1)
    max_share = max((s for shares in per_recap for s in shares.values()), default=1.0) or 1.0
    columns = [
        PatternColumn(
            label_w + col_w * c + col_w / 2,
            f"S{recap.number}",
            short_date(recap.session_date),
            dated_title(recap),
            recap,
        )
        for c, recap in enumerate(recaps)
    ]
    rows = []
    for r, key in enumerate(top):
        cells = []
        for c, shares in enumerate(per_recap):
            share = shares.get(key, 0.0)
            if share > 0:
                # Area, not radius, follows share, so a twice-as-big theme does not look four times bigger.
                radius = 3 + 11 * math.sqrt(share / max_share)
                cells.append(PatternCell(columns[c].x, round(radius, 1), share, columns[c].title))
        rows.append(
            PatternRow(
                shown[key],
                counts[key],
                head_h + row_h * r + row_h / 2,
                cells,
                label_lines(shown[key]),
                [shares.get(key) or None for shares in per_recap],
            )
        )
    recurring = [
        (shown[k], n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], shown[kv[0]])) if n >= 2
    ]
    return Patterns(
        recaps,
        rows,
        recurring,
        width,
        height,
        label_w,
        col_w,
        row_h,
        columns,
        width > PHONE_CHART_W,
        width > WIDE_CHART_W,
    )


@dataclass(frozen=True)
class ThemeRow:
    label: str
    relative: int  # 0..100, the bar's length against the session's heaviest theme
    how_much: str
    edited: bool = False  # the person changed its wording (a fixed word)


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
                label=str(theme.get("label") or ""),
                relative=max(4, round(relative * 100)),
                how_much=how_much,
                edited=bool(theme.get("edited")),
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


@dataclass
class EditItem:
    index: int
    text: str
    detail: str  # a moment's reflection under its quote
    digest: str
    edited: bool
    added: bool
    done: bool

    @property
    def rows(self) -> int:
        """Tall enough for the wording on a phone (about 34 characters a line), 2 to 8 lines."""
        return max(2, min(8, len(self.text) // 34 + 1))


@dataclass
class EditSection:
    key: str
    name: str
    items: list[EditItem]
    writable: bool  # next steps and questions: reword and add; the rest: remove only
    item_name: str  # "next step"


def edit_sections(data: dict, *, done: set[int]) -> list[EditSection]:
    """Every removable item of the recap, in page order, with what its forms need."""
    out = []
    for key, name in SECTIONS.items():
        items = []
        for i, item in enumerate(data.get(key) or []):
            if not isinstance(item, dict):
                continue
            if key == "themes":
                text, detail = str(item.get("label") or ""), ""
            elif key == "moments":
                text, detail = str(item.get("quote") or ""), str(item.get("reflection") or "")
            else:
                text, detail = str(item.get("text") or ""), ""
            items.append(
                EditItem(
                    index=i,
                    text=text,
                    detail=detail,
                    digest=item_digest(item),
                    edited=bool(item.get("edited")),
                    added=bool(item.get("added")),
                    done=key == "next_steps" and i in done,
                )
            )
        out.append(EditSection(key, name, items, key in WRITABLE, ITEM_NAMES[key]))
    return out
