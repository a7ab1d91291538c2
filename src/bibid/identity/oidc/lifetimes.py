"""Token lifetimes (no Django imports: the settings read this)."""


def access_token(request) -> int:
    """Library systems (client credentials) keep an hour; patrons' tokens live 10 minutes,
    so a service notices a revoked session soon even without the back channel."""
    return 3600 if getattr(request, "grant_type", "") == "client_credentials" else 600
