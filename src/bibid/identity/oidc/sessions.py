"""Identity sessions and the services signed in through them: start, end, tell.

A `sid` names one identity session (one browser's sign-in). Every service that signs in
through it gets a ServiceSession. When the identity session ends (signing out anywhere, a
new password, the account deleted), each of its service sessions ends: its tokens are
revoked at once, and the service is told through OpenID Connect Back-Channel Logout.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.db import transaction
from django.http import HttpRequest
from oauth2_provider.models import get_refresh_token_model

from bibid.common import clock

from .models import LogoutDelivery, ServiceSession

SID_KEY = "oidc_sid"


def ensure_sid(request: HttpRequest) -> str:
    """The identity session's sid, made when the first service signs in. Random and
    unrelated to the session key: services see the sid, never the key to the session."""
    sid = request.session.get(SID_KEY)
    if not sid:
        sid = secrets.token_urlsafe(24)
        request.session[SID_KEY] = sid
    return sid


def current_sid(request: HttpRequest) -> str:
    session = getattr(request, "session", None)
    return session.get(SID_KEY, "") if session is not None else ""


def end(sessions: Iterable[ServiceSession], reason: str) -> int:
    """End these service sessions: revoke their tokens and queue the logout tokens."""
    from .tasks import deliver_logout

    ended = 0
    deliveries = []
    now = clock.now()
    with transaction.atomic():
        for session in sessions:
            updated = ServiceSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
                ended_at=now, end_reason=reason[:32]
            )
            if not updated:
                continue  # someone else ended it already: tell the service only once
            ended += 1
            # Refresh tokens of this session revoked, its access tokens deleted.
            get_refresh_token_model().revoke_family(session.pk)
            client = getattr(session.application, "bibid_client", None)
            if client is not None and client.backchannel_logout_uri:
                deliveries.append(
                    LogoutDelivery.objects.create(
                        sub=str(session.account.public_id),
                        sid=session.sid,
                        client_id=session.application.client_id,
                        uri=client.backchannel_logout_uri,
                    )
                )
        for delivery in deliveries:
            transaction.on_commit(lambda pk=delivery.pk: deliver_logout.enqueue(pk))
    return ended


def _live(**filters):
    return ServiceSession.objects.filter(ended_at__isnull=True, **filters).select_related(
        "application__bibid_client", "account"
    )


def end_sid(sid: str, reason: str) -> int:
    return end(list(_live(sid=sid)), reason) if sid else 0


def end_for_account(account, reason: str, *, keep_sid: str = "") -> int:
    sessions = _live(account=account)
    if keep_sid:
        sessions = sessions.exclude(sid=keep_sid)
    return end(list(sessions), reason)


def signed_in_services(sid: str) -> list[ServiceSession]:
    return list(_live(sid=sid).order_by("created_at")) if sid else []
