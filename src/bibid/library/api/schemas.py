"""Request and response shapes of the library service's REST API."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Field, Schema
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints

from bibid.common.api import ProblemOut
from bibid.library.helpdesk.findings import CODES

NO_CONTROL = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
CARD_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$"


def text(max_length: int, min_length: int = 0):
    return Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=NO_CONTROL
        ),
    ]


def _email(value: str) -> str:
    if value:
        try:
            validate_email(value)
        except DjangoValidationError as error:
            raise ValueError("not a valid e-mail address") from error
    return value


def _iso_text(value):
    if not isinstance(value, str):
        raise ValueError("a date is written as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_text)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=NO_CONTROL),
    AfterValidator(_email),
    Field(json_schema_extra={"format": "email"}),
]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerIn(Input):
    name: text(200, 1)
    birth_date: IsoDate
    email: Email | None = None
    phone: text(30) | None = None
    kind: Literal["regular", "colleague", "volunteer"] = "regular"
    card_number: Annotated[str, StringConstraints(pattern=CARD_PATTERN)] | None = Field(
        None, description="Leave out to hand out the library's next number."
    )


class CustomerPatch(Input):
    name: text(200, 1) | None = None
    birth_date: IsoDate | None = None
    email: Email | None = None
    phone: text(30) | None = None
    kind: Literal["regular", "colleague", "volunteer"] | None = None


class MemberOut(Schema):
    card_number: str
    name: str
    role: str


class SubscriptionOut(Schema):
    id: int
    type: str
    type_name: str
    start: date
    end: date
    status: Literal["active", "cancelled", "pending", "lapsed"]
    state: Literal["active", "ended", "cancelled", "future", "pending", "lapsed"] = Field(
        description="At a glance: pending waits for the patron to activate the login "
        "account of a self-service sign-up; lapsed was never activated."
    )
    members: list[MemberOut]


class LoginLinkOut(Schema):
    linked: bool
    username: str | None
    visible: bool = Field(description="False for colleagues and volunteers (privacy rule).")
    unconfirmed: int = Field(
        0,
        description=(
            "Changes the login service did not confirm in time and that are being checked "
            "(sent again with the same Idempotency-Key until it answers); 0 when all is known."
        ),
    )


class CustomerOut(Schema):
    card_number: str
    name: str
    birth_date: date
    email: str
    phone: str
    kind: str
    created_at: datetime
    subscription: SubscriptionOut | None
    login_account: LoginLinkOut


class MemberIn(Input):
    card_number: Annotated[str, StringConstraints(pattern=CARD_PATTERN)]
    role: Literal["partner", "child"]


class SubscriptionIn(Input):
    card_number: Annotated[str, StringConstraints(pattern=CARD_PATTERN)] = Field(
        description="The main member."
    )
    type: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,64}$")]
    start: IsoDate | None = None
    end: IsoDate | None = None
    members: list[MemberIn] = Field(default_factory=list, max_length=10)


class SubscriptionPatch(Input):
    type: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,64}$")] | None = None
    end: IsoDate | None = None
    status: Literal["active", "cancelled"] | None = None


class GenerateIn(Input):
    username: text(80) | None = None
    recovery_email: Email | None = None


class LinkIn(Input):
    username: text(254, 1) | None = Field(
        None,
        description="The account the patron names; leave out to let the patron sign "
        "in on the handover page.",
    )


class LinkConfirmIn(Input):
    request_id: UUID
    code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$")] | None = (
        Field(
            None,
            description="The 6-digit code from the patron's e-mail; leave out after "
            "the patron confirmed on the handover page.",
        )
    )
    move_from: Annotated[str, StringConstraints(pattern=CARD_PATTERN)] | None = Field(
        None,
        description="The family member the account is linked to now (the helpdesk's "
        "partner/child fix): once the patron has proved the account is theirs, it moves from "
        "that customer to this one. Needs the right to unlink.",
    )


class OutcomeOut(Schema):
    action: str
    summary: str = Field(description="What happened, in plain words (the caller's language).")
    identity: dict = Field(description="What the login service answered.")


class LinkRequestOut(OutcomeOut):
    request_id: UUID
    handover_url: str = Field(
        description="The login service's page where the patron signs "
        "in and confirms (open it on the desk's screen)."
    )
    expires_at: datetime | None


__all__ = ["ProblemOut"]


FindingCode = Literal[tuple(sorted(CODES))]  # the enumeration, documented in the schema
ProblemCode = Literal["cannot-login", "no-ebook-rights", "logout-detected", "inactive-account"]


class DiagnosisIn(Input):
    problem: ProblemCode
    username: text(254) | None = Field(
        default=None, description="The username (or card number) the customer says they type."
    )


class FixOut(Schema):
    operation: str = Field(
        description=(
            "The operationId of this API's login-account operation the fix carries out (e.g. "
            "`login_account_activate`); carry it out with `diagnosis_fix`, which checks the "
            "situation again first."
        )
    )
    label: str
    args: dict
    one_click: bool = Field(description="False: the patron finishes it (a link request).")
    confirm: bool = Field(
        description=(
            'True: send `"confirm": true` with `diagnosis_fix` once you checked with the '
            "customer (who is who); without it the fix is refused (400 confirm_first)."
        )
    )
    node: str = Field(description="The action node of the procedure's flowchart.")
    allowed: bool = Field(description="Whether the calling staff member may carry it out.")


class FindingOut(Schema):
    code: FindingCode
    node: str = Field(description="The node of the procedure's flowchart that found it.")
    step: str = Field(description="The step of the seed procedure (from that node).")
    title: str = Field(description="That node's title.")
    summary: str
    evidence: list[str]
    fix: FixOut | None
    question: str = Field(description="What to ask or tell the customer.")


class PathStepOut(Schema):
    node: str
    kind: str
    result: str


class NextOut(Schema):
    kind: Literal["fix", "question", "end", "none"] = Field(
        description=(
            "What to do now, where the walk through the flowchart stopped: carry out `fix`, ask "
            "the question (answer it with `case_answer`), or an end (`result`)."
        )
    )
    node: str
    title: str
    step: str
    text: str
    finding: FindingCode | None = Field(description="kind fix: the finding whose fix it is.")
    fix: FixOut | None
    answers: list[str] = Field(description="kind question: the answers to choose from.")
    result: Literal["solved", "escalate"] | None


class DiagnosisCustomerOut(Schema):
    card_number: str
    name: str
    library: str


class DiagnosisOut(Schema):
    problem: str
    customer: DiagnosisCustomerOut
    outcome: Literal["fix-available", "ask-customer", "no-problem-found", "not-allowed"]
    cause: FindingOut | None = Field(description="The first finding on the path.")
    findings: list[FindingOut] = Field(
        description=(
            "The findings on the path walked through the procedure's flowchart, in its order; "
            "the first is the cause."
        )
    )
    also_seen: list[FindingOut] = Field(
        description=("Found by checks the walk did not pass, each with its own evidence.")
    )
    next: NextOut
    path: list[PathStepOut] = Field(description="The way through the procedure's flowchart.")
    procedure: dict
    answers: dict[str, str] = Field(description="The customer's answers so far (node: answer).")
    case: int | None


class FixIn(Input):
    problem: ProblemCode
    username: text(254) | None = None
    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z-]{0,39}$")] = Field(
        description="The finding whose fix to carry out (`findings[].code`)."
    )
    case: int | None = Field(
        default=None,
        ge=1,
        description=("The diagnosis (its `case`) the fix comes from: the fix is recorded on it."),
    )
    confirm: bool = Field(
        default=False,
        description=(
            "Required (true) for a fix whose `confirm` is true: you checked with the customer."
        ),
    )


class FixLinkConfirmIn(Input):
    problem: ProblemCode
    username: text(254) | None = None
    case: int | None = Field(
        default=None,
        ge=1,
        description=("The diagnosis whose `login_account_link` fix opened the request."),
    )
    request_id: UUID
    code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$")] | None = (
        Field(
            None,
            description="The 6-digit code from the patron's e-mail; leave out after "
            "the patron confirmed on the handover page.",
        )
    )
    move_from: Annotated[str, StringConstraints(pattern=CARD_PATTERN)] | None = Field(
        None,
        description="The fix's `done.identity.move_from` (the family member the "
        "account moves from); only a member of the customer's own subscription.",
    )


class FixStateOut(Schema):
    state: Literal["worked", "not_worked", "waiting_for_patron", "waiting_for_push"] = Field(
        description=(
            "worked: the cause is gone and the rights push it triggered reached the "
            "login service; waiting_for_patron: a mail or link request the patron "
            "answers; waiting_for_push: the push is queued, diagnose again shortly."
        )
    )
    operation: str


class FixDoneOut(Schema):
    done: OutcomeOut
    diagnosis: DiagnosisOut = Field(description="The diagnosis run again after the fix.")
    fix: FixStateOut


class AnswerIn(Input):
    node: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")] = Field(
        description="The question's node (`next.node`)."
    )
    answer: text(200, 1) = Field(description="One of `next.answers`.")


class CaseStepOut(Schema):
    case: int
    at: datetime
    who: str
    via: str
    outcome: str
    cause: str
    fix_operation: str | None
    fix_state: str | None
    answers: dict[str, str]


class CaseOut(Schema):
    case: int
    problem: str
    customer: str | None = Field(description="The customer's card number.")
    at: datetime
    who: str
    via: str
    procedure: dict
    outcome: str
    cause: str
    findings: list[dict]
    also_seen: list[dict]
    path: list[PathStepOut]
    answers: dict[str, str]
    ended: str = Field(description="The node the case's walk ended at.")
    fix_operation: str | None
    fix_state: str | None
    history: list[CaseStepOut] = Field(
        description=(
            "The whole chain this case belongs to, oldest first: the diagnosis, each fix and "
            "the diagnosis after it."
        )
    )


class CaseListOut(Schema):
    cases: list[CaseStepOut]
    more: bool
