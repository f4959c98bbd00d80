"""Every URL of the site, generated from the URLconf, so the CSRF, IDOR and CSP tests cover a page the
day it is added. Path parameters are filled by name from a small map of real objects of one owner;
a pattern whose parameter is not in the map FAILS those tests (see `Unfillable`), so a new kind of
object URL cannot slip through untested: add its filler here, with the owner's object."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver, reverse

# (kwarg name, converter class) -> the owner's object id for it. Keyed on both, so `<int:recap_id>`
# next to `<uuid:recap_id>` is a new pattern that must be added on purpose.
FILLERS: dict[tuple[str, str], Callable[[object], object]] = {
    ("session_id", "UUIDConverter"): lambda o: o.session.id,
    ("recap_id", "UUIDConverter"): lambda o: o.recap.id,
    ("note_id", "UUIDConverter"): lambda o: o.after_note.id,
    ("schedule_id", "IntConverter"): lambda o: o.schedule.id,
    ("device_id", "UUIDConverter"): lambda o: o.device.id,
    ("request_id", "UUIDConverter"): lambda o: o.pairing.id,
    ("token", "StringConverter"): lambda o: o.token,
}
# Parameters that are not objects: a position inside an object named by another parameter.
POSITIONS: dict[tuple[str, str], object] = {("index", "IntConverter"): 0}


class Unfillable(Exception):
    pass


@dataclass(frozen=True)
class Route:
    name: str  # "recaps:detail"
    pattern: str  # "recaps/<uuid:recap_id>/"
    params: tuple[tuple[str, str], ...]  # ((kwarg, converter class name), ...)
    callback: Callable = field(compare=False, repr=False)

    @property
    def is_object(self) -> bool:
        """Names someone's object (not only a position inside one)."""
        return any(param not in POSITIONS for param in self.params)

    def url(self, owned) -> str:
        kwargs = {}
        for param in self.params:
            if param in POSITIONS:
                kwargs[param[0]] = POSITIONS[param]
            elif param in FILLERS:
                kwargs[param[0]] = FILLERS[param](owned)
            else:
                raise Unfillable(
                    f"{self.name} ({self.pattern}): no filler for <{param[1]}:{param[0]}>. Add one to "
                    "tests/security/routes.py FILLERS with the owner's object, so CSRF and IDOR cover it."
                )
        return reverse(self.name, kwargs=kwargs)

    def url_nonexistent(self) -> str:
        """The same URL with ids that belong to nobody: what a refusal must be indistinguishable from."""
        kwargs = {}
        for name, converter in self.params:
            if (name, converter) in POSITIONS:
                kwargs[name] = POSITIONS[(name, converter)]
            elif converter == "UUIDConverter":
                kwargs[name] = uuid.uuid4()
            elif converter == "IntConverter":
                kwargs[name] = 2**31 - 7
            elif converter in ("StringConverter", "SlugConverter"):
                kwargs[name] = secrets.token_urlsafe(32)
            else:
                raise Unfillable(f"{self.name}: no nonexistent value for a {converter}")
        return reverse(self.name, kwargs=kwargs)


def _walk(patterns, prefix: str, namespace: str | None, params: tuple) -> Iterator[Route]:
    for entry in patterns:
        pattern = entry.pattern
        converters = tuple(
            (name, type(conv).__name__) for name, conv in getattr(pattern, "converters", {}).items()
        )
        # A regex pattern's named groups have no converter: name them so they cannot be filled by accident.
        regex_groups = tuple(
            (name, "regex") for name in pattern.regex.groupindex if name not in dict(converters)
        )
        here = params + converters + regex_groups
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry.url_patterns, prefix + str(pattern), ns, here)
        elif isinstance(entry, URLPattern):
            if not entry.name:
                raise Unfillable(f"unnamed URL pattern {prefix}{pattern}: name it so it can be reversed")
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Route(name=name, pattern=prefix + str(pattern), params=here, callback=entry.callback)


def all_routes() -> list[Route]:
    routes = list(_walk(get_resolver().url_patterns, "", None, ()))
    assert len({r.name for r in routes}) == len(routes), "two patterns share a name: reverse() hides one"
    return routes


def normalise(text: str, ids: dict[str, str]) -> str:
    """A page with per-request noise removed (masked CSRF tokens) and the given ids replaced, so a
    refusal for someone's object can be compared byte for byte with one for an id nobody has."""
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value="-"', text)
    for old, new in ids.items():
        text = text.replace(old, new)
    return text
