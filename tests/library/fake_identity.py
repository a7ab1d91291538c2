"""A stand-in for the login service's link requests (rule L2), for tests that need a code
the patron "reads out": the real identity mails it, and the tests have no mailbox. Installed
on IdentityClient with monkeypatch; everything else still goes to the real identity."""

from __future__ import annotations

import uuid

from bibid.library.loginaccounts.identity import IdentityClient, IdentityProblem

BASE = "http://identity.test"
CODE = "123456"


def _problem(status: int, code: str, nl: str, data: dict | None = None) -> IdentityProblem:
    return IdentityProblem(status, code, {"nl": nl, "en": nl}, {"code": code, "data": data or {}})


class FakeLinks:
    def __init__(self) -> None:
        self.requests: dict[str, dict] = {}
        self.calls: list[tuple] = []
        # Set to a card number: confirming says the account is linked to that customer.
        self.linked_to_other: str | None = None

    def install(self, monkeypatch, settings) -> FakeLinks:
        settings.BIBID_PUBLIC_URLS = {**settings.BIBID_PUBLIC_URLS, "identity": BASE}
        fake = self

        def account_link(client, ref, username=None):
            fake.calls.append(("link", ref, username))
            request_id = str(uuid.uuid4())
            fake.requests[request_id] = {
                "ref": ref,
                "username": username or "zelf.ingelogd",
                "confirmed": False,
                "left": 5,
            }
            return {
                "result": "confirmation_needed",
                "request_id": request_id,
                "expires_at": "2030-01-01T12:00:00+00:00",
                "handover_url": f"{BASE}/koppelen/{request_id}/",
            }

        def account_link_confirm(client, ref, request_id, code=None):
            fake.calls.append(("confirm", ref, request_id, code))
            request = fake.requests.get(str(request_id))
            if request is None or request["ref"] != ref:
                raise _problem(
                    404,
                    "link_request_not_found",
                    "Dit koppelverzoek bestaat niet (voor deze klant).",
                )
            if not code and not request["confirmed"]:
                raise _problem(
                    409, "waiting_for_patron", "De klant heeft de koppeling nog niet bevestigd."
                )
            if code and code != CODE:
                request["left"] -= 1
                # identity's own words, which say the tries left (the console adds nothing)
                raise _problem(
                    400,
                    "wrong_code",
                    f"Deze code klopt niet. Nog {request['left']} pogingen.",
                    {"attempts_left": request["left"]},
                )
            if fake.linked_to_other:
                raise _problem(
                    409,
                    "account_linked_to_other_customer",
                    f"Dit inlogaccount is gekoppeld aan klant {fake.linked_to_other}.",
                    {"customer": fake.linked_to_other},
                )
            return {
                "result": "linked",
                "account": {"account_id": str(uuid.uuid4()), "username": request["username"]},
            }

        monkeypatch.setattr(IdentityClient, "account_link", account_link)
        monkeypatch.setattr(IdentityClient, "account_link_confirm", account_link_confirm)
        return self

    def patron_confirms(self, request_id: str) -> None:
        self.requests[request_id]["confirmed"] = True
