"""The library REST API's operations: the same operations the console calls."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from ninja import Path, Query, Router, Status

from bibid.common.problems import Problem
from bibid.library.customers import selectors
from bibid.library.customers.models import Customer
from bibid.library.customers.services import CustomerData, create_customer, update_customer
from bibid.library.helpdesk import diagnosis
from bibid.library.helpdesk.models import Case
from bibid.library.loginaccounts import menu
from bibid.library.loginaccounts import services as login
from bibid.library.loginaccounts.unconfirmed import open_calls
from bibid.library.staff.permissions import Perm, require
from bibid.library.subscriptions.models import Subscription, SubscriptionType
from bibid.library.subscriptions.rights import current_membership, latest_membership
from bibid.library.subscriptions.services import create_subscription, update_subscription

from .auth import staff_token
from .schemas import (
    CARD_PATTERN,
    AnswerIn,
    CaseListOut,
    CaseOut,
    CustomerIn,
    CustomerOut,
    CustomerPatch,
    DiagnosisIn,
    DiagnosisOut,
    FixDoneOut,
    FixIn,
    FixLinkConfirmIn,
    GenerateIn,
    LinkConfirmIn,
    LinkIn,
    LinkRequestOut,
    OutcomeOut,
    ProblemOut,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPatch,
)

router = Router(auth=staff_token)
Card = Path(..., pattern=CARD_PATTERN, description="The customer's card number.")
ERRORS = {400: ProblemOut, 401: ProblemOut, 403: ProblemOut, 404: ProblemOut}
# 503: the login service is down or busy (nothing changed; `retry_after` when busy); 504
# "identity_unconfirmed": it did not answer in time, the change is being checked (see the
# customer's `login_account.unconfirmed`), never repeat it yourself.
CHANGING = {**ERRORS, 409: ProblemOut, 422: ProblemOut, 503: ProblemOut, 504: ProblemOut}


def _customer(request: HttpRequest, card_number: str) -> Customer:
    require(request.actor, Perm.VIEW)
    found = selectors.by_card(request.actor.library, card_number)
    if found is None:
        raise Problem(404, "customer_not_found", _("Deze klant bestaat niet."))
    return found


def _subscription_out(subscription: Subscription) -> dict:
    return {
        "id": subscription.pk,
        "type": subscription.type.code,
        "type_name": subscription.type.name,
        "start": subscription.start,
        "end": subscription.end,
        "status": subscription.status,
        "state": subscription.state,
        "members": [
            {"card_number": m.customer.card_number, "name": m.customer.name, "role": m.role}
            for m in subscription.memberships.all()
        ],
    }


def _customer_out(request: HttpRequest, customer: Customer) -> dict:
    membership = current_membership(customer) or latest_membership(customer)
    visible = not customer.is_private or request.actor.staff.customer_id == customer.pk
    return {
        "card_number": customer.card_number,
        "name": customer.name,
        "birth_date": customer.birth_date,
        "email": customer.email,
        "phone": customer.phone,
        "kind": customer.kind,
        "created_at": customer.created_at,
        "subscription": _subscription_out(membership.subscription) if membership else None,
        "login_account": {
            "linked": customer.has_login_account if visible else False,
            "username": (customer.account_username or None) if visible else None,
            "visible": visible,
            "unconfirmed": open_calls(customer).count() if visible else 0,
        },
    }


def _outcome(outcome) -> dict:
    return {"action": outcome.action, "summary": outcome.summary, "identity": outcome.data}


# -- customers and subscriptions ----------------------------------------------------------


@router.post(
    "/customers",
    operation_id="customer_create",
    tags=["customers"],
    response={201: CustomerOut, **CHANGING},
)
def customer_create(request: HttpRequest, payload: CustomerIn):
    customer = create_customer(
        actor=request.actor,
        data=CustomerData(
            name=payload.name,
            birth_date=payload.birth_date,
            email=payload.email or "",
            phone=payload.phone or "",
            kind=payload.kind,
            card_number=payload.card_number or "",
        ),
    )
    return Status(201, _customer_out(request, _customer(request, customer.card_number)))


@router.get(
    "/customers/{card_number}",
    operation_id="customer_get",
    tags=["customers"],
    response={200: CustomerOut, **ERRORS},
)
def customer_get(request: HttpRequest, card_number: str = Card):
    return Status(200, _customer_out(request, _customer(request, card_number)))


@router.patch(
    "/customers/{card_number}",
    operation_id="customer_update",
    tags=["customers"],
    response={200: CustomerOut, **CHANGING},
)
def customer_update(request: HttpRequest, payload: CustomerPatch, card_number: str = Card):
    found = _customer(request, card_number)
    changes = payload.model_dump(exclude_unset=True)
    if any(
        value is None for key, value in changes.items() if key in ("name", "birth_date", "kind")
    ):
        raise Problem(400, "required_field", _("Naam, geboortedatum en soort mogen niet leeg."))
    changes = {k: (v if v is not None else "") for k, v in changes.items()}
    update_customer(actor=request.actor, customer=found, changes=changes)
    return Status(200, _customer_out(request, _customer(request, card_number)))


@router.post(
    "/subscriptions",
    operation_id="subscription_create",
    tags=["subscriptions"],
    response={201: SubscriptionOut, **CHANGING},
)
def subscription_create(request: HttpRequest, payload: SubscriptionIn):
    library = request.actor.library
    main = _customer(request, payload.card_number)
    type_ = SubscriptionType.objects.filter(library=library, code=payload.type).first()
    if type_ is None:
        raise Problem(400, "unknown_type", _("Dit abonnement bestaat niet."), field="type")
    members = [(_customer(request, m.card_number), m.role) for m in payload.members]
    subscription = create_subscription(
        actor=request.actor,
        type_=type_,
        main=main,
        members=members,
        start=payload.start,
        end=payload.end,
    )
    return Status(201, _subscription_out(subscription))


@router.patch(
    "/subscriptions/{subscription_id}",
    operation_id="subscription_update",
    tags=["subscriptions"],
    response={200: SubscriptionOut, **CHANGING},
)
def subscription_update(request: HttpRequest, subscription_id: int, payload: SubscriptionPatch):
    require(request.actor, Perm.EDIT_SUBSCRIPTION)
    subscription = (
        Subscription.objects.filter(library=request.actor.library, pk=subscription_id)
        .select_related("type")
        .first()
    )
    if subscription is None:
        raise Problem(404, "not_found", _("Niet gevonden."))
    type_ = None
    if payload.type:
        type_ = SubscriptionType.objects.filter(
            library=request.actor.library, code=payload.type
        ).first()
        if type_ is None:
            raise Problem(400, "unknown_type", _("Dit abonnement bestaat niet."), field="type")
    update_subscription(
        actor=request.actor,
        subscription=subscription,
        type_=type_,
        end=payload.end,
        status=payload.status,
    )
    return Status(200, _subscription_out(subscription))


# -- the Inlogaccount menu ----------------------------------------------------------------

LOGIN = {"tags": ["login account"]}


@router.post(
    "/customers/{card_number}/login-account",
    operation_id="login_account_generate",
    response={201: OutcomeOut, **CHANGING},
    **LOGIN,
)
def login_account_generate(request: HttpRequest, payload: GenerateIn, card_number: str = Card):
    outcome = login.generate(
        actor=request.actor,
        customer=_customer(request, card_number),
        username=payload.username,
        recovery_email=payload.recovery_email,
        language=(get_language() or "nl")[:2],
    )
    return Status(201, _outcome(outcome))


@router.post(
    "/customers/{card_number}/login-account/link",
    operation_id="login_account_link",
    response={202: LinkRequestOut, **CHANGING, 429: ProblemOut},
    **LOGIN,
)
def login_account_link(request: HttpRequest, payload: LinkIn, card_number: str = Card):
    """Step 1 of linking an existing account (rule L2): opens a link request. The patron
    confirms with the code mailed to the account, or on `handover_url`; then call
    `login_account_link_confirm`. The answer is the same whether or not the username exists."""
    outcome = login.link(
        actor=request.actor, customer=_customer(request, card_number), username=payload.username
    )
    return Status(202, {**_outcome(outcome), **outcome.data})


@router.post(
    "/customers/{card_number}/login-account/link/confirm",
    operation_id="login_account_link_confirm",
    response={201: OutcomeOut, **CHANGING, 410: ProblemOut},
    **LOGIN,
)
def login_account_link_confirm(
    request: HttpRequest, payload: LinkConfirmIn, card_number: str = Card
):
    """Step 2: the code the patron read out, or none after the patron confirmed on the
    handover page. Links the account and pushes the customer's rights."""
    move_from = _customer(request, payload.move_from) if payload.move_from else None
    outcome = login.confirm_link(
        actor=request.actor,
        customer=_customer(request, card_number),
        request_id=str(payload.request_id),
        code=payload.code,
        move_from=move_from,
    )
    return Status(201, _outcome(outcome))


