"""The library API's operations: thin; each parses, calls one operation, shapes the answer."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import get_language
from ninja import Path, Query, Router, Status

from bibid.common import clock
from bibid.common.api import ProblemOut
from bibid.identity.accounts.models import AccountEvent
from bibid.identity.accounts.services import record_event
from bibid.identity.libraries import linking, services
from bibid.identity.libraries.models import Change, Link
from bibid.identity.libraries.rights import Authorization, Right

from . import idempotency, selectors
from .auth import read, write
from .schemas import (
    CUSTOMER_REF_PATTERN,
    AccountOut,
    ActivateOut,
    AuthorizeIn,
    AuthorizeOut,
    BulkIn,
    BulkOut,
    ChangesOut,
    GenerateIn,
    GenerateOut,
    HistoryOut,
    LinkConfirmIn,
    LinkIn,
    LinkRequestOut,
    RecoveryEmailIn,
    ResultOut,
    RightsOut,
    SettingsIn,
    SettingsOut,
    StatusOut,
)

router = Router(tags=["login accounts"])
Ref = Path(..., pattern=CUSTOMER_REF_PATTERN, description="The library's own customer reference.")
ERRORS = {400: ProblemOut, 401: ProblemOut, 403: ProblemOut, 404: ProblemOut}
CHANGING = {**ERRORS, 409: ProblemOut, 413: ProblemOut, 422: ProblemOut, 423: ProblemOut}


def _language(payload_language: str | None = None) -> str:
    return payload_language or (get_language() or "nl")[:2]


def _viewed(request: HttpRequest, link, what: str) -> None:
    record_event(
        account=link.account,
        kind=AccountEvent.Kind.VIEWED,
        actor=request.library_actor,
        data={"library": request.library.code, "what": what},
    )


def _account(link) -> dict:
    return selectors.account_out(link, selectors.links_of(link.account))


def _authorization(payload: AuthorizeIn) -> Authorization:
    return Authorization(
        customer=payload.customer.model_dump(exclude_none=True),
        rights=tuple(
            Right(
                code=r.code,
                valid_from=r.valid_from,
                valid_until=r.valid_until,
                limits=tuple(sorted(r.limits.items())),
            )
            for r in payload.rights
        ),
    )


@router.get(
    "/customers/{ref}/account",
    auth=read,
    operation_id="account_show",
    response={200: AccountOut, **ERRORS},
    summary="Show login account (Toon inlogaccount gegevens)",
)
def account_show(request: HttpRequest, ref: str = Ref):
    link = services.get_link(request.library, ref)
    _viewed(request, link, "account")
    return Status(200, _account(link))


@router.post(
    "/customers/{ref}/account",
    auth=write,
    operation_id="account_generate",
    response={201: GenerateOut, 200: GenerateOut, **CHANGING},
    summary="Generate login account (Genereer inlogaccount)",
)
def account_generate(request: HttpRequest, payload: GenerateIn, ref: str = Ref):
    """Create an inactive account for the customer, linked to it, and queue the activation
    e-mail. The username defaults to the customer reference (the card number)."""

    def run():
        done = services.generate(
            library=request.library,
            customer_ref=ref,
            username=payload.username,
            recovery_email=payload.recovery_email or "",
            language=_language(payload.language),
            fall_back_to_reference=payload.if_username_taken == "use_reference",
            actor=request.library_actor,
        )
        return 201, {
            "result": "generated",
            "activation_mail": done.activation_mail,
            "username_was_taken": done.username_was_taken,
            "account": _account(done.link),
        }

    return idempotency.run(request, run)


@router.post(
    "/customers/{ref}/link",
    auth=write,
    operation_id="account_link",
    response={202: LinkRequestOut, **CHANGING, 429: ProblemOut},
    summary="Ask to link an existing login account (Koppel inlogaccount)",
)
def account_link(request: HttpRequest, payload: LinkIn, ref: str = Ref):
    """Open a link request: the patron must agree, by the code mailed to the account's
    confirmed recovery address or by signing in on `handover_url`; then call
    `/link/confirm`. The answer is the same whether or not the username exists."""

    def run():
        found = linking.request_link(
            library=request.library,
            customer_ref=ref,
            username=payload.username,
            actor=request.library_actor,
            language=_language(),
        )
        return 202, {
            "result": "confirmation_needed",
            "request_id": found.id,
            "expires_at": found.expires_at,
            "handover_url": settings.BIBID_PUBLIC_URLS["identity"]
            + reverse("handover:link", args=[found.id]),
        }

    return idempotency.run(request, run)


@router.post(
    "/customers/{ref}/link/confirm",
    auth=write,
    operation_id="account_link_confirm",
    response={201: ResultOut, **CHANGING, 410: ProblemOut},
    summary="Complete a link the patron agreed to",
)
def account_link_confirm(request: HttpRequest, payload: LinkConfirmIn, ref: str = Ref):
    """With the code the patron read out, or without one after the patron signed in on the
    handover page. Five wrong codes void the request; it lives 15 minutes."""

    def run():
        link = linking.confirm_link(
            library=request.library,
            customer_ref=ref,
            request_id=str(payload.request_id),
            code=payload.code,
            actor=request.library_actor,
        )
        return 201, {"result": "linked", "account": _account(link)}

    return idempotency.run(request, run)


@router.delete(
    "/customers/{ref}/link",
    auth=write,
    operation_id="account_unlink",
    response={200: ResultOut, **CHANGING},
    summary="Unlink the login account",
)
def account_unlink(request: HttpRequest, ref: str = Ref):
    def run():
        services.unlink(library=request.library, customer_ref=ref, actor=request.library_actor)
        return 200, {"result": "unlinked", "account": None}

    return idempotency.run(request, run)


@router.post(
    "/customers/{ref}/activate",
    auth=write,
    operation_id="account_activate",
    response={200: ActivateOut, **CHANGING},
    summary="Activate login account (Activeer inlogaccount)",
)
def account_activate(request: HttpRequest, ref: str = Ref):
    """Activate an inactive account (the patron is at the desk); it is then not purged.
    Activating an active account is not an error: the result says 'already_active'."""

    def run():
        done = services.activate(
            library=request.library,
            customer_ref=ref,
            language=_language(),
            actor=request.library_actor,
        )
        link = services.get_link(request.library, ref)
        return 200, {
            "result": "activated" if done.changed else "already_active",
            "choose_password_mail": done.choose_password_mail,
            "account": _account(link),
        }

    return idempotency.run(request, run)


@router.put(
    "/customers/{ref}/authorization",
    auth=write,
    operation_id="account_authorize",
    response={200: AuthorizeOut, **CHANGING},
    summary="Authorize: push customer data and rights (Autoriseer inlogaccount)",
)
def account_authorize(request: HttpRequest, payload: AuthorizeIn, ref: str = Ref):
    """Store the customer data and rights for this link. Idempotent: the same push twice
    changes nothing, and the answer says 'unchanged'. Ordered: a push with a lower `version`
    than the one held (an old request that arrived late) changes nothing, and the answer
    says 'stale' with the rights and version identity holds."""

    def run():
        done = services.authorize(
            library=request.library,
            customer_ref=ref,
            authorization=_authorization(payload),
            actor=request.library_actor,
            version=payload.version,
        )
        result = "stale" if done.stale else "updated" if done.changed else "unchanged"
        return 200, {
            "result": result,
            "authorized_at": done.link.authorized_at,
            "rights": done.link.rights,
            "version": done.link.authorization_version,
        }

    return idempotency.run(request, run)


@router.post(
    "/authorizations",
    auth=write,
    operation_id="authorizations_bulk",
    response={200: BulkOut, **CHANGING},
    summary="Authorize many customers (a nightly sync), with a result per customer",
)
def authorizations_bulk(request: HttpRequest, payload: BulkIn):
    """Up to 5,000 customers per call, in one transaction; a library syncs 100,000 members
    in 20 calls. Each item gets 'updated', 'unchanged' or 'not_linked'."""

    def run():
        results = services.bulk_authorize(
            library=request.library,
            items=[
                (item.customer_ref, _authorization(item), item.version) for item in payload.items
            ],
            actor=request.library_actor,
        )
        counts = {"updated": 0, "unchanged": 0, "stale": 0, "not_linked": 0}
        for item in results:
            counts[item.result] += 1
        return 200, {
            "counts": counts,
            "results": [{"customer_ref": r.customer_ref, "result": r.result} for r in results],
        }

    return idempotency.run(request, run)


@router.get(
    "/customers/{ref}/rights",
    auth=read,
    operation_id="account_rights",
    response={200: RightsOut, **ERRORS},
    summary="Show the account's rights (Toon inlogaccount-rechten)",
)
def account_rights(request: HttpRequest, ref: str = Ref):
    """The account's effective rights today (from every library it is linked to) and where
    each comes from."""
    link = services.get_link(request.library, ref)
    today = clock.today()
    _viewed(request, link, "rights")
    return Status(
        200,
        {
            "on": today,
            "rights": selectors.effective_rights(
                selectors.links_of(link.account), request.library, today
            ),
        },
    )


@router.put(
    "/customers/{ref}/recovery-email",
    auth=write,
    operation_id="account_reset_recovery_email",
    response={200: ResultOut, **CHANGING, 429: ProblemOut},
    summary="Reset the recovery e-mail address (Reset herstel-e-mailadres)",
)
def account_reset_recovery_email(request: HttpRequest, payload: RecoveryEmailIn, ref: str = Ref):
    """An account the patron has not activated yet: set at once. An activated one: the new
    address must be confirmed (a link goes there), the previous address is told and can undo
    it ('confirmation_sent'); resets keep going to the previous address meanwhile. At most 3
    confirmation links per account and per address, and 200 mails per library, an hour:
    beyond that 429 `mail_limit` with `Retry-After`, and nothing changes."""

    def run():
        done = services.reset_recovery_email(
            library=request.library,
            customer_ref=ref,
            email=payload.email,
            actor=request.library_actor,
            language=_language(),
        )
        return 200, {
            "result": done.result,
            "account": _account(services.get_link(request.library, ref)),
        }

    return idempotency.run(request, run)


@router.post(
    "/customers/{ref}/password-reset",
    auth=write,
    operation_id="account_send_password_reset",
    response={202: ResultOut, **CHANGING, 429: ProblemOut},
    summary="Send the patron a password reset e-mail",
)
def account_send_password_reset(request: HttpRequest, ref: str = Ref):
    """Staff never choose or see a password: the patron gets a link at the recovery address.
    At most 3 per account and 200 per library an hour: beyond that 429 `mail_limit` with
    `Retry-After` (seconds; also `data.retry_after`), no mail is queued and the refusal is
    recorded. A retry with the same Idempotency-Key as an earlier success gets that answer."""

    def run():
        services.send_password_reset(
            library=request.library,
            customer_ref=ref,
            language=_language(),
            actor=request.library_actor,
        )
        return 202, {"result": "password_reset_queued", "account": None}

    return idempotency.run(request, run)


@router.post(
    "/customers/{ref}/unblock",
    auth=write,
    operation_id="account_unblock",
    response={200: ResultOut, **CHANGING, 429: ProblemOut},
    summary="Lift a guessing block",
)
def account_unblock(request: HttpRequest, ref: str = Ref):
    """Ends the current wait so the patron's next attempt goes at once; the failures of the
    hour stay counted and the hourly cap stands. At most 3 per account and 60 per library an
    hour (429)."""

    def run():
        lifted = services.unblock(
            library=request.library, customer_ref=ref, actor=request.library_actor
        )
        return 200, {
            "result": "unblocked" if lifted else "not_blocked",
            "account": _account(services.get_link(request.library, ref)),
        }

    return idempotency.run(request, run)


@router.get(
    "/customers/{ref}/history",
    auth=read,
    operation_id="account_history",
    response={200: HistoryOut, **ERRORS},
    summary="Login history, newest first",
)
def account_history(request: HttpRequest, ref: str = Ref, limit: int = Query(50, ge=1, le=200)):
    link = services.get_link(request.library, ref)
    _viewed(request, link, "history")
    return Status(200, {"events": selectors.history(link.account, limit)})


@router.get(
    "/customers/{ref}/status",
    auth=read,
    operation_id="account_status",
    response={200: StatusOut, **ERRORS, 429: ProblemOut},
    summary="Everything a diagnosis needs, in one call",
)
def account_status(
    request: HttpRequest,
    ref: str = Ref,
    username: str | None = Query(
        None,
        max_length=254,
        description=(
            "The username (or card number) the customer says they type: the "
            "answer says which account that is, if any, and whether it is the "
            "linked one or linked to another customer of this library."
        ),
    ),
):
    """The link, account, authorization (and when it was pushed), effective rights, block,
    recovery e-mail state and the last attempts: a fixed number of queries, however long
    the account's history. A customer without a link answers `linked: false` (what a
    customer of another library looks like too), and `removed` says why when this library's
    customer had a link that is gone (the account purged or deleted, the link removed)."""
    library = request.library
    link = Link.objects.select_related("account").filter(library=library, customer_ref=ref).first()
    typed = selectors.typed_username(library, link, username) if username else None
    if link is None:
        return Status(
            200,
            {
                "linked": False,
                "account": None,
                "authorization": None,
                "effective_rights": [],
                "recent_events": [],
                "failures_today": 0,
                "typed": typed,
                "removed": selectors.removed(library, ref),
            },
        )
    links = selectors.links_of(link.account)
    today = clock.today()
    _viewed(request, link, "status")
    return Status(
        200,
        {
            "linked": True,
            "account": selectors.account_out(link, links),
            "authorization": {
                "customer": link.customer,
                "rights": link.rights,
                "authorized_at": link.authorized_at,
            },
            "effective_rights": selectors.effective_rights(links, library, today),
            "recent_events": selectors.history(link.account, 20),
            "failures_today": selectors.failures_today(link.account),
            "typed": typed,
            "removed": None,
        },
    )


@router.get(
    "/settings",
    auth=read,
    operation_id="library_settings_show",
    response={200: SettingsOut, **ERRORS},
    tags=["library"],
    summary="The library's settings at the login service",
)
def library_settings_show(request: HttpRequest):
    library = request.library
    return Status(200, {"library": library.code, "self_service_flows": library.self_service_flows})


@router.put(
    "/settings",
    auth=write,
    operation_id="library_settings_update",
    response={200: SettingsOut, **CHANGING},
    tags=["library"],
    summary="Which self-service flows this library's customers are offered",
)
def library_settings_update(request: HttpRequest, payload: SettingsIn):
    """A patron linked to several libraries is offered a flow when one of them offers it."""
    library = services.update_settings(
        library=request.library, flows=sorted(set(payload.self_service_flows))
    )
    return Status(200, {"library": library.code, "self_service_flows": library.self_service_flows})


@router.get(
    "/changes",
    auth=read,
    operation_id="changes_list",
    response={200: ChangesOut, **ERRORS},
    tags=["changes feed"],
    summary="What changed about this library's linked accounts, in order",
)
def changes_list(
    request: HttpRequest,
    after: int = Query(0, ge=0, le=2**63 - 1),
    limit: int = Query(100, ge=1, le=1000),
):
    """Read from a cursor: keep the last `id` seen and ask for what came after it. A
    library that was down catches up without losing anything (changes are kept 90 days)."""
    rows = list(
        Change.objects.filter(library=request.library, id__gt=after).order_by("id")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Status(
        200,
        {
            "changes": [
                {
                    "id": c.id,
                    "at": c.at,
                    "kind": c.kind,
                    "customer_ref": c.customer_ref,
                    "account_id": c.account_public_id,
                    "data": c.data,
                }
                for c in rows
            ],
            "next_after": rows[-1].id if rows else after,
            "more": more,
        },
    )
