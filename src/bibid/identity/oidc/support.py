"""What the authorization endpoint supports, and the error it answers for what it does not.

One table for both: the discovery document publishes these values, and `refuse_unsupported`
(registered with oauthlib as a pre-authorization check, so it runs once the client and its
redirect URI are known to be valid) refuses everything else. A parameter the provider cannot
honour is answered with the error OpenID Connect defines, sent back to the service with its
`state`, instead of being ignored: a service that asked for `prompt=consent` or sent a
signed request object must not believe it got what it asked for.
"""

from __future__ import annotations

from oauthlib.oauth2.rfc6749.errors import InvalidRequestError
from oauthlib.openid.connect.core.exceptions import (
    AccountSelectionRequired,
    ConsentRequired,
    RegistrationNotSupported,
    RequestNotSupported,
    RequestURINotSupported,
)

# Authorization code for the services patrons sign in to (with refresh tokens, rotated),
# client credentials for the library systems' API clients. No implicit, password or device
# grant: the token endpoint refuses them for every registered client.
GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]

# prompt=none (a silent check) and prompt=login (type the password again; max_age too).
PROMPT_VALUES = ["none", "login"]

# Only the query: the `iss` of RFC 9207 and every error response are added to the query,
# so a fragment or form_post response would split the answer over two places.
RESPONSE_MODES = ["query"]

# Values Core 3.1.2.1 defines, which the provider cannot honour: it has one account per
# browser session (nothing to select) and no consent page (the services are the libraries'
# own; a consent page that can only be agreed to would be a lie). Core says: "If it cannot
# obtain consent, it MUST return an error, typically consent_required", and likewise
# account_selection_required for select_account.
_PROMPT_ERRORS = {
    "consent": ConsentRequired,
    "select_account": AccountSelectionRequired,
}

# Request objects (Core 6; RFC 9101) are not supported: Core 3.1.2.6 defines an error for
# each, and Discovery 3 says request_uri_parameter_supported defaults to true, so the
# discovery document states false for both.
_PARAMETER_ERRORS = {
    "request": RequestNotSupported,
    "request_uri": RequestURINotSupported,
    "registration": RegistrationNotSupported,
}


def _present(request, name: str) -> bool:
    # oauthlib's Request has no attribute for parameters it does not know (request_uri,
    # registration); read its parameters the same way for every name.
    return request._params.get(name) is not None


def refuse_unsupported(request) -> dict:
    """Raise the OpenID Connect error for what this provider cannot honour.

    An oauthlib authorization validator: it returns the (no) extra request information."""
    for name, error in _PARAMETER_ERRORS.items():
        if _present(request, name):
            raise error(request=request)
    prompt = request.prompt or ""
    # A string from the query; a set when oauthlib validates again while creating the
    # response (the first validation's result is passed back in as attributes).
    prompt = prompt.split() if isinstance(prompt, str) else list(prompt)
    for value in prompt:
        if value in _PROMPT_ERRORS:
            raise _PROMPT_ERRORS[value](
                request=request,
                description=f"prompt={value} is not supported by this provider.",
            )
    unknown = sorted(set(prompt) - set(PROMPT_VALUES))
    if unknown:
        # OpenID Connect Prompt Create 1.0, 4.1: a prompt value the provider does not
        # support (not in prompt_values_supported) is invalid_request; this covers
        # `create` (no sign-up through a service) and any value no spec defines.
        raise InvalidRequestError(
            request=request,
            description=f"prompt value not supported: {' '.join(unknown)}",
        )
    if request.response_mode is not None and request.response_mode not in RESPONSE_MODES:
        raise InvalidRequestError(
            request=request,
            description=f"response_mode not supported: {request.response_mode}",
        )
    return {}


def asks_for_unsupported(params) -> bool:
    """Whether a request (its query) would be refused by `refuse_unsupported`: then the
    refusal is answered before the patron is asked to sign in, not after."""
    if any(params.get(name) is not None for name in _PARAMETER_ERRORS):
        return True
    if set(params.get("prompt", "").split()) - set(PROMPT_VALUES):
        return True
    mode = params.get("response_mode")
    return mode is not None and mode not in RESPONSE_MODES
