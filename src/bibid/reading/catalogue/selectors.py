"""Reading the catalogue: search with filters, one title."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Title, search_key

PAGE_SIZE = 12


def search(*, query: str = "", kind: str = "", youth: bool | None = None) -> QuerySet[Title]:
    """Titles whose title or author contains the text (case and accents ignored), filtered
    by kind ("ebook", "audiobook") and youth, in title order."""
    titles = Title.objects.all()
    words = search_key(query).split()
    for word in words:  # every word must match, in title or author
        titles = titles.filter(search_text__contains=word)
    if kind:
        titles = titles.filter(kind=kind)
    if youth is not None:
        titles = titles.filter(youth=youth)
    return titles.order_by("title", "slug")


def by_slug(slug: str) -> Title | None:
    return Title.objects.filter(slug=slug).first()


def shelf(*, kind: str = "", youth: bool | None = None, size: int = 6) -> list[Title]:
    """A few titles for the start page."""
    return list(search(kind=kind, youth=youth)[:size])
