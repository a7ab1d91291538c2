"""Request and response shapes of the library API (they make the OpenAPI schema)."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Field, Schema
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)

CUSTOMER_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
RIGHT_CODE_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"
LIMIT_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"


# No control characters (C0, DEL, C1): they are never typed by a person, and PostgreSQL
# refuses NUL. (A pattern also refuses lone surrogates, which cannot be stored as UTF-8.)
NO_CONTROL = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"


def text(max_length: int, min_length: int = 0):
    """A trimmed string without control characters, documented by its pattern."""
    return Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=min_length, max_length=max_length, pattern=NO_CONTROL
        ),
    ]


CustomerRef = Annotated[str, StringConstraints(pattern=CUSTOMER_REF_PATTERN)]


def _iso_text(value):
    # A date must be written as one ("2027-03-01"): no numbers read as seconds since 1970.
    if not isinstance(value, str):
        raise ValueError("a date is written as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_text)]


def _email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError as error:
        raise ValueError("not a valid e-mail address") from error
    return value


# Checked by Django's own validator (what the rest of the system accepts), documented as
# format: email.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=254, pattern=NO_CONTROL),
    AfterValidator(_email),
    Field(json_schema_extra={"format": "email"}),
]


class Input(BaseModel):
    """Request bodies: a JSON object with known fields only (a misspelt field is an error,
    not silently ignored), never coerced from other JSON types."""

    model_config = ConfigDict(extra="forbid")


class BlockOut(Schema):
    failures: int = Field(description="Failed attempts in the current hour.")
    blocked_until: datetime | None = Field(description="Next attempt allowed from; null: now.")


class AccountOut(Schema):
    customer_ref: str
    account_id: UUID = Field(description="The account's public id (the OIDC subject).")
    username: str
    state: Literal["inactive", "active"]
    has_password: bool
    recovery_email: str | None
    recovery_email_confirmed: bool
    recovery_email_set_by: str | None = Field(
        description="'patron' or 'library:<code>' when a library set it."
    )
    created_at: datetime
    activated_at: datetime | None
    last_login: datetime | None
    password_changed_at: datetime | None = Field(
        description=(
            "When the password was last set (activation, reset, a change by the patron or an "
            "operator); null: not set since this was recorded. Failed attempts before it are "
            "not counted in `failures_today`."
        )
    )
    linked_libraries: list[str] = Field(description="Names of the libraries it is linked to.")
    block: BlockOut

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "customer_ref": "20123456",
                    "account_id": "0b6f3f9e-8a43-5d3e-9d55-0f1c2a3b4c5d",
                    "username": "anna.jansen",
                    "state": "active",
                    "has_password": True,
                    "recovery_email": "anna@example.org",
                    "recovery_email_confirmed": True,
                    "recovery_email_set_by": "patron",
                    "created_at": "2026-03-02T10:00:00+01:00",
                    "activated_at": "2026-03-02T10:05:00+01:00",
                    "last_login": "2026-03-05T09:12:00+01:00",
                    "password_changed_at": "2026-03-02T10:05:00+01:00",
                    "linked_libraries": ["Bibliotheek Rotterdam"],
                    "block": {"failures": 0, "blocked_until": None},
                }
            ]
        }
    }


class GenerateIn(Input):
    username: text(80) | None = Field(
        None, description="Proposed or chosen by the patron; default: the customer reference."
    )
    recovery_email: Email | None = Field(
        None, description="Where the activation e-mail goes; without it, activate at the desk."
    )
    language: Literal["nl", "en"] = "nl"
    if_username_taken: Literal["refuse", "use_reference"] = Field(
        "refuse",
        description="'use_reference': take the customer reference instead (a "
        "self-service sign-up must not tell the visitor that a name exists).",
    )


class GenerateOut(Schema):
    result: Literal["generated"]
    username_was_taken: bool = False
    activation_mail: Literal["queued", "no_address"]
    account: AccountOut


class LinkIn(Input):
    username: text(254) | None = Field(
        None,
        description="The name the patron signs in with. Leave out to let the patron "
        "choose the account on the handover page.",
    )


class LinkRequestOut(Schema):
    result: Literal["confirmation_needed"]
    request_id: UUID
    expires_at: datetime
    handover_url: str = Field(description="The page where the patron signs in to agree.")


class LinkConfirmIn(Input):
    request_id: UUID
    code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$")] | None = (
        Field(
            None,
            description="The code the patron received by e-mail; leave out "
            "after the patron agreed on the handover page.",
        )
    )


class ResultOut(Schema):
    result: str = Field(description="What happened, e.g. 'linked', 'unlinked', 'activated'.")
    account: AccountOut | None = None


class ActivateOut(Schema):
    result: Literal["activated", "already_active"]
    choose_password_mail: Literal["queued", "already_sent", "not_needed", "no_address"]
    account: AccountOut


class RightIn(Input):
    code: Annotated[str, StringConstraints(pattern=RIGHT_CODE_PATTERN)] = Field(examples=["ebooks"])
    valid_from: IsoDate | None = None
    valid_until: IsoDate | None = None
    limits: dict[
        Annotated[str, StringConstraints(pattern=LIMIT_KEY_PATTERN)],
        StrictInt | StrictBool | text(64),
    ] = Field(default_factory=dict, max_length=20, examples=[{"loans": 10, "period": "concurrent"}])

    @model_validator(mode="after")
    def _period(self) -> "RightIn":
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class CustomerIn(Input):
    name: text(200, min_length=1)
    birth_date: IsoDate | None = None
    card_number: text(64) | None = None
    subscription_type: text(100) | None = None
    subscription_end: IsoDate | None = None


class AuthorizeIn(Input):
    customer: CustomerIn
    rights: list[RightIn] = Field(default_factory=list, max_length=50)
    version: int | None = Field(
        None,
        ge=1,
        le=2**63 - 1,
        description=(
            "The library's own version of this customer's data, counting up with every change. "
            "identity never applies a push with a lower version than the one it holds (a late "
            "retry of an old push), and answers 'stale' with what it holds. Send it: without "
            "it, the last push to arrive wins."
        ),
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "customer": {
                        "name": "Anna Jansen",
                        "birth_date": "1980-04-01",
                        "card_number": "20123456",
                        "subscription_type": "Volwassen Compleet",
                        "subscription_end": "2027-03-01",
                    },
                    "rights": [
                        {
                            "code": "ebooks",
                            "valid_until": "2027-03-01",
                            "limits": {"loans": 10, "period": "concurrent"},
                        }
                    ],
                }
            ]
        }
    }


class RightOut(Schema):
    code: str
    valid_from: date | None
    valid_until: date | None
    limits: dict


class AuthorizeOut(Schema):
    result: Literal["updated", "unchanged", "stale"]
    authorized_at: datetime | None
    rights: list[RightOut]
    version: int = Field(description="The version identity holds now (0: none was sent).")


class BulkItemIn(AuthorizeIn):
    customer_ref: CustomerRef


class BulkIn(Input):
    items: list[BulkItemIn] = Field(min_length=1, max_length=5000)


class BulkItemOut(Schema):
    customer_ref: str
    result: Literal["updated", "unchanged", "stale", "not_linked"]


class BulkOut(Schema):
    counts: dict[str, int]
    results: list[BulkItemOut]


class EffectiveRightOut(RightOut):
    library: str = Field(description="The library whose subscription gives this right.")
    this_library: bool


class RightsOut(Schema):
    on: date
    rights: list[EffectiveRightOut]


class RecoveryEmailIn(Input):
    email: Email


class HistoryEventOut(Schema):
    at: datetime
    kind: Literal[
        "login", "logout", "service", "logout_detected", "rights_missing", "not_linked"
    ] = Field(
        description=(
            "login/logout at the login service; service: signed in to a service through it; "
            "logout_detected, rights_missing, not_linked: reported by a service (see `service` "
            "and `details`)."
        )
    )
    outcome: Literal["success", "failure"]
    reason: str
    address: str | None = Field(description="The network the attempt came from (/24 or /48).")
    browser: str
    service: str = Field(default="", description="The service the event is about, if any.")
    details: dict | None = Field(default=None, description="What the service reported.")


class HistoryOut(Schema):
    events: list[HistoryEventOut]


class AuthorizationOut(Schema):
    customer: dict
    rights: list[RightOut]
    authorized_at: datetime | None


class TypedUsernameOut(Schema):
    """About a name that is neither linked to this customer nor to another customer of this
    library, nothing is said: `exists`, `state` and `failures_today` are null."""

    username: str = Field(description="As typed.")
    exists: bool | None = Field(description="Only said for accounts linked at this library.")
    is_linked_account: bool = Field(description="It is the account linked to this customer.")
    linked_here_to: str | None = Field(
        description="The customer of this library that account is linked to, if any."
    )
    username_of_account: str | None
    state: Literal["active", "inactive"] | None
    failures_today: int | None


class RemovedOut(Schema):
    """The newest removal in this library's feed for this customer (what `changes_list`
    will also bring), said at once so a helpdesk need not wait for its feed reader."""

    kind: Literal["account_deleted", "link_removed"]
    reason: str = Field(
        description=(
            "The change's data.reason, empty if it has none: for account_deleted 'purged' (never "
            "activated in time) or 'deleted' (by the patron or an operator); for link_removed "
            "'unlinked_by_library', 'unlinked_by_patron' or 'removed_by_operator'. More may come."
        )
    )
    username: str | None = Field(description="The deleted account's username, if known.")
    at: datetime

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "kind": "account_deleted",
                    "reason": "purged",
                    "username": "20123456",
                    "at": "2026-03-03T10:00:05+01:00",
                }
            ]
        }
    }


class StatusOut(Schema):
    """Everything a diagnosis needs about one customer's link, in one round trip."""

    linked: bool
    account: AccountOut | None
    authorization: AuthorizationOut | None
    effective_rights: list[EffectiveRightOut]
    recent_events: list[HistoryEventOut]
    failures_today: int = Field(
        description=(
            "Failed sign-in attempts (kind 'login') today, after the last successful sign-in "
            "and after the last time the password was set."
        )
    )
    typed: TypedUsernameOut | None = None
    removed: RemovedOut | None = Field(
        description=(
            "Not linked: why, when this library's customer had a link that is gone (null when "
            "linked, never linked, or linked again since)."
        )
    )


class SettingsIn(Input):
    self_service_flows: list[
        Literal[
            "signup",
            "password_reset",
            "username_reminder",
            "password_change",
            "email_change",
            "username_change",
            "account_delete",
        ]
    ] = Field(max_length=7)


class SettingsOut(Schema):
    library: str
    self_service_flows: list[str]


class ChangeOut(Schema):
    id: int
    at: datetime
    kind: Literal[
        "account_activated", "account_deleted", "username_changed", "link_removed", "link_created"
    ] = Field(
        description=(
            "link_created and link_removed also report the library's own links and unlinks, so "
            "that a library whose request timed out learns what happened; ignore kinds you do "
            "not know (more may come)."
        )
    )
    customer_ref: str
    account_id: UUID
    data: dict


class ChangesOut(Schema):
    changes: list[ChangeOut]
    next_after: int = Field(description="Ask again with ?after=<this> for what came next.")
    more: bool
