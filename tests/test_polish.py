"""The installable web app and the site's polish, without a browser (tests/e2e/test_app_install_e2e.py
runs them in Chromium):

- the manifest is valid JSON with what an install needs, and its icons exist at the sizes it declares;
- /sw.js is served from the root as JavaScript the HTTP cache never keeps, and its source stores only the
  app shell (no page with content) and sends page loads to the network first;
- the offline page needs no sign-in and is the same for everyone (no name, no form, no token);
- durations read as people say them ("3 min 41 s", "1 h 5 min");
- every page has the skip link, the icons and the manifest; site.css has a dark palette for every colour."""

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.contrib.staticfiles import finders
from django.template import Context, Template
from django.test import Client
from PIL import Image

from recaps.templatetags.recaps_tags import duration_iso, duration_words, minutes_words

ROOT = Path(__file__).resolve().parents[1]
SW_SOURCE = (ROOT / "static" / "app" / "sw.js").read_text()
SITE_CSS = (ROOT / "static" / "css" / "site.css").read_text()
# URL prefixes whose pages carry someone's content or depend on who asks: never in the worker's cache.
CONTENT_PREFIXES = ("/recaps/", "/capture/", "/accounts/", "/api/", "/admin/", "/healthz")


def static_path(url: str) -> Path:
    assert url.startswith("/static/"), url
    found = finders.find(url.removeprefix("/static/"))
    assert found, f"{url} is not a static file"
    return Path(found)


# ---- the manifest ------------------------------------------------------------------------------------


def test_the_manifest_has_what_an_install_needs():
    response = Client().get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] == "Undertone"
    assert manifest["short_name"] and len(manifest["short_name"]) <= 12  # fits under a home-screen icon
    assert manifest["start_url"] == "/"
    assert manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    # The site's own colours: the page background, and the top bar the browser's frame continues.
    assert manifest["background_color"] == re.search(r"--bg: (#[0-9a-f]{6})", SITE_CSS).group(1)
    assert manifest["theme_color"] == re.search(r"--surface: (#[0-9a-f]{6})", SITE_CSS).group(1)


def test_the_manifest_icons_exist_at_the_sizes_it_declares():
    icons = json.loads(Client().get("/manifest.webmanifest").content)["icons"]
    raster = {}
    for icon in icons:
        path = static_path(icon["src"])
        if icon["type"] == "image/svg+xml":
            assert icon["sizes"] == "any"
            assert ElementTree.parse(path).getroot().tag.endswith("svg")
            continue
        assert icon["type"] == "image/png"
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert f"{image.width}x{image.height}" == icon["sizes"], icon["src"]
        for purpose in icon.get("purpose", "any").split():
            raster.setdefault(purpose, set()).add(icon["sizes"])
    assert {"192x192", "512x512"} <= raster["any"]
    assert "512x512" in raster["maskable"]


def test_the_maskable_icon_fills_its_square_and_keeps_the_mark_in_the_safe_zone():
    with Image.open(static_path("/static/app/icon-maskable-512.png")) as image:
        rgba = image.convert("RGBA")
    background = rgba.getpixel((0, 0))
    assert background[3] == 255  # no transparent corners: the platform cuts its own shape
    # Anything that is not background lies inside the central circle of 80% (the maskable safe zone).
    for x in range(0, 512, 4):
        for y in range(0, 512, 4):
            if rgba.getpixel((x, y)) != background:
                assert (x - 256) ** 2 + (y - 256) ** 2 <= (0.4 * 512) ** 2, (x, y)


# ---- the service worker --------------------------------------------------------------------------------


def test_the_service_worker_is_served_from_the_root_and_never_kept_by_the_http_cache():
    response = Client().get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    assert response.content.decode() == SW_SOURCE
    assert Client().post("/sw.js").status_code in (403, 405)  # GET only (403: the CSRF check is first)


def precache_list() -> list[str]:
    block = re.search(r"const PRECACHE = \[(.*?)\];", SW_SOURCE, re.DOTALL)
    assert block, "static/app/sw.js: no PRECACHE list"
    return re.findall(r'"([^"]*)"', block.group(1))


def test_the_service_worker_stores_the_app_shell_only():
    urls = precache_list()
    assert "/offline/" in urls and "/static/css/site.css" in urls
    for url in urls:
        assert not url.startswith(CONTENT_PREFIXES), f"{url}: a page with content in the worker's cache"
        assert url == "/offline/" or url == "/manifest.webmanifest" or url.startswith("/static/"), url
        if url.startswith("/static/"):
            static_path(url)  # exists: an install with a missing file would fail as a whole
    # The only write to Cache Storage is the install's addAll of that list: nothing seen at run time
    # (a recap page, a JSON answer) is ever stored.
    assert re.findall(r"\.(put|add|addAll)\(", SW_SOURCE) == ["addAll"]
    assert re.search(r"cache\.addAll\(PRECACHE\.map\(", SW_SOURCE)
    assert 'credentials: "omit"' in SW_SOURCE  # the offline page is fetched signed out


def test_the_service_worker_sends_page_loads_to_the_network_and_shows_the_offline_page_only_on_failure():
    assert re.search(
        r'request\.mode === "navigate"\)\s*\{\s*event\.respondWith\(networkThenOffline', SW_SOURCE
    )
    body = SW_SOURCE[SW_SOURCE.index("async function networkThenOffline") :]
    body = body[: body.index("\n}\n")]
    assert body.index("fetch(event.request)") < body.index("catch") < body.index("caches.match(OFFLINE_URL")
    assert 'if (request.method !== "GET") return;' in SW_SOURCE  # posts are never answered by the worker


