"""The Helpdesk box of the customer page (and of the diagnosis page, to ask again)."""

from django import template

from bibid.library.staff.permissions import Perm, can

from ..helpdesk_forms import CHOICES, DiagnoseForm

register = template.Library()


@register.inclusion_tag("console/helpdesk_box.html", takes_context=True)
def helpdesk_box(context, customer, form=None, again=False):
    """The buttons, for those who may diagnose; not for a colleague's or volunteer's record
    (the seed's LET OP: the diagnosis would only say so)."""
    actor = getattr(context.get("request"), "actor", None)
    private = customer.is_private and (
        actor is None or actor.staff is None or actor.staff.customer_id != customer.pk
    )
    return {
        "customer": customer,
        "form": form or DiagnoseForm(),
        "problems": CHOICES,
        "allowed": actor is not None and can(actor, Perm.DIAGNOSE) and not private,
        "again": again,
    }