def _simple(item: menu.MenuItem):
    """A menu item without a body, registered from the one table."""
    operation = item.operation

    def view(request: HttpRequest, card_number: str = Card):
        return Status(
            item.api_status,
            _outcome(operation(actor=request.actor, customer=_customer(request, card_number))),
        )

    view.__name__ = item.api_operation_id
    getattr(router, item.api_method)(
        f"/customers/{{card_number}}/login-account{item.api_path}",
        operation_id=item.api_operation_id,
        # 429: the login service's limits (unblocks, mails) are passed on with Retry-After.
        response={item.api_status: OutcomeOut, **CHANGING, 429: ProblemOut},
        summary=str(item.label),
        **LOGIN,
    )(view)


for _item in menu.MENU:
    if _item.kind != "form":
        _simple(_item)


# -- the helpdesk ------------------------------------------------------------------------

HELPDESK = {"tags": ["helpdesk"]}
# 409 no_such_fix / question_not_open and 400 confirm_first carry the diagnosis as it is now
# in `data.diagnosis`.


@router.post(
    "/customers/{card_number}/diagnosis",
    operation_id="diagnosis_run",
    response={200: DiagnosisOut, **CHANGING, 502: ProblemOut},
    summary="Diagnose a login problem",
    **HELPDESK,
)
def diagnosis_run(request: HttpRequest, payload: DiagnosisIn, card_number: str = Card):
    """Run the seed's procedure for this customer: the walk through its flowchart, the
    cause (the first finding on the path), what to do next (a fix, a question or an end),
    and what else was seen off the path, each with its evidence. Colleagues and volunteers
    give the outcome `not-allowed`, and nothing else. 502 identity_unexpected_answer: the
    login service answered in a shape this version does not know (nothing is guessed)."""
    customer = _customer(request, card_number)
    return Status(
        200,
        diagnosis.run(
            actor=request.actor,
            customer=customer,
            problem=payload.problem,
            username=payload.username,
        ).as_json(),
    )


