"""Covers drawn by the service: an SVG per title, its colours and shapes taken from a hash of
the slug, so that a title always looks the same and no image comes from elsewhere."""

from __future__ import annotations

import colorsys
import hashlib
import re
import textwrap
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 200, 300
# Characters XML 1.0 does not allow at all: a title with one would make the whole file invalid.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_HEADPHONES = (
    "M-9 3v-3a9 9 0 0 1 18 0v3M-9 2h-2a1 1 0 0 0-1 1v5a1 1 0 0 0 1 1h3v-7zM9 2h2a1 1 0 0 1 1 1v5"
    "a1 1 0 0 1-1 1h-3v-7z"
)


def _text(value: str) -> str:
    """Escape text for an element or a double-quoted attribute."""
    return escape(_NOT_XML.sub("", value), {'"': "&quot;"})


def _colour(hue: float, lightness: float, saturation: float) -> str:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, lightness, saturation)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def _shapes(digest: bytes, light: str, dark: str) -> list[str]:
    """A pattern in the top part of the cover: circles, stripes, triangles or rings."""
    pattern = digest[3] % 4
    shapes: list[str] = []
    for i in range(6):
        a, b, c = digest[4 + 3 * i], digest[5 + 3 * i], digest[6 + 3 * i]
        x, y = a * WIDTH // 255, b * 130 // 255
        size = 12 + c % 40
        fill = light if i % 2 else dark
        if pattern == 0:
            shapes.append(
                f'<circle cx="{x}" cy="{y}" r="{size}" fill="{fill}" fill-opacity="0.55"/>'
            )
        elif pattern == 1:
            shapes.append(
                f'<rect x="-20" y="{y}" width="{WIDTH + 40}" height="{size // 3 + 4}" '
                f'fill="{fill}" fill-opacity="0.5" '
                f'transform="rotate({c % 30 - 15} {WIDTH // 2} {y})"/>'
            )
        elif pattern == 2:
            shapes.append(
                f'<polygon points="{x},{y} {x + size},{y + size * 2} '
                f'{x - size},{y + size * 2}" fill="{fill}" fill-opacity="0.5"/>'
            )
        else:
            shapes.append(
                f'<circle cx="{x}" cy="{y}" r="{size}" fill="none" stroke="{fill}" '
                f'stroke-width="{3 + c % 6}" stroke-opacity="0.7"/>'
            )
    return shapes


def _lines(text: str, width: int, most: int) -> list[str]:
    """Wrap between words; a word longer than a line is broken only past 1.5 lines."""
    lines = textwrap.wrap(text, width=width, break_long_words=False) or [""]
    if any(len(line) > width * 3 // 2 for line in lines):
        lines = textwrap.wrap(text, width=width * 3 // 2, break_long_words=True)
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines


def _font_size(lines: list[str], largest: int, room: int) -> int:
    """Smaller type for a long line, so that it fits the panel (a serif letter is about
    0.55 em wide)."""
    longest = max(len(line) for line in lines)
    return max(9, min(largest, int(room / (0.55 * max(longest, 1)))))


def cover_svg(*, slug: str, title: str, author: str, audiobook: bool = False) -> str:
    """The cover of one title as an SVG document (deterministic: same input, same bytes)."""
    digest = hashlib.sha256(slug.encode()).digest()
    hue = int.from_bytes(digest[0:2], "big") / 65535
    background = _colour(hue, 0.30, 0.55)
    light = _colour(hue + 0.08 + digest[2] / 2550, 0.62, 0.65)
    dark = _colour(hue - 0.1, 0.18, 0.5)

    title_lines = _lines(title, 15, 4)
    author_lines = _lines(author, 24, 2)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{_text(title)}">',
        f"<title>{_text(title)} · {_text(author)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{background}"/>',
        *_shapes(digest, light, dark),
        # A light panel under the text, so that it reads on every background colour.
        f'<rect x="14" y="132" width="{WIDTH - 28}" height="150" rx="6" fill="#fbfaf7"/>',
        f'<rect x="14" y="132" width="{WIDTH - 28}" height="6" fill="{dark}"/>',
        '<g font-family="Georgia, \'Times New Roman\', serif" fill="#1b1f24" text-anchor="middle">',
    ]
    size = _font_size(title_lines, 17, WIDTH - 48)
    y = 164 + size
    for line in title_lines:
        parts.append(
            f'<text x="{WIDTH // 2}" y="{y}" font-size="{size}" font-weight="700">'
            f"{_text(line)}</text>"
        )
        y += size + 4
    y = max(y + 8, 246)
    small = _font_size(author_lines, 12, WIDTH - 48)
    for line in author_lines:
        parts.append(
            f'<text x="{WIDTH // 2}" y="{y}" font-size="{small}" fill="#3d434b">'
            f"{_text(line)}</text>"
        )
        y += small + 3
    parts.append("</g>")
    if audiobook:
        parts.append(
            f'<g transform="translate({WIDTH - 30} 30)"><circle r="18" fill="#fbfaf7"/>'
            f'<path d="{_HEADPHONES}" fill="none" stroke="{dark}" stroke-width="2.2" '
            'stroke-linejoin="round"/></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
