"""WIP (issue 6): the relying party's sign-in, callback, logout and back-channel logout."""

from django.http import Http404


def _todo(request, **kwargs):
    raise Http404


login = callback = logout = logged_out = logout_detected = backchannel_logout = _todo
