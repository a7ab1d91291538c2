"""What a person sees of a page or an SVG: its text without tags and attribute values, and
the codes (finding codes, right codes) that must never be part of it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from xml.etree import ElementTree

from bibid.common import words

SVG = "{http://www.w3.org/2000/svg}"


class _Text(HTMLParser):
    """The character data of a page, outside <script> and <style> (attributes, ids and
    data attributes are where codes may stay)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def svg_text(svg: str) -> str:
    """Every text an SVG shows or announces (<text>, <title>, <desc>); parsing it also
    proves it is well-formed XML."""
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own output, not untrusted input
    found = [
        "".join(element.itertext())
        for element in root.iter()
        if element.tag in (f"{SVG}text", f"{SVG}title", f"{SVG}desc")
    ]
    return re.sub(r"\s+", " ", " ".join(found))


def codes_in(text: str, codes: frozenset[str] | set[str]) -> list[str]:
    """The codes that occur in `text` as a whole word. A right code that is also its own
    word in the active language (English "audiobooks") is a word there, not a code."""
    own_words = {str(name) for name in words.RIGHT_NAMES.values()}  # in the active language
    return sorted(
        code
        for code in codes
        if code not in own_words and re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text)
    )
