"""Every environment variable the code reads is in the README's configuration table (an
operator at 3 a.m. reads the README, not the settings modules). Read from the source, so a
new `env.int("BIBID_…")` without its row fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# How the code reads a variable by its literal name: django-environ's `env.<type>("X")` and
# `env("X")`, `os.environ.get("X")`, `os.environ["X"]`.
TYPES = "str|int|float|bool|list|url|db_url|cache_url|email_url|json|dict|path"
READS = re.compile(
    rf"""(?:\benv(?:\.(?:{TYPES}))?\(|environ\.get\(|environ\[)\s*["']"""
    r"""([A-Z][A-Z0-9_]+)["']"""
)
# Not settings an operator gives: the WSGI request's keys, Django's own module variable, and
# the metrics directory `bibid up` sets for its own processes.
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE", "PATH_INFO", "PROMETHEUS_MULTIPROC_DIR"}


def read_by_the_code() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "src" / "bibid").rglob("*.py"):
        names.update(READS.findall(path.read_text(encoding="utf-8")))
    return {n for n in names if n not in NOT_SETTINGS and not n.startswith("HTTP_")}


def in_the_readme_table() -> set[str]:
    rows = [
        line
        for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    ]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)}


def test_every_variable_the_code_reads_is_in_the_readme_table():
    found = read_by_the_code()
    assert len(found) > 20  # the scan works (it finds the settings it should)
    assert {"BIBID_IDENTITY_TIMEOUT", "EMAIL_URL", "BIBID_METRICS_TOKEN"} <= found
    missing = sorted(found - in_the_readme_table())
    assert not missing, f"not in the README's configuration table: {missing}"


# Markdown links and images: [text](target) and ![alt](target).
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def test_the_readme_and_docs_link_only_to_files_in_the_repository():
    """A plain clone has no sibling folders: every relative link of the README and the docs
    must resolve inside the repository (the domain, the architecture and the procedure live
    in docs/, not in ../shared)."""
    broken = []
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for document in documents:
        for target in LINK.findall(document.read_text(encoding="utf-8")):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # an absolute URL (http:, mailto:) or an anchor on the same page
            path = (document.parent / target.split("#", 1)[0]).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                broken.append(f"{document.relative_to(ROOT)}: {target}")
    assert len(documents) > 3 and not broken, broken
