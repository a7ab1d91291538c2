"""Identity sessions and the services signed in through them: start, end, tell.

A `sid` names one identity session (one browser's sign-in). Every service that signs in
through it gets one ServiceSession, which its later sign-ins in that identity session join.
When the identity session ends (signing out anywhere, a new password, the account deleted),
each of its service sessions ends: its tokens are revoked at once, and the service is told
through OpenID Connect Back-Channel Logout, once per sid. A replayed authorization code
ends the service session it was given in (RFC 6749 4.1.2).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import cache

from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest
from oauth2_provider.models import get_refresh_token_model

from bibid.common import clock

from .models import IssuedCode, LogoutDelivery, ServiceSession

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


def join(*, sid: str, account, application, expires_at: datetime) -> ServiceSession:
    """The live session of this service in this identity session: made by the service's
    first sign-in there, joined by each later one (which carries it to the identity
    session's current end). Called inside the transaction that stores the new code."""
    live = ServiceSession.objects.select_for_update().filter(
        sid=sid, application=application, ended_at__isnull=True
    )
    session = live.first()
    if session is not None and (session.account_id != account.pk or not session.is_live()):
        # Not to be joined: another account (a sid is never reused, so this is a guard)
        # or past its end, whose tokens are refused already and must stay so. Closed
        # without a logout token: one now would reach the service after this new sign-in
        # and, naming the same sid, sign the patron out of it.
        get_refresh_token_model().revoke_family(session.pk)
        live.filter(pk=session.pk).update(ended_at=clock.now(), end_reason="superseded")
        session = None
    if session is None:
        try:
            with transaction.atomic():
                return ServiceSession.objects.create(
                    sid=sid, account=account, application=application, expires_at=expires_at
                )
        except IntegrityError:
            # Another tab of this browser signed in to the same service a moment ago
            # (the unique constraint on live sessions): join that one.
            session = live.get()
    if session.expires_at < expires_at:
        session.expires_at = expires_at
        session.save(update_fields=["expires_at"])
    return session


@cache
def _join_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    table = quote(ServiceSession._meta.db_table)
    # The partial unique index on live sessions (sid, application) is the conflict target:
    # a later sign-in joins the live session, carrying it to the identity session's
    # current end. The WHERE leaves a session of another account or past its end alone
    # (no row comes back): `join` then decides, as before.
    return (
        f"INSERT INTO {table} (id, sid, account_id, application_id, created_at, expires_at,"  # noqa: S608
        " ended_at, end_reason, amr) VALUES (%s, %s, %s, %s, %s, %s, NULL, '', %s)"
        " ON CONFLICT (sid, application_id) WHERE ended_at IS NULL DO UPDATE SET"
        f" expires_at = CASE WHEN excluded.expires_at > {table}.expires_at"
        f" THEN excluded.expires_at ELSE {table}.expires_at END, amr = excluded.amr"
        f" WHERE {table}.account_id = excluded.account_id AND {table}.expires_at > %s"
        " RETURNING id"
    )


def join_for_code(issued) -> ServiceSession:
    """`join` for a code being exchanged, in one statement (an upsert) when the service's
    live session in this identity session can simply be joined or made."""
    fields = {f.name: f for f in ServiceSession._meta.fields}
    now = clock.now()
    new_id = uuid.uuid4()
    params = [
        fields["id"].get_db_prep_value(new_id, connection),
        issued.sid,
        issued.account_id,
        issued.application_id,
        fields["created_at"].get_db_prep_value(now, connection),
        fields["expires_at"].get_db_prep_value(issued.session_expires_at, connection),
        fields["amr"].get_db_prep_save(issued.amr, connection),
        fields["expires_at"].get_db_prep_value(now, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_join_sql(connection.vendor), params)
        row = cursor.fetchone()
    if row is None:
        session = join(
            sid=issued.sid,
            account=issued.account,
            application=issued.application,
            expires_at=issued.session_expires_at,
        )
        if session.amr != issued.amr:
            session.amr = issued.amr
            session.save(update_fields=["amr"])
        return session
    (key,) = row
    # What the token request needs of it (its key is the tokens' family); the row's
    # expires_at may be later than this code's (a later sign-in carried it further).
    return ServiceSession(
        id=key if isinstance(key, uuid.UUID) else uuid.UUID(str(key)),
        sid=issued.sid,
        account_id=issued.account_id,
        application_id=issued.application_id,
        created_at=now,
        expires_at=issued.session_expires_at,
        amr=issued.amr,
    )


def end_after_lost_code(session_pk) -> None:
    """A code's exchange found it used up or deleted after the tokens were saved in its
    session's family: the session ends and its tokens go, even when it had ended already
    (those tokens were written after its end revoked the others)."""
    get_refresh_token_model().revoke_family(session_pk)
    end(list(_live(pk=session_pk)), "code_replayed")


def _drop_pending_codes(**filters) -> None:
    # A code given in an identity session that has ended must not start a new service
    # session when it is exchanged a moment later.
    IssuedCode.objects.filter(exchanged_at__isnull=True, **filters).delete()


def end_for_replayed_code(*, code: str, application) -> int:
    """A code already exchanged was presented again by its own service (RFC 6749 4.1.2:
    deny it, and revoke the tokens it yielded): end the service session it was given in,
    which revokes them all and tells the service.

    Only the service the code was given to can do this (it must authenticate first), so a
    stranger holding an old code cannot sign a patron out of a service."""
    issued = (
        IssuedCode.objects.filter(code_hash=IssuedCode.hash(code), session__application=application)
        .select_related("session__application__bibid_client", "session__account")
        .first()
    )
    if issued is None or issued.exchanged_at is None or issued.session is None:
        return 0  # never given, or not exchanged yet (expired, or the wrong verifier)
    return end([issued.session], "code_replayed")


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
    if not sid:
        return 0
    _drop_pending_codes(sid=sid)
    return end(list(_live(sid=sid)), reason)


def end_for_account(account, reason: str, *, keep_sid: str = "") -> int:
    sessions = _live(account=account)
    codes = IssuedCode.objects.filter(exchanged_at__isnull=True, account=account)
    if keep_sid:
        sessions = sessions.exclude(sid=keep_sid)
        codes = codes.exclude(sid=keep_sid)
    codes.delete()
    return end(list(sessions), reason)


def end_for_accounts(accounts: Iterable, reason: str) -> int:
    """`end_for_account` for many accounts at once, in one query (the purge deletes accounts
    in batches of 500: a query per account made it 80 % of the purge's time)."""
    keys = [account.pk for account in accounts]
    _drop_pending_codes(account__in=keys)
    return end(list(_live(account__in=keys)), reason)


def signed_in_services(sid: str) -> list[ServiceSession]:
    return list(_live(sid=sid).order_by("created_at")) if sid else []
