"""bibid.common.webauthn with real ceremonies from a software authenticator: what a browser
and an authenticator would send, signed with a real key, checked by py_webauthn. The
refusals that matter: a reused or expired challenge, another origin, another RP id, a sign
count that goes back, a bad signature."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory

from bibid.common import clock
from bibid.common import webauthn as wa
from tests.webauthn_soft import SoftAuthenticator


def _request():
    request = RequestFactory().post("/")
    request.session = SessionStore()
    return request


def _register(request, authenticator):
    options = wa.begin_registration(
        request, purpose="enrol", user_handle=b"h" * 32, user_name="anna.jansen"
    )
    return wa.finish_registration(
        request, purpose="enrol", credential=authenticator.create(options)
    )


def _authenticate(request, authenticator, registered, *, sign_count=None, count=None):
    options = wa.begin_authentication(request, purpose="signin")
    answer = authenticator.get(options, registered.credential_id, count=count)
    return wa.finish_authentication(
        request,
        purpose="signin",
        assertion=wa.read_assertion(answer),
        public_key=registered.public_key,
        sign_count=registered.sign_count if sign_count is None else sign_count,
    )


@pytest.fixture
def clock_at():
    moment = clock.now()
    clock.set_clock(lambda: moment)
    yield lambda **delta: clock.set_clock(lambda: moment + timedelta(**delta))
    clock.set_clock(None)


def test_relying_party_is_the_public_url_host_without_port(settings):
    settings.BIBID_PUBLIC_URLS = {**settings.BIBID_PUBLIC_URLS, "identity": "http://localhost:8000"}
    rp = wa.relying_party()
    assert (rp.id, rp.origin) == ("localhost", "http://localhost:8000")


def test_a_passkey_registers_and_signs_in():
    request, authenticator = _request(), SoftAuthenticator()
    options = wa.begin_registration(
        request, purpose="enrol", user_handle=b"h" * 32, user_name="anna.jansen"
    )
    # A passkey: discoverable and user verification required.
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    registered = wa.finish_registration(
        request, purpose="enrol", credential=authenticator.create(options)
    )
    assert registered.transports == ["internal"]
    done = _authenticate(request, authenticator, registered)
    assert done.new_sign_count == 1 and done.user_verified
    assert wa.read_assertion(
        authenticator.get({"challenge": "x"}, registered.credential_id)
    ).user_handle == (b"h" * 32)


def test_options_without_and_with_allowed_credentials():
    request = _request()
    discoverable = wa.begin_authentication(request, purpose="signin")
    assert discoverable["allowCredentials"] == []
    assert discoverable["userVerification"] == "required"
    second_factor = wa.begin_authentication(
        request, purpose="mfa", credential_ids=[b"\x01\x02"], passkey=False
    )
    assert [c["id"] for c in second_factor["allowCredentials"]] == ["AQI"]
    assert second_factor["userVerification"] == "preferred"


def test_a_challenge_is_used_once():
    request, authenticator = _request(), SoftAuthenticator()
    registered = _register(request, authenticator)
    options = wa.begin_authentication(request, purpose="signin")
    answer = authenticator.get(options, registered.credential_id)
    kwargs = {"public_key": registered.public_key, "sign_count": 0}
    wa.finish_authentication(
        request, purpose="signin", assertion=wa.read_assertion(answer), **kwargs
    )
    with pytest.raises(wa.WebAuthnError) as refused:  # the same answer replayed
        wa.finish_authentication(
            request, purpose="signin", assertion=wa.read_assertion(answer), **kwargs
        )
    assert refused.value.reason == "no_challenge"


def test_a_refused_answer_spends_the_challenge_too():
    request, authenticator = _request(), SoftAuthenticator(origin="https://evil.example")
    options = wa.begin_registration(request, purpose="enrol", user_handle=b"h", user_name="a")
    answer = authenticator.create(options)
    with pytest.raises(wa.WebAuthnError):
        wa.finish_registration(request, purpose="enrol", credential=answer)
    answer["response"]["clientDataJSON"] = wa.b64url(
        json.dumps(
            {"type": "webauthn.create", "challenge": options["challenge"], "origin": "x"}
        ).encode()
    )
    with pytest.raises(wa.WebAuthnError) as refused:
        wa.finish_registration(request, purpose="enrol", credential=answer)
    assert refused.value.reason == "no_challenge"


def test_an_expired_challenge_is_refused(clock_at):
    request, authenticator = _request(), SoftAuthenticator()
    options = wa.begin_registration(request, purpose="enrol", user_handle=b"h", user_name="a")
    clock_at(seconds=wa.CHALLENGE_LIFETIME.total_seconds() + 1)
    with pytest.raises(wa.WebAuthnError) as refused:
        wa.finish_registration(request, purpose="enrol", credential=authenticator.create(options))
    assert refused.value.reason == "expired"


def test_a_challenge_of_another_purpose_does_not_count():
    request, authenticator = _request(), SoftAuthenticator()
    registered = _register(request, authenticator)
    options = wa.begin_authentication(request, purpose="mfa")
    answer = authenticator.get(options, registered.credential_id)
    with pytest.raises(wa.WebAuthnError) as refused:
        wa.finish_authentication(
            request,
            purpose="signin",
            assertion=wa.read_assertion(answer),
            public_key=registered.public_key,
            sign_count=0,
        )
    assert refused.value.reason == "no_challenge"


@pytest.mark.parametrize(
    "authenticator_kwargs",
    [
        {"origin": "http://127.0.0.1:1"},  # another port: the origin check is exact
        {"origin": "https://evil.example"},
        {"rp_id": "evil.example"},
    ],
)
def test_another_origin_or_rp_id_is_refused(authenticator_kwargs):
    request, good = _request(), SoftAuthenticator()
    other = SoftAuthenticator(**authenticator_kwargs)
    with pytest.raises(wa.WebAuthnError) as refused:
        _register(request, other)
    assert refused.value.reason == "invalid"
    registered = _register(request, good)
    # The same key, but the "browser" says it answers another site.
    other.credentials = good.credentials
    with pytest.raises(wa.WebAuthnError) as refused:
        _authenticate(request, other, registered)
    assert refused.value.reason == "invalid"


def test_a_sign_count_that_does_not_go_up_is_refused():
    request, authenticator = _request(), SoftAuthenticator()
    registered = _register(request, authenticator)
    _authenticate(request, authenticator, registered, sign_count=0, count=5)
    with pytest.raises(wa.WebAuthnError) as refused:  # a clone still at 5, or below
        _authenticate(request, authenticator, registered, sign_count=5, count=5)
    assert refused.value.reason == "sign_count"


def test_a_signature_by_another_key_is_refused():
    request, authenticator = _request(), SoftAuthenticator()
    registered = _register(request, authenticator)
    impostor = SoftAuthenticator()
    _register(request, impostor)
    impostor.credentials[registered.credential_id] = next(iter(impostor.credentials.values()))
    with pytest.raises(wa.WebAuthnError) as refused:
        _authenticate(request, impostor, registered)
    assert refused.value.reason == "invalid"


@pytest.mark.parametrize("garbage", ["", "[]", "{", '{"id": 1}', {"response": "x"}])
def test_garbage_is_refused_as_malformed(garbage):
    with pytest.raises(wa.WebAuthnError) as refused:
        wa.read_assertion(garbage)
    assert refused.value.reason == "malformed"
