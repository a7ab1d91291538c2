"""A title in the catalogue: one edition, either an e-book or an audiobook."""

from __future__ import annotations

import unicodedata

from django.db import models
from django.utils.translation import gettext_lazy as _


def search_key(text: str) -> str:
    """Fold case and accents, so that "bronte" finds "Brontë" on SQLite and PostgreSQL alike
    (SQLite's LIKE folds ASCII letters only)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class Title(models.Model):
    """What a patron can borrow. The same work as e-book and as audiobook is two titles."""

    class Kind(models.TextChoices):
        EBOOK = "ebook", _("e-book")
        AUDIOBOOK = "audiobook", _("luisterboek")

    slug = models.SlugField(_("kenmerk in het adres"), max_length=120, unique=True)
    title = models.CharField(_("titel"), max_length=300)
    author = models.CharField(_("auteur"), max_length=200)
    kind = models.CharField(_("soort"), max_length=16, choices=Kind.choices)
    youth = models.BooleanField(_("jeugdtitel"), default=False)
    summary = models.TextField(_("samenvatting"), blank=True)
    language = models.CharField(_("taal"), max_length=8, default="nl")  # ISO 639-1
    year = models.PositiveSmallIntegerField(_("jaar"), null=True, blank=True)
    identifier = models.CharField(_("ISBN"), max_length=20, blank=True)
    narrator = models.CharField(_("voorlezer"), max_length=200, blank=True)
    duration_minutes = models.PositiveIntegerField(_("duur in minuten"), null=True, blank=True)
    # Title and author, case and accents folded: what the search box matches against.
    search_text = models.TextField(editable=False, default="")

    class Meta:
        verbose_name = _("titel")
        verbose_name_plural = _("titels")
        ordering = ["title", "slug"]
        indexes = [
            # The catalogue page filters on kind and youth and sorts by title.
            models.Index(fields=["kind", "youth", "title"], name="title_kind_youth"),
            models.Index(fields=["title", "slug"], name="title_order"),
            models.Index(fields=["author"], name="title_author"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["ebook", "audiobook"]), name="title_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.author})"

    def save(self, *args, **kwargs) -> None:
        self.search_text = search_key(f"{self.title} {self.author}")
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"title", "author"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)

    @property
    def is_audiobook(self) -> bool:
        return self.kind == self.Kind.AUDIOBOOK

    @property
    def duration_text(self) -> str:
        """ "7 u 25 min" for an audiobook, empty otherwise."""
        if not self.duration_minutes:
            return ""
        hours, minutes = divmod(self.duration_minutes, 60)
        return _("%(hours)s u %(minutes)s min") % {"hours": hours, "minutes": minutes}
