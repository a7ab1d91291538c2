"""What a relying party's pages ask of the identity service after sign-in.

The tokens live in the patron's session at this service, next to the patron. Rights are
read from the ID token at sign-in, and again from userinfo whenever a page needs them fresh
(`refresh_rights`, before every loan): a library's new authorization counts at once,
without waiting for a token to expire (the seed's "authorize, then check again").
Whether the identity session still exists is checked at most once a minute while the
patron uses the pages (`session_alive`), besides the back-channel logout identity sends.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

import requests
from django.http import HttpRequest

from bibid.common import clock
from bibid.common.http import client_ip, user_agent

from . import clients
from .models import SignIn
from .patron import Patron, PatronRight, forget_patron, get_patron, session_key, set_patron

log = logging.getLogger(__name__)
CHECK_EVERY = timedelta(seconds=60)
TIMEOUT = 5


class IdentityUnavailable(Exception):
    """Identity did not answer: keep what we know, and say nothing is certain."""


def tokens_key(request: HttpRequest) -> str:
    return session_key(request).replace("rp_patron", "rp_tokens", 1)


def patron_from_claims(claims: dict[str, Any]) -> Patron:
    return Patron(
        sub=str(claims["sub"]), username=str(claims.get("preferred_username") or ""),
        rights=tuple(PatronRight.from_claim(r) for r in claims.get("rights") or []),
        rights_read_at=clock.now(),
        libraries=tuple({k: str(v) for k, v in lib.items()}
                        for lib in claims.get("libraries") or []),
    )


def start(request: HttpRequest, config: clients.ClientConfig, token: dict) -> Patron:
    """After a good callback: a new session key (no fixation), the patron, the tokens."""
    claims = dict(token["userinfo"])
    request.session.cycle_key()
    patron = patron_from_claims(claims)
    set_patron(request, patron)
    request.session[tokens_key(request)] = {
        "access_token": token["access_token"], "refresh_token": token.get("refresh_token"),
        "expires_at": int(token.get("expires_at") or 0), "id_token": token.get("id_token"),
        "sid": str(claims.get("sid") or ""), "checked_at": clock.now().timestamp(),
    }
    request.session.save()
    SignIn.objects.create(client_key=config.key, sid=str(claims.get("sid") or ""),
                          sub=patron.sub, session_key=request.session.session_key)
    return patron


def end_here(request: HttpRequest, reason: str) -> dict | None:
    """Forget the patron and tokens in this session; returns the tokens that were there."""
    tokens = request.session.pop(tokens_key(request), None)
    forget_patron(request)
    if request.session.session_key:
        SignIn.objects.filter(session_key=request.session.session_key,
                              client_key=clients.for_request(request).key,
                              ended_at__isnull=True).update(ended_at=clock.now(),
                                                            end_reason=reason)
    return tokens


def _metadata(config: clients.ClientConfig) -> dict:
    try:
        return clients.authlib_client(config).load_server_metadata()
    except requests.RequestException as exc:
        raise IdentityUnavailable from exc


def _refresh(request: HttpRequest, config: clients.ClientConfig, tokens: dict) -> dict | None:
    """New tokens from the refresh token; None when identity refuses (session over)."""
    if not tokens.get("refresh_token"):
        return None
    try:
        response = requests.post(
            _metadata(config)["token_endpoint"], timeout=TIMEOUT,
            auth=(config.client_id, config.client_secret),
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
    except requests.RequestException as exc:
        raise IdentityUnavailable from exc
    if response.status_code in (400, 401):
        return None
    if response.status_code != 200:
        raise IdentityUnavailable(f"token endpoint answered {response.status_code}")
    data = response.json()
    tokens = {**tokens, "access_token": data["access_token"],
              "refresh_token": data.get("refresh_token", tokens["refresh_token"]),
              "expires_at": int(clock.now().timestamp()) + int(data.get("expires_in", 0))}
    request.session[tokens_key(request)] = tokens
    return tokens


def _userinfo(request: HttpRequest) -> dict | None:
    """The claims as identity has them now; None when the identity session has ended."""
    config = clients.for_request(request)
    tokens = request.session.get(tokens_key(request))
    if not tokens:
        return None
    if tokens.get("expires_at", 0) <= clock.now().timestamp() + 5:
        tokens = _refresh(request, config, tokens)
        if tokens is None:
            return None
    for attempt in (1, 2):
        try:
            response = requests.get(
                _metadata(config)["userinfo_endpoint"], timeout=TIMEOUT,
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
        except requests.RequestException as exc:
            raise IdentityUnavailable from exc
        if response.status_code == 200:
            tokens["checked_at"] = clock.now().timestamp()
            request.session[tokens_key(request)] = tokens
            return response.json()
        if response.status_code != 401 or attempt == 2:
            break
        tokens = _refresh(request, config, tokens)  # revoked or expired early: try once
        if tokens is None:
            return None
    if response.status_code == 401:
        return None
    raise IdentityUnavailable(f"userinfo answered {response.status_code}")


def refresh_rights(request: HttpRequest) -> Patron | None:
    """Read the patron's rights again at identity (userinfo), store and return them.

    None when the identity session or the tokens are gone: the patron must sign in again.
    If identity does not answer, the rights read earlier stand (logged): a loan should not
    fail because the login service is briefly away.
    """
    patron = get_patron(request)
    if patron is None:
        return None
    try:
        claims = _userinfo(request)
    except IdentityUnavailable as exc:
        log.warning("identity unavailable, rights as read at %s: %s", patron.rights_read_at, exc)
        return patron
    if claims is None or str(claims.get("sub")) != patron.sub:
        ended(request, "session_check")
        return None
    fresh = replace(patron_from_claims(claims),
                    username=claims.get("preferred_username") or patron.username)
    set_patron(request, fresh)
    return fresh


def session_alive(request: HttpRequest) -> bool | None:
    """Is the identity session behind this patron still there? Told by the back channel
    (the SignIn row ended), or asked of identity at most once a minute. True: yes;
    False: ended (identity said so, or the tokens are gone); None: told by the back channel.
    """
    tokens = request.session.get(tokens_key(request))
    if not tokens or not request.session.session_key:
        return False
    config = clients.for_request(request)
    signin = SignIn.objects.filter(session_key=request.session.session_key,
                                   client_key=config.key).order_by("-created_at").first()
    if signin is None:
        return False
    if signin.ended_at is not None:
        return None
    if clock.now().timestamp() - tokens.get("checked_at", 0) < CHECK_EVERY.total_seconds():
        return True
    patron = get_patron(request)
    try:
        claims = _userinfo(request)
    except IdentityUnavailable as exc:
        log.warning("identity unavailable for the session check: %s", exc)
        return True  # an outage of the login is not a sign-out
    if claims is None or patron is None or str(claims.get("sub")) != patron.sub:
        return False
    set_patron(request, patron_from_claims(claims))
    return True


def ended(request: HttpRequest, reason: str) -> None:
    """The identity session is gone: sign out here too and tell identity for the helpdesk."""
    patron = get_patron(request)
    end_here(request, reason)
    if patron is not None:
        report_event(request, "logout_detected", {"reason": reason}, sub=patron.sub)


def report_event(request: HttpRequest, kind: str, details: dict[str, Any], *,
                 sub: str = "") -> None:
    """Tell identity, for the helpdesk, what happened to this patron (queued; the page
    never waits for it or fails because of it)."""
    from .tasks import send_report

    patron = get_patron(request)
    sub = sub or (patron.sub if patron else "")
    if not sub:
        return
    config = clients.for_request(request)
    try:
        send_report.enqueue(config.key, {
            "sub": sub, "kind": kind, "details": details,
            "browser": user_agent(request), "address": client_ip(request),
        })
    except Exception:
        log.exception("could not queue the %s report", kind)
