"""Background work of staff accounts: telling a staff member that their second step was
reset. Queued on commit by second_factor.reset_second_factor, run by `db_worker`, so a slow
or absent mail server never holds up the manager's request or a database transaction."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage
from django.tasks import task
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from .models import Staff

logger = logging.getLogger("bibid.tasks")


def reset_mail(staff: Staff, *, by: str, at: datetime) -> EmailMessage:
    """The short mail about a reset (Dutch: staff have no language of their own yet)."""
    with translation.override(settings.LANGUAGE_CODE):
        when = formats.date_format(timezone.localtime(at), "j F Y, H:i")
        body = "\n\n".join(
            [
                _("Beste %(name)s,") % {"name": staff.name},
                _(
                    "%(by)s heeft op %(when)s de tweede stap van je account %(username)s bij "
                    "het bibliotheeksysteem hersteld."
                )
                % {"by": by, "when": when, "username": staff.username},
                _(
                    "De volgende keer dat je inlogt, vraagt de console je een nieuwe tweede "
                    "stap in te stellen: een authenticator-app of een beveiligingssleutel."
                ),
                _(
                    "Was dit niet op jouw verzoek? Meld het je leidinggevende en verander je "
                    "wachtwoord."
                ),
            ]
        )
        subject = _("Je tweede stap is hersteld")
    return EmailMessage(
        subject=subject,
        body=body + "\n",
        to=[staff.email],
        headers={"Auto-Submitted": "auto-generated"},
    )


@task
def tell_second_factor_reset(staff_id: int, by: str, at: str) -> str:
    """Mail the staff member (at their address now) that their second step was reset."""
    staff = Staff.objects.filter(pk=staff_id).first()
    if staff is None or not staff.email:
        # Nothing to send to: the manager's page said so, and the next sign-in says it.
        return "no_address"
    reset_mail(staff, by=by, at=datetime.fromisoformat(at)).send(using="default")
    # The id only: an address is personal data and does not belong in the logs.
    logger.info("second step reset mail sent to staff %s", staff_id)
    return "sent"