def test_the_service_worker_has_a_cache_version_and_deletes_older_caches_on_activate():
    assert re.search(r"const CACHE_VERSION = \d+;", SW_SOURCE)
    assert "const CACHE_NAME = `undertone-shell-v${CACHE_VERSION}`;" in SW_SOURCE
    activate = SW_SOURCE[SW_SOURCE.index('addEventListener("activate"') :]
    assert re.search(r"if \(key !== CACHE_NAME\) await caches\.delete\(key\);", activate)


# ---- the offline page -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_offline_page_needs_no_sign_in_and_says_what_works_offline():
    response = Client().get("/offline/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "You're offline" in body
    assert "Nothing of your recaps is stored on this device" in body
    assert "a new recording can't start while you're offline" in body
    assert "encrypted in this browser, and sends it when the connection returns" in body


@pytest.mark.django_db
def test_the_offline_page_is_the_same_for_everyone(user):
    anonymous = Client().get("/offline/")
    signed_in = Client()
    signed_in.force_login(user)
    response = signed_in.get("/offline/")
    assert response.status_code == 200
    body = response.content.decode()
    assert user.username not in body
    for private in ("csrfmiddlewaretoken", "Log out", "/recaps/", "/capture/"):
        assert private not in body
    assert body == anonymous.content.decode()
    assert "csrftoken" not in response.cookies


# ---- durations ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "words", "iso"),
    [
        (0, "0 s", "PT0S"),
        (42, "42 s", "PT42S"),
        (42.7, "42 s", "PT42S"),
        (60, "1 min", "PT1M"),
        (221, "3 min 41 s", "PT3M41S"),
        ("221", "3 min 41 s", "PT3M41S"),
        (3599, "59 min 59 s", "PT59M59S"),
        (3600, "1 h", "PT1H"),
        (3900, "1 h 5 min", "PT1H5M"),
        (3959, "1 h 5 min", "PT1H5M59S"),  # the words drop seconds past an hour, never round up
        (3 * 3600 + 59, "3 h", "PT3H59S"),
        (None, "0 s", "PT0S"),
        ("", "0 s", "PT0S"),
        ("soon", "0 s", "PT0S"),
        (-5, "0 s", "PT0S"),
    ],
)
def test_duration_in_words(seconds, words, iso):
    assert duration_words(seconds) == words
    assert minutes_words(seconds) == words  # the older name says the same
    assert duration_iso(seconds) == iso


def test_the_duration_include_gives_words_and_a_machine_readable_time():
    html = Template('{% include "recaps/_duration.html" with seconds=s %}').render(Context({"s": 221}))
    assert html == '<time datetime="PT3M41S">3 min 41 s</time>'


# ---- every page ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_page_starts_with_a_skip_link_and_links_the_icons_and_the_manifest():
    body = Client().get("/").content.decode()
    after_body = body[body.index("<body>") :]
    first_focusable = re.search(r"<(a|button|input|select|textarea)\b[^>]*>", after_body).group(0)
    assert first_focusable == '<a class="skip-link" href="#main">'
    assert after_body.index(">Skip to content</a>") < after_body.index('class="topbar"')
    assert re.search(r'<main class="page" id="main"', body)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in body
    assert '<meta name="theme-color" content="#ffffff" media="(prefers-color-scheme: light)">' in body
    assert re.search(
        r'<meta name="theme-color" content="#[0-9a-f]{6}" media="\(prefers-color-scheme: dark\)">', body
    )
    icons = re.findall(r'<link rel="(icon|apple-touch-icon)" href="([^"]+)"', body)
    assert [href for _, href in icons] == [
        "/static/app/favicon.ico",
        "/static/app/favicon.svg",
        "/static/app/apple-touch-icon.png",
    ]
    for _, href in icons:
        if href.endswith(".svg"):
            assert ElementTree.parse(static_path(href)).getroot().tag.endswith("svg")
        else:
            with Image.open(static_path(href)) as image:
                assert image.width >= 32
    assert 'rel="apple-touch-icon" href="/static/app/apple-touch-icon.png"' in body
    assert 'src="/static/app/register-sw.js" id="register-sw" data-sw-url="/sw.js"' in body
    static_path("/static/app/register-sw.js")


def root_variables(block: str) -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", block, re.DOTALL).group(1)
    return dict(re.findall(r"(--[\w-]+):\s*([^;]+);", root))


def test_site_css_has_a_dark_palette_for_every_colour():
    dark_at = SITE_CSS.index("@media (prefers-color-scheme: dark)")
    light, dark = root_variables(SITE_CSS[:dark_at]), root_variables(SITE_CSS[dark_at:])
    colours = {name for name, value in light.items() if value.startswith(("#", "rgba("))}
    assert {"--bg", "--surface", "--text", "--muted", "--accent", "--border"} <= colours
    assert colours <= set(dark), f"no dark value for {sorted(colours - set(dark))}"
    assert all(dark[name] != light[name] for name in colours - {"--shadow"})
    # Outside :root, no colour is written out (a dark page would keep it), except the QR code's card.
    rules = re.sub(r":root\s*\{.*?\}", "", SITE_CSS[:dark_at], flags=re.DOTALL)
    assert re.findall(r"#[0-9a-fA-F]{3,6}\b", rules) == ["#fff"]
    assert ".pair-qr { margin: 0 auto; width: 100%; max-width: 17rem; background: #fff;" in rules
    for css in ("capture/capture.css", "capture/consent.css"):
        assert "@media (prefers-color-scheme: dark)" in (ROOT / "static" / css).read_text(), css
