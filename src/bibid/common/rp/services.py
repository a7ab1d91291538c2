"""What a relying party's pages ask of the identity service after sign-in."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .patron import Patron


def refresh_rights(request: HttpRequest) -> Patron | None:
    """Read the patron's rights again at identity (userinfo), store and return them.

    None when the identity session or the tokens are gone: the patron must sign in again.
    """
    raise NotImplementedError  # WIP (issue 6): built with the sign-in


def report_event(request: HttpRequest, kind: str, details: dict[str, Any]) -> None:
    """Tell identity, for the helpdesk, what happened to this patron (queued, retried)."""
    raise NotImplementedError  # WIP (issue 6): built with the sign-in
