"""Draws the app icons in static/app/ (the installable web app: manifest icons, apple-touch-icon,
favicon.ico) from one simple mark in the site's colours: a "U" with a line under it. favicon.svg is the
same mark by hand. Run again only to change the mark: `.venv/bin/python scripts/make_app_icons.py`."""

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "static" / "app"
ACCENT = (61, 107, 94, 255)  # --accent #3d6b5e
LIGHT = (247, 245, 242, 255)  # --bg #f7f5f2
SOFT = (169, 207, 193, 255)  # #a9cfc1, the line under the U
SCALE = 8  # drawn large, then scaled down: smooth edges without an SVG renderer


def mark(size: int, *, full_bleed: bool, content: float) -> Image.Image:
    """The mark on a size x size canvas. content: the share of the side the mark's 64-unit box takes
    (1.0 = the favicon's layout; less leaves the safe zone a maskable icon needs)."""
    big = size * SCALE
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    if full_bleed:
        draw.rectangle((0, 0, big, big), fill=ACCENT)
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=round(big * 14 / 64), fill=ACCENT)
    unit = big * content / 64
    off = (big - 64 * unit) / 2

    def p(v: float) -> float:
        return off + v * unit

    stroke = 7 * unit
    half = stroke / 2
    # The U: two stems (x 21 and 43, from y 15 to 31, overlapping the arc) and the half circle that
    # joins them (centre 32,30; radius 11).
    for x in (21, 43):
        draw.rectangle((p(x) - half, p(15), p(x) + half, p(31)), fill=LIGHT)
        draw.ellipse((p(x) - half, p(15) - half, p(x) + half, p(15) + half), fill=LIGHT)  # round cap
    box = (p(21) - half, p(19) - half, p(43) + half, p(41) + half)
    draw.arc(box, 0, 180, fill=LIGHT, width=round(stroke))
    # The line under it.
    line = 5 * unit
    box = (p(22) - line / 2, p(51) - line / 2, p(42) + line / 2, p(51) + line / 2)
    draw.rounded_rectangle(box, radius=line / 2, fill=SOFT)
    return img.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        mark(size, full_bleed=False, content=1.0).save(OUT / f"icon-{size}.png", optimize=True)
    # Maskable: the background fills the square, the mark stays inside the central safe circle (80%).
    mark(512, full_bleed=True, content=0.85).save(OUT / "icon-maskable-512.png", optimize=True)
    # iOS rounds the corners itself and shows transparency as black: full bleed, no alpha.
    mark(180, full_bleed=True, content=0.8).convert("RGB").save(OUT / "apple-touch-icon.png", optimize=True)
    mark(256, full_bleed=False, content=1.0).save(OUT / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])


if __name__ == "__main__":
    main()
