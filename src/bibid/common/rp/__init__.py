"""Signing patrons in through the identity service (OpenID Connect relying party).

Shared by the services that are relying parties: the library service (Mijn Menu, one client per
library) and the reading service (the Online Bibliotheek). The OIDC mechanics are Authlib's;
this package keeps the patron in the session, follows back-channel logout, checks that the
identity session is still there, and reports events (logout detected, rights missing) back to
the identity service.
"""
