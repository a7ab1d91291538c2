"""Template context of the reading service's pages: who is signed in, and where to sign in."""

from django.http import HttpRequest

from bibid.common.rp.patron import get_patron, login_url


def patron(request: HttpRequest) -> dict:
    return {"patron": get_patron(request), "patron_login_url": login_url(request)}
