"""Every recap of one person as a zip of Markdown files, with their own notes, for the settings page.
Built in memory and handed to the response from there: never a temporary file, which would leave
decrypted content on disk for as long as the disk keeps it (the privacy audit scans the temp dirs)."""

from __future__ import annotations

import io
import zipfile

from django.utils import timezone

from . import services
from .edits import export_markdown
from .models import AfterNote, Recap, RecapAccess, SessionNote

NOTE_HEADINGS = (
    ("stood_out", "What stood out"),
    ("practise", "To practise"),
    ("bring_back", "To bring back"),
)


def recap_filename(recap: Recap) -> str:
    # The same name as the one-recap export (recaps.views.recap_export), so the two never disagree.
    return f"session-{recap.number}-{recap.session_date:%Y-%m-%d}.md"


def _quoted(text: str) -> list[str]:
    # The person's own words, as a block quote, so a line that starts with "#" stays their text.
    return [f"> {line}" if line else ">" for line in text.strip().splitlines()]


def after_note_markdown(note: AfterNote) -> list[str]:
    lines = [f"### After-session note, {timezone.localtime(note.created_at):%d %b %Y}", ""]
    for key, heading in NOTE_HEADINGS:
        if answer := note.answer(key).strip():
            lines += [f"**{heading}**", "", *_quoted(answer), ""]
    return lines


def recaps_zip(*, user) -> io.BytesIO:
    """One .md per recap of `user` (their session note and after-session notes at the end of it), and
    the after-session notes that point at no recap in one more file. Each recap's export is audited."""
    buffer = io.BytesIO()
    notes = {n.recap_id: n for n in SessionNote.objects.filter(recap__user=user)}
    after: dict = {}
    for note in AfterNote.objects.filter(user=user).order_by("created_at"):
        after.setdefault(note.recap_id, []).append(note)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for recap in Recap.objects.filter(user=user).order_by("session_date"):
            text = export_markdown(recap)  # exactly the one-recap export (recaps:export)
            extra: list[str] = []
            if recap.id in notes:
                extra += ["## Your note", "", *_quoted(notes[recap.id].text), ""]
            if recap.id in after:
                extra += ["## Your after-session notes", ""]
                for note in after[recap.id]:
                    extra += after_note_markdown(note)
            if extra:
                text = text.rstrip() + "\n\n" + "\n".join(extra).rstrip() + "\n"
            archive.writestr(_entry(recap_filename(recap), recap.session_date), text)
            services.recap_access_log(user=user, recap_id=recap.id, action=RecapAccess.Action.EXPORT)
        if None in after:
            lines = ["# After-session notes without a recorded session", ""]
            for note in after[None]:
                lines += after_note_markdown(note)
            archive.writestr(
                _entry("after-session-notes.md", timezone.now()), "\n".join(lines).rstrip() + "\n"
            )
    buffer.seek(0)
    return buffer


def _entry(name: str, when) -> zipfile.ZipInfo:
    local = timezone.localtime(when)
    info = zipfile.ZipInfo(name, date_time=(local.year, local.month, local.day, local.hour, local.minute, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16  # private to whoever unzips it
    return info
