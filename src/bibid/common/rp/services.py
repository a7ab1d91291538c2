"""What a relying party's pages ask of the identity service after sign-in.

The patron lives in this service's session; the tokens in a SignIn row (sealed). Rights
are read from the ID token at sign-in, and again from userinfo whenever a page needs them
fresh (`refresh_rights`, before every loan): a library's new authorization counts at once,
without waiting for a token to expire (the seed's "authorize, then check again").
Whether the identity session still exists is checked at most once a minute while the
patron uses the pages (`session_alive`), besides the back-channel logout identity sends.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

import requests
from django.db import transaction
from django.http import HttpRequest

from bibid.common import clock, requestid
from bibid.common.http import client_ip, user_agent
from bibid.common.sealing import seal, unseal

from . import clients
from .models import SignIn
from .patron import Patron, PatronRight, forget_patron, get_patron, session_key, set_patron

log = logging.getLogger(__name__)
CHECK_EVERY = timedelta(seconds=60)
TIMEOUT = 5


class IdentityUnavailable(Exception):
    """Identity did not answer: keep what we know, and say nothing is certain."""


def signin_key(request: HttpRequest) -> str:
    return session_key(request).replace("rp_patron", "rp_signin", 1)


def patron_from_claims(claims: dict[str, Any]) -> Patron:
    return Patron(
        sub=str(claims["sub"]),
        username=str(claims.get("preferred_username") or ""),
        rights=tuple(PatronRight.from_claim(r) for r in claims.get("rights") or []),
        rights_read_at=clock.now(),
        libraries=tuple(
            {k: str(v) for k, v in lib.items()} for lib in claims.get("libraries") or []
        ),
        amr=_amr(claims.get("amr")),
        acr=str(claims.get("acr") or ""),
    )


def _amr(value: Any) -> tuple[str, ...]:
    # RFC 8176: a JSON array of strings; anything else is ignored (then: the password).
    if not isinstance(value, list):
        return ()
    return tuple(str(x) for x in value if isinstance(x, str))


def _now() -> int:
    return int(clock.now().timestamp())


def _tokens(signin: SignIn) -> dict:
    return json.loads(unseal(signin.tokens_sealed)) if signin.tokens_sealed else {}


def _store(signin: SignIn, tokens: dict, *, expires_at: int, checked: bool) -> None:
    signin.tokens_sealed = seal(json.dumps(tokens))
    signin.expires_at = expires_at
    fields = ["tokens_sealed", "expires_at"]
    if checked:
        signin.checked_at = _now()
        fields.append("checked_at")
    signin.save(update_fields=fields if signin.pk else None)


def start(request: HttpRequest, config: clients.ClientConfig, token: dict) -> Patron:
    """After a good callback: a new session key (no fixation), the patron, the tokens."""
    claims = dict(token["userinfo"])
    request.session.cycle_key()
    patron = patron_from_claims(claims)
    set_patron(request, patron)
    request.session.save()
    signin = SignIn(
        client_key=config.key,
        sid=str(claims.get("sid") or ""),
        sub=patron.sub,
        session_key=request.session.session_key,
    )
    _store(
        signin,
        {k: token.get(k) for k in ("access_token", "refresh_token", "id_token")},
        expires_at=int(token.get("expires_at") or 0),
        checked=True,
    )
    request.session[signin_key(request)] = signin.pk
    return patron


def _signin(request: HttpRequest, *, for_update: bool = False) -> SignIn | None:
    pk = request.session.get(signin_key(request))
    if not pk:
        return None
    rows = SignIn.objects.select_for_update() if for_update else SignIn.objects
    return rows.filter(pk=pk, session_key=request.session.session_key).first()


def end_here(request: HttpRequest, reason: str) -> dict:
    """Forget the patron in this session, end its sign-in; returns the tokens it had."""
    signin = _signin(request)
    tokens = _tokens(signin) if signin else {}
    if signin is not None and signin.ended_at is None:
        SignIn.objects.filter(pk=signin.pk).update(
            ended_at=clock.now(), end_reason=reason, tokens_sealed=""
        )
    request.session.pop(signin_key(request), None)
    forget_patron(request)
    return tokens


def _metadata(config: clients.ClientConfig) -> dict:
    try:
        return clients.authlib_client(config).load_server_metadata()
    except requests.RequestException as exc:
        raise IdentityUnavailable from exc


def _refresh(config: clients.ClientConfig, signin: SignIn, tokens: dict) -> dict | None:
    """New tokens from the refresh token; None when identity refuses (session over)."""
    if not tokens.get("refresh_token"):
        return None
    try:
        response = requests.post(
            _metadata(config)["token_endpoint"],
            timeout=TIMEOUT,
            auth=(config.client_id, config.client_secret),
            headers=requestid.outgoing_headers(),
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
    except requests.RequestException as exc:
        raise IdentityUnavailable from exc
    if response.status_code in (400, 401):
        return None
    if response.status_code != 200:
        raise IdentityUnavailable(f"token endpoint answered {response.status_code}")
    data = response.json()
    tokens = {
        "access_token": data["access_token"],
        "refresh_token": data.get("refresh_token", tokens["refresh_token"]),
        "id_token": data.get("id_token") or tokens.get("id_token"),
    }
    _store(signin, tokens, expires_at=_now() + int(data.get("expires_in", 0)), checked=False)
    return tokens


def _fresh_tokens(
    config: clients.ClientConfig, request: HttpRequest, *, force: bool = False
) -> dict | None:
    """A usable access token, refreshed if it (nearly) expired or `force`. One request at a
    time per sign-in: the row lock makes a second tab wait and then use the new tokens."""
    with transaction.atomic():
        signin = _signin(request, for_update=True)
        if signin is None or signin.ended_at is not None:
            return None
        tokens = _tokens(signin)
        if force or signin.expires_at <= _now() + 5:
            return _refresh(config, signin, tokens)
        return tokens


def _userinfo(request: HttpRequest) -> dict | None:
    """The claims as identity has them now; None when the identity session has ended."""
    config = clients.for_request(request)
    tokens = _fresh_tokens(config, request)
    for attempt in (1, 2):
        if tokens is None:
            return None
        try:
            response = requests.get(
                _metadata(config)["userinfo_endpoint"],
                timeout=TIMEOUT,
                headers={
                    "Authorization": f"Bearer {tokens['access_token']}",
                    **requestid.outgoing_headers(),
                },
            )
        except requests.RequestException as exc:
            raise IdentityUnavailable from exc
        if response.status_code == 200:
            SignIn.objects.filter(pk=request.session.get(signin_key(request))).update(
                checked_at=_now()
            )
            return response.json()
        if response.status_code != 401:
            raise IdentityUnavailable(f"userinfo answered {response.status_code}")
        if attempt == 1:  # revoked or expired early: one refresh, then give up
            tokens = _fresh_tokens(config, request, force=True)
    return None


def _keep(request: HttpRequest, patron: Patron, claims: dict[str, Any]) -> Patron:
    """Store the patron as identity now describes them (the username as known if absent)."""
    fresh = replace(
        patron_from_claims(claims),
        username=claims.get("preferred_username") or patron.username,
        # userinfo does not say how the patron signed in: keep what the ID token said.
        amr=patron.amr,
        acr=patron.acr,
    )
    set_patron(request, fresh)
    request.rp_rights_fresh = True  # read at identity during this request
    return fresh


def refresh_rights(request: HttpRequest) -> Patron | None:
    """Read the patron's rights again at identity (userinfo), store and return them.

    None when the identity session or the tokens are gone: the patron must sign in again.
    If identity does not answer, the rights read earlier stand (logged): a loan should not
    fail because the login service is briefly away.
    """
    patron = get_patron(request)
    if patron is None:
        return None
    if getattr(request, "rp_rights_fresh", False):
        # The once-a-minute session check of this same request has just read them: a second
        # userinfo call would only double the load on identity.
        return patron
    try:
        claims = _userinfo(request)
    except IdentityUnavailable as exc:
        log.warning("identity unavailable, rights as read at %s: %s", patron.rights_read_at, exc)
        return patron
    if claims is None or str(claims.get("sub")) != patron.sub:
        ended(request, "session_check")
        return None
    return _keep(request, patron, claims)


def session_alive(request: HttpRequest) -> bool | None:
    """Is the identity session behind this patron still there? Told by the back channel
    (the SignIn row ended), or asked of identity at most once a minute. True: yes;
    False: ended (identity said so, or the sign-in is gone); None: told by the back channel.
    """
    signin = _signin(request)
    if signin is None:
        return False
    if signin.ended_at is not None:
        return None
    if _now() - signin.checked_at < CHECK_EVERY.total_seconds():
        return True
    patron = get_patron(request)
    try:
        claims = _userinfo(request)
    except IdentityUnavailable as exc:
        log.warning("identity unavailable for the session check: %s", exc)
        return True  # an outage of the login is not a sign-out
    if claims is None or patron is None or str(claims.get("sub")) != patron.sub:
        return False
    _keep(request, patron, claims)
    return True


def check_session(request: HttpRequest) -> None:
    """Once per request: if the patron's identity session has ended, sign out here and
    remember that it happened (`request.rp_logout_detected`) for the LOGOUT_DETECTED page."""
    if getattr(request, "rp_checked", False):
        return
    request.rp_checked = True
    request.rp_logout_detected = False
    if get_patron(request) is None:
        return
    alive = session_alive(request)
    if not alive:
        ended(request, "backchannel" if alive is None else "session_check")
        request.rp_logout_detected = True


def ended(request: HttpRequest, reason: str) -> None:
    """The identity session is gone: sign out here too and tell identity for the helpdesk."""
    patron = get_patron(request)
    end_here(request, reason)
    if patron is not None:
        report_event(request, "logout_detected", {"reason": reason}, sub=patron.sub)


def report_event(
    request: HttpRequest, kind: str, details: dict[str, Any], *, sub: str = ""
) -> None:
    """Tell identity, for the helpdesk, what happened to this patron (queued; the page
    never waits for it or fails because of it)."""
    from .tasks import send_report

    patron = get_patron(request)
    sub = sub or (patron.sub if patron else "")
    if not sub:
        return
    config = clients.for_request(request)
    try:
        send_report.enqueue(
            config.key,
            {
                "sub": sub,
                "kind": kind,
                "details": details,
                "browser": user_agent(request),
                "address": client_ip(request),
            },
        )
    except Exception:
        log.exception("could not queue the %s report", kind)
