"""Where a relying party's sign-in pages live under its mount point; the identity service
registers exactly these URLs for each client (exact redirect matching)."""

CALLBACK = "/inloggen/klaar/"
LOGGED_OUT = "/uitgelogd/"
BACKCHANNEL_LOGOUT = "/oidc/backchannel-logout/"


def urls(base: str) -> dict[str, str]:
    """The three registered URLs of a client whose pages are mounted at `base`
    (a public URL without trailing slash, e.g. https://bibliotheek.example/mijn/maas)."""
    base = base.rstrip("/")
    return {
        "redirect_uri": base + CALLBACK,
        "post_logout_redirect_uri": base + LOGGED_OUT,
        "backchannel_logout_uri": base + BACKCHANNEL_LOGOUT,
    }
