"""Facts about the client of a request, read the same way everywhere."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """Return the client's address.

    X-Forwarded-For is only believed for as many hops as the operator says there are trusted
    proxies in front of us (BIBID_TRUSTED_PROXIES); otherwise any client could pick its own
    address and walk around the per-address guessing limits.
    """
    remote = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"  # noqa: S104 - a placeholder, not a bind
    hops = getattr(settings, "BIBID_TRUSTED_PROXIES", 0)
    if hops:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= hops:
            remote = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return "0.0.0.0"  # noqa: S104 - a placeholder, not a bind


def user_agent(request: HttpRequest, limit: int = 300) -> str:
    """Return the User-Agent header, cut to a size worth storing, without control characters."""
    raw = request.META.get("HTTP_USER_AGENT", "")
    return "".join(ch for ch in raw if ch.isprintable())[:limit]


def network_of(ip: str | None) -> str | None:
    """Where a request came from, without the exact address: its /24 (IPv4) or /48 (IPv6)."""
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))