@router.post(
    "/customers/{card_number}/diagnosis/fix",
    operation_id="diagnosis_fix",
    response={200: FixDoneOut, **CHANGING, 502: ProblemOut},
    summary="Carry out the fix a diagnosis offers, then diagnose again",
    **HELPDESK,
)
def diagnosis_fix(request: HttpRequest, payload: FixIn, card_number: str = Card):
    """Diagnoses again first and carries out the fix of finding `code` only if it is still
    offered (else 409 `no_such_fix` with the diagnosis as it is now); a fix whose `confirm`
    is true needs `"confirm": true`. `fix.state` says whether its effect is confirmed."""
    customer = _customer(request, card_number)
    case = Case.objects.filter(pk=payload.case, customer=customer).first() if payload.case else None
    done, after, state = diagnosis.apply_fix(
        actor=request.actor,
        customer=customer,
        problem=payload.problem,
        code=payload.code,
        username=payload.username,
        case=case,
        confirmed=payload.confirm,
    )
    return Status(
        200,
        {
            "done": _outcome(done),
            "diagnosis": after.as_json(),
            "fix": {"state": state, "operation": _api_operation(done)},
        },
    )


@router.post(
    "/customers/{card_number}/diagnosis/link-confirm",
    operation_id="diagnosis_link_confirm",
    response={200: FixDoneOut, **CHANGING, 410: ProblemOut, 502: ProblemOut},
    summary="Finish a link fix once the patron confirmed, then diagnose again",
    **HELPDESK,
)
def diagnosis_link_confirm(
    request: HttpRequest, payload: FixLinkConfirmIn, card_number: str = Card
):
    """The second step of a `login_account_link` fix, recorded on the case like the console's:
    the patron's code (or nothing after the handover page), then the diagnosis again. A wrong
    code or a patron who has not confirmed yet is a 4xx that leaves the request open."""
    customer = _customer(request, card_number)
    case = Case.objects.filter(pk=payload.case, customer=customer).first() if payload.case else None
    done, after, state = diagnosis.confirm_link(
        actor=request.actor,
        customer=customer,
        problem=payload.problem,
        request_id=str(payload.request_id),
        code=payload.code,
        username=payload.username,
        case=case,
        move_from=payload.move_from,
    )
    return Status(
        200,
        {
            "done": _outcome(done),
            "diagnosis": after.as_json(),
            "fix": {"state": state, "operation": "login_account_link"},
        },
    )


