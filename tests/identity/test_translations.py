"""The English catalogues are complete and their compiled files match the sources."""

from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted(ROOT.glob("src/bibid/*/locale/en/LC_MESSAGES/django.po"))


def test_there_are_catalogues():
    assert {p.parts[-5] for p in CATALOGUES} == {"common", "identity", "library", "reading"}


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.parts[-5])
def test_every_string_has_an_english_translation(path):
    po = polib.pofile(str(path))
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.parts[-5])
def test_compiled_catalogue_is_up_to_date(path):
    source = {
        (e.msgid, e.msgid_plural): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
        for e in polib.pofile(str(path))
        if not e.obsolete
    }
    compiled = {
        (e.msgid, e.msgid_plural): (e.msgstr, tuple(sorted(e.msgstr_plural.items())))
        for e in polib.mofile(str(path.with_suffix(".mo")))
        if e.msgid
    }
    source.pop(("", ""), None)
    assert compiled == source, "run scripts/messages to recompile the .mo files"
