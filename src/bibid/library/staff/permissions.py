"""What each role may do. Checked inside the operations, so the console, the REST API and
the command line enforce the same rule."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from bibid.common.problems import Problem

from .models import Staff
from .perms import Perm

# The desk does what the seed's steps ask of it; the helpdesk also reads the history and
# lifts blocks, and may unlink; a manager also runs a full sync and changes a customer's kind
# (colleague, volunteer, regular).
DESK = frozenset(
    {
        Perm.SEARCH,
        Perm.VIEW,
        Perm.REGISTER,
        Perm.EDIT_CUSTOMER,
        Perm.EDIT_SUBSCRIPTION,
        Perm.LOGIN_SHOW,
        Perm.LOGIN_GENERATE,
        Perm.LOGIN_LINK,
        Perm.LOGIN_ACTIVATE,
        Perm.LOGIN_AUTHORIZE,
        Perm.LOGIN_RIGHTS,
        Perm.LOGIN_RECOVERY_EMAIL,
        Perm.LOGIN_PASSWORD_RESET,
        Perm.DIAGNOSE,
        Perm.MANAGE_TOKENS,
    }
)
HELPDESK = DESK | {Perm.LOGIN_UNLINK, Perm.LOGIN_UNBLOCK, Perm.LOGIN_HISTORY}
MANAGER = HELPDESK | {Perm.SYNC, Perm.CHANGE_KIND}
ROLES = {Staff.Role.DESK: DESK, Staff.Role.HELPDESK: HELPDESK, Staff.Role.MANAGER: MANAGER}


@dataclass(frozen=True)
class Actor:
    """Who does something: a staff member through a channel, or the system itself."""

    staff: Staff | None
    via: str = "console"  # console | api | cli | system

    @property
    def library(self):
        return self.staff.library if self.staff else None

    @property
    def label(self) -> str:
        return self.staff.username if self.staff else f"system:{self.via}"

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        return cls(staff=None, via=what)


def can(actor: Actor, perm: Perm) -> bool:
    if actor.staff is None:
        return True  # the system itself (tasks, demo, sync)
    staff = actor.staff
    if not staff.is_active or staff.library_id is None:
        return False
    return perm in ROLES.get(staff.role, frozenset())


def require(actor: Actor, perm: Perm) -> None:
    if not can(actor, perm):
        raise Problem(403, "not_allowed", _("Dit mag je met jouw rol niet doen."))