def _api_operation(done) -> str:
    item = menu.by_key(done.action)
    return item.api_operation_id if item else done.action


def _case(request: HttpRequest, case_id: int) -> Case:
    """A case of the caller's library whose customer the caller may diagnose (the colleague
    rule included); anything else is 404, so case numbers reveal nothing."""
    require(request.actor, Perm.DIAGNOSE)
    case = (
        Case.objects.filter(pk=case_id, library=request.actor.library)
        .select_related("customer__library")
        .first()
    )
    if (
        case is None
        or case.customer is None
        or not diagnosis.may_read(request.actor, case.customer)
    ):
        raise Problem(404, "case_not_found", _("Deze zaak bestaat niet."))
    return case


def _step_out(case: Case) -> dict:
    return {
        "case": case.pk,
        "at": case.created_at,
        "who": case.who,
        "via": case.via,
        "outcome": case.outcome,
        "cause": case.first_code,
        "fix_operation": (f"login_{case.fix_operation}" if case.fix_operation else None),
        "fix_state": case.fix_state or None,
        "answers": case.answers,
    }


def _case_out(case: Case) -> dict:
    return {
        "case": case.pk,
        "problem": case.problem,
        "customer": case.customer.card_number,
        "at": case.created_at,
        "who": case.who,
        "via": case.via,
        "procedure": {"id": case.procedure, "version": case.procedure_version},
        "outcome": case.outcome,
        "cause": case.first_code,
        "findings": case.findings,
        "also_seen": case.also_seen,
        "path": case.path,
        "answers": case.answers,
        "ended": case.ended,
        "fix_operation": f"login_{case.fix_operation}" if case.fix_operation else None,
        "fix_state": case.fix_state or None,
        "history": [_step_out(c) for c in diagnosis.chain(case)],
    }


@router.get(
    "/cases/{case_id}",
    operation_id="case_get",
    response={200: CaseOut, **ERRORS},
    summary="A helpdesk case and its history",
    **HELPDESK,
)
def case_get(request: HttpRequest, case_id: int):
    return Status(200, _case_out(_case(request, case_id)))


@router.post(
    "/cases/{case_id}/answer",
    operation_id="case_answer",
    response={200: DiagnosisOut, **CHANGING, 502: ProblemOut},
    summary="Answer the question a case stopped at",
    **HELPDESK,
)
def case_answer(request: HttpRequest, case_id: int, payload: AnswerIn):
    """The customer's answer to `next` (a question): the walk goes on from there. A question
    the walk no longer reaches is 409 `question_not_open` with the diagnosis as it is now."""
    case = _case(request, case_id)
    return Status(
        200,
        diagnosis.answer(
            actor=request.actor, case=case, node=payload.node, label=payload.answer
        ).as_json(),
    )


@router.get(
    "/customers/{card_number}/cases",
    operation_id="case_list",
    response={200: CaseListOut, **ERRORS},
    summary="A customer's helpdesk cases",
    **HELPDESK,
)
def case_list(
    request: HttpRequest,
    card_number: str = Card,
    limit: int = Query(20, ge=1, le=100),
    before: int | None = Query(
        None, ge=1, description="Page on: the last `case` of the previous page."
    ),
):
    """Newest first. A colleague's or volunteer's cases are theirs alone (404 like any case
    the caller may not read)."""
    customer = _customer(request, card_number)
    require(request.actor, Perm.DIAGNOSE)
    if not diagnosis.may_read(request.actor, customer):
        raise Problem(404, "case_not_found", _("Deze zaak bestaat niet."))
    cases = Case.objects.filter(customer=customer, library=request.actor.library)
    if before:
        cases = cases.filter(pk__lt=before)
    found = list(cases.order_by("-pk")[: limit + 1])
    return Status(200, {"cases": [_step_out(c) for c in found[:limit]], "more": len(found) > limit})
