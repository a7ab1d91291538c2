"""bibid identity import: hashes from today's systems, the upgrade at sign-in, rows and report.

Every hash is made by the reference implementation where one is installed (bcrypt,
argon2-cffi, Django's own PBKDF2 hasher) and otherwise computed here with hashlib, as the
system that made it documents it (passlib is not a dependency).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
from datetime import timedelta

import argon2
import bcrypt
import pytest
from argon2.low_level import Type, hash_secret
from django.contrib.auth.hashers import MD5PasswordHasher, PBKDF2PasswordHasher, check_password
from django.core.management import call_command

from bibid.common.imports import runner
from bibid.common.imports.models import ImportProblem, ImportRun
from bibid.identity.accounts import imported_hashers
from bibid.identity.accounts.imported_hashers import Refused, adopt
from bibid.identity.accounts.models import Account, AccountEvent
from bibid.identity.libraries import importing
from bibid.identity.libraries.models import Change, Link
from bibid.identity.signin import flow

from .api_helpers import make_library

PASSWORD = "Lezen-in-de-zon-2026"
WRONG = "Lezen-in-de-zon-2025"
IMPORTED = [
    "bibid.identity.accounts.imported_hashers.BcryptHasher",
    "bibid.identity.accounts.imported_hashers.Pbkdf2Hasher",
    "bibid.identity.accounts.imported_hashers.Argon2Hasher",
    "bibid.identity.accounts.imported_hashers.LdapSshaHasher",
    "bibid.identity.accounts.imported_hashers.SaltedShaHasher",
]


@pytest.fixture(autouse=True)
def _imported_hashers(settings):
    # Ours first (the fast one of unit tests), then the imported ones, as in settings.py.
    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, *IMPORTED]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def raw64(data: bytes) -> str:
    return b64(data).rstrip("=")


def ab64(data: bytes) -> str:
    """passlib's adapted base64."""
    return raw64(data).replace("+", ".")


def pbkdf2(digest: str, password: str, salt: bytes, rounds: int, length: int) -> bytes:
    return hashlib.pbkdf2_hmac(digest, password.encode(), salt, rounds, length)


def ssha(digest: str, password: str, salt: bytes) -> str:
    scheme = {"sha1": "SSHA", "sha256": "SSHA256", "sha512": "SSHA512"}[digest]
    return f"{{{scheme}}}" + b64(hashlib.new(digest, password.encode() + salt).digest() + salt)


def kratos_sha(digest: str, pattern: str, password: str, salt: bytes) -> str:
    joined = pattern.replace("{SALT}", salt.decode()).replace("{PASSWORD}", password)
    value = hashlib.new(digest, joined.encode()).digest()
    return f"${digest}$pf={b64(pattern.encode())}${b64(salt)}${b64(value)}"


SALT = b"zout-van-de-zee16"


def made(fmt: str, password: str = PASSWORD) -> str:
    """A hash of `password` in format `fmt`, as the system that uses the format makes it."""
    if fmt in ("bcrypt-2a", "bcrypt-2b"):
        return bcrypt.hashpw(
            password.encode(), bcrypt.gensalt(4, prefix=fmt[-2:].encode())
        ).decode()
    if fmt == "bcrypt-2y":  # PHP's crypt(); the same algorithm as 2b
        return made("bcrypt-2b", password).replace("$2b$", "$2y$", 1)
    if fmt == "django-pbkdf2-sha256":
        return PBKDF2PasswordHasher().encode(password, "djangosalt123", 1000)
    if fmt == "django-pbkdf2-sha1":
        value = b64(pbkdf2("sha1", password, b"djangosalt123", 1000, 20))
        return f"pbkdf2_sha1$1000$djangosalt123${value}"
    if fmt.startswith("passlib-pbkdf2-"):
        digest = fmt.rsplit("-", 1)[1]
        size = {"sha1": 20, "sha256": 32, "sha512": 64}[digest]
        scheme = "pbkdf2" if digest == "sha1" else f"pbkdf2-{digest}"
        value = pbkdf2(digest, password, SALT, 1200, size)
        return f"${scheme}$1200${ab64(SALT)}${ab64(value)}"
    if fmt == "kratos-pbkdf2-sha256":
        value = pbkdf2("sha256", password, SALT, 1000, 32)
        return f"$pbkdf2-sha256$i=1000,l=32${raw64(SALT)}${raw64(value)}"
    if fmt == "argon2id":
        hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=2)
        return hasher.hash(password)
    if fmt == "argon2i":
        return hash_secret(
            password.encode(),
            SALT,
            time_cost=3,
            memory_cost=4096,
            parallelism=1,
            hash_len=32,
            type=Type.I,
        ).decode()
    if fmt.startswith("ssha-"):
        return ssha(fmt[5:], password, SALT)
    if fmt == "sha256-salt-first":
        return kratos_sha("sha256", "{SALT}{PASSWORD}", password, b"zout1234")
    if fmt == "sha512-password-first":
        return kratos_sha("sha512", "{PASSWORD}{SALT}", password, b"zout1234")
    if fmt == "sha1-salt-around":
        return kratos_sha("sha1", "{SALT}:{PASSWORD}:{SALT}", password, b"zout1234")
    raise AssertionError(fmt)


FORMATS = [
    "bcrypt-2a",
    "bcrypt-2b",
    "bcrypt-2y",
    "django-pbkdf2-sha256",
    "django-pbkdf2-sha1",
    "passlib-pbkdf2-sha1",
    "passlib-pbkdf2-sha256",
    "passlib-pbkdf2-sha512",
    "kratos-pbkdf2-sha256",
    "argon2id",
    "argon2i",
    "ssha-sha1",
    "ssha-sha256",
    "ssha-sha512",
    "sha256-salt-first",
    "sha512-password-first",
    "sha1-salt-around",
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_verifies_its_password_and_refuses_another(fmt):
    original = made(fmt)
    stored = adopt(original)
    assert (
        stored == f"{imported_hashers.PREFIX}{stored.split('-', 1)[1].split('$', 1)[0]}${original}"
    )
    assert check_password(PASSWORD, stored)
    assert not check_password(WRONG, stored)
    assert not check_password(PASSWORD + "x", stored)


def test_the_original_is_kept_behind_the_prefix_unchanged():
    original = made("ssha-sha256")
    assert adopt(original) == "imported-ssha$" + original
    original = made("bcrypt-2y")
    assert adopt(original) == "imported-bcrypt$" + original


def test_bcrypt_checks_the_first_72_bytes_as_the_old_system_did():
    long = "boek" * 30  # 120 bytes: bcrypt systems read the first 72
    stored = adopt(bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(4)).decode())
    assert check_password(long, stored)
    assert not check_password(long[:71], stored)


def test_the_salt_order_is_what_the_pattern_says():
    password_first = adopt(made("sha512-password-first"))
    pattern = b64(b"{SALT}{PASSWORD}")
    swapped = password_first.replace(password_first.split("$")[3], f"pf={pattern}")
    assert check_password(PASSWORD, password_first)
    assert not check_password(PASSWORD, swapped)


def test_a_password_holding_the_salt_placeholder_is_itself():
    tricky = "mijn-{SALT}-wachtwoord"
    stored = adopt(kratos_sha("sha256", "{PASSWORD}{SALT}", tricky, b"zout1234"))
    assert check_password(tricky, stored)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (hashlib.md5(PASSWORD.encode()).hexdigest(), "weak_hash"),  # noqa: S324 - the point
        (hashlib.sha1(PASSWORD.encode()).hexdigest(), "weak_hash"),  # noqa: S324
        (hashlib.sha256(PASSWORD.encode()).hexdigest(), "weak_hash"),
        ("{SHA}" + b64(hashlib.sha1(PASSWORD.encode()).digest()), "weak_hash"),  # noqa: S324
        ("{MD5}" + b64(hashlib.md5(PASSWORD.encode()).digest()), "weak_hash"),  # noqa: S324
        ("$1$zout$abcdefghijklmnopqrstuv", "weak_hash"),
        ("md5$zout$" + "0" * 32, "weak_hash"),
        (ssha("sha1", PASSWORD, b"zo"), "weak_hash"),  # two bytes of salt is no salt
        (
            "sha256$zout$" + hashlib.sha256(b"zout" + PASSWORD.encode()).hexdigest(),
            "ambiguous_hash",
        ),
        (kratos_sha("sha256", "{PASSWORD}", PASSWORD, b"zout1234"), "weak_hash"),
        ("$2b$15$" + "a" * 53, "hash_too_costly"),
        ("$2b$" + "12$" + "a" * 40, "malformed_hash"),
        (
            "$argon2id$v=19$m=4194304,t=2,p=1$" + raw64(SALT) + "$" + raw64(b"x" * 32),
            "hash_too_costly",
        ),
        ("$pbkdf2-sha256$90000000$" + ab64(SALT) + "$" + ab64(b"x" * 32), "hash_too_costly"),
        ("$pbkdf2-sha256$i=1000,l=16$" + raw64(SALT) + "$" + raw64(b"x" * 32), "malformed_hash"),
        ("{SSHA}!!!not-base64", "malformed_hash"),
        ("$6$rounds=5000$zout$abc", "unsupported_hash"),
        ("hunter2", "unknown_hash_format"),
    ],
)
def test_weak_unknown_and_costly_hashes_are_refused_with_a_reason(raw, code):
    with pytest.raises(Refused) as refused:
        adopt(raw)
    assert refused.value.code == code
    assert raw not in refused.value.reason  # the reason never repeats the hash


@pytest.mark.parametrize(
    "stored",
    [
        "imported-bcrypt$$2b$12$kapot",
        "imported-argon2$$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA",
        "imported-pbkdf2$pbkdf2_sha256$1000$zout$nietbase64!",
    ],
)
def test_a_damaged_stored_hash_is_a_wrong_password_not_an_error(stored):
    assert not check_password(PASSWORD, stored)


@pytest.fixture
def verifications(monkeypatch):
    """Count checks with our own (preferred) hasher: the cost a sign-in must always pay."""
    calls = []
    original = MD5PasswordHasher.verify

    def counting(self, password, encoded):
        calls.append(encoded)
        return original(self, password, encoded)

    monkeypatch.setattr(MD5PasswordHasher, "verify", counting)
    return calls


@pytest.mark.parametrize("fmt", ["ssha-sha1", "bcrypt-2b", "argon2id", "passlib-pbkdf2-sha256"])
def test_a_wrong_password_on_an_imported_hash_costs_one_check_of_ours(fmt, verifications):
    stored = adopt(made(fmt))
    assert not check_password(WRONG, stored)
    # As much as an unknown username costs (one check against a dummy hash of ours), on
    # top of the imported check: the time does not tell an imported account from no account.
    assert len(verifications) == 1


# -- the upgrade at the first sign-in ---------------------------------------------------


def attempt(username: str, password: str) -> flow.Attempt:
    return flow.Attempt(username=username, password=password, ip="192.0.2.7", user_agent="test")


@pytest.fixture
def maas(db):
    return make_library("maas", "Bibliotheek aan de Maas", prefixes=["2010"])


@pytest.fixture
def duin(db):
    return make_library("duin", "Bibliotheek Duinrand", prefixes=["3030"])


def write_jsonl(tmp_path, rows, name="accounts.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def account_row(username="anna.jansen", **extra):
    row = {
        "username": username,
        "recovery_email": f"{username}@example.org",
        "recovery_email_confirmed_at": "2024-03-01T10:00:00+01:00",
        "state": "active",
        "password_hash": made("bcrypt-2b"),
        "created_at": "2019-05-01T09:00:00Z",
        "last_login_at": "2026-01-02T08:00:00+01:00",
        "links": [],
    }
    return row | extra


def do_import(path, *, batch_size=2000, dry_run=False, weak_hashes="refuse", report=None):
    importer = importing.AccountImporter(weak_hashes=weak_hashes)
    return runner.run(importer, path, batch_size=batch_size, dry_run=dry_run, report=report)


def read_report(summary) -> list[dict]:
    with summary.report.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    "fmt", ["bcrypt-2y", "kratos-pbkdf2-sha256", "passlib-pbkdf2-sha512", "argon2i", "ssha-sha512"]
)
def test_first_sign_in_upgrades_the_hash_and_keeps_the_password_date(fmt, tmp_path, db):
    do_import(write_jsonl(tmp_path, [account_row(password_hash=made(fmt))]))
    account = Account.objects.get(username="anna.jansen")
    assert account.password.startswith("imported-")
    assert account.password_changed_at is None  # when it was chosen is not known
    before = account.password

    assert flow.sign_in(attempt("anna.jansen", WRONG)).reason == "wrong_password"
    assert Account.objects.get(pk=account.pk).password == before  # a wrong one changes nothing

    assert flow.sign_in(attempt("anna.jansen", PASSWORD)).ok
    account.refresh_from_db()
    assert account.password.startswith("md5$")  # re-hashed with our (preferred) hasher
    assert account.password_changed_at is None  # the same password: not a change of it
    assert flow.sign_in(attempt("anna.jansen", PASSWORD)).ok
    assert not flow.sign_in(attempt("anna.jansen", WRONG)).ok


def test_a_hash_too_long_to_keep_is_refused_not_cut(tmp_path, db):
    # 64 bytes of digest and 400 of salt: valid, but longer than the password column.
    long = ssha("sha512", PASSWORD, b"z" * 400)
    summary = do_import(write_jsonl(tmp_path, [account_row(password_hash=long)]))
    assert [(r["field"], r["code"]) for r in read_report(summary)] == [
        ("password_hash", "malformed_hash")
    ]
    assert not Account.objects.exists()


def test_the_upgrade_does_not_move_a_known_password_date(tmp_path, db, clock):
    do_import(write_jsonl(tmp_path, [account_row(password_hash=made("ssha-sha256"))]))
    chosen = clock() - timedelta(days=40)
    Account.objects.filter(username="anna.jansen").update(password_changed_at=chosen)
    clock.advance(minutes=5)
    assert flow.sign_in(attempt("anna.jansen", PASSWORD)).ok
    account = Account.objects.get(username="anna.jansen")
    assert not account.password.startswith("imported-")
    assert account.password_changed_at == chosen


def test_the_upgrade_is_done_with_argon2id_in_production_settings(
    tmp_path, db, real_hasher, settings
):
    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, *IMPORTED]
    do_import(write_jsonl(tmp_path, [account_row(password_hash=made("passlib-pbkdf2-sha256"))]))
    assert flow.sign_in(attempt("anna.jansen", PASSWORD)).ok
    assert Account.objects.get(username="anna.jansen").password.startswith("argon2id$")


# -- rows, links, the feed, the report --------------------------------------------------


def test_accounts_links_and_feed_rows_are_made_as_the_api_makes_them(tmp_path, maas, duin):
    rows = [
        account_row(
            "anna.jansen",
            links=[
                {"library": "maas", "card_number": "2010000001"},
                {"library": "duin", "card_number": "3030000001"},
            ],
        ),
        account_row("2010000002", links=[{"library": "maas", "card_number": "2010000002"}]),
        account_row("bram", state="blocked", password_hash="", recovery_email_confirmed_at=""),
    ]
    summary = do_import(write_jsonl(tmp_path, rows))
    # One event for the run (its counts), none per row.
    assert AccountEvent.objects.count() == 0
    assert summary.counts == {
        "rows": 3,
        "created": 3,
        "links": 3,
        "blocked_as_active": 1,
    }
    anna = Account.objects.get(username="anna.jansen")
    assert anna.state == "active" and anna.recovery_email == "anna.jansen@example.org"
    assert anna.recovery_email_set_by == "patron"
    assert anna.created_at.isoformat() == "2019-05-01T09:00:00+00:00"
    assert anna.last_login is not None
    bram = Account.objects.get(username="bram")
    assert bram.state == "active" and not bram.has_usable_password()
    assert bram.recovery_email_set_by == ""
    # The library sees each link in its feed and as its customer's account.
    changes = maas.get("/changes").json()["changes"]
    assert [(c["kind"], c["customer_ref"], c["data"]) for c in changes] == [
        ("link_created", "2010000001", {"username": "anna.jansen"}),
        ("link_created", "2010000002", {"username": "2010000002"}),
    ]
    assert changes[0]["account_id"] == str(anna.public_id)
    assert maas.get("/customers/2010000001/account").json()["username"] == "anna.jansen"
    assert [c["customer_ref"] for c in duin.get("/changes").json()["changes"]] == ["3030000001"]
    run = ImportRun.objects.get()
    assert run.finished_at is not None and run.counts == summary.counts
    # A patron signs in with a card number of a link made by the import.
    assert flow.sign_in(attempt("2010000001", PASSWORD)).account == anna


def test_the_same_rows_as_csv(tmp_path, maas):
    path = tmp_path / "accounts.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(importing.FIELDS)
        row = account_row(links=[{"library": "maas", "card_number": "2010000001"}])
        row["links"] = json.dumps(row["links"])
        writer.writerow([row[name] for name in importing.FIELDS])
        writer.writerow(["kees", "", "", "inactive", "", "", "", ""])
    summary = do_import(path)
    assert summary.counts["created"] == 2
    assert Link.objects.get().customer_ref == "2010000001"
    kees = Account.objects.get(username="kees")
    assert kees.state == "inactive" and not kees.has_usable_password()


def test_a_csv_with_an_unknown_column_is_refused_before_anything_is_written(tmp_path, db):
    path = tmp_path / "accounts.csv"
    path.write_text("username,recovery_mail\nanna,anna@example.org\n", encoding="utf-8")
    with pytest.raises(runner.ImportFileError, match="recovery_mail"):
        do_import(path)
    assert Account.objects.count() == 0


ANNA = account_row("anna.jansen")
BAD_ROWS = [
    ANNA,  # line 1: fine
    account_row("anna jansen", recovery_email="anna@example.org"),  # line 2: bad username
    account_row("anna.jansen", recovery_email="other@example.org"),  # 3: duplicate, other data
    account_row("carla", links=[{"library": "nergens", "card_number": "2010000009"}]),  # 4
    account_row("dirk", password_hash=hashlib.md5(b"x").hexdigest()),  # noqa: S324 - 5: weak
    account_row("evelien", created_at="2019-13-01T00:00:00"),  # 6: bad date
    account_row("frans", last_login_at="2999-01-01T00:00:00Z"),  # 7: in the future
    account_row("gerrit", links=[{"library": "maas", "card_number": "9990000001"}]),  # 8
    account_row("2010000003"),  # 9: a card number that is not this account's
    account_row("hanna", recovery_email="geen-adres"),  # 10
    account_row("ingrid", state="inactive"),  # 11: never activated, years ago
    ANNA,  # 12: the same as line 1: skipped, not reported
]


def test_bad_rows_are_reported_with_line_field_and_reason_and_never_stop_the_rest(tmp_path, maas):
    path = write_jsonl(tmp_path, [*BAD_ROWS, account_row("zoe.smit")])
    path.write_text(path.read_text() + "{not json\n", encoding="utf-8")
    summary = do_import(path, batch_size=4)
    report = read_report(summary)
    assert [(r["line"], r["outcome"], r["field"], r["code"]) for r in report] == [
        ("2", "refused", "username", "invalid_character"),
        ("3", "conflict", "username", "conflict"),
        ("4", "refused", "links", "unknown_library"),
        ("5", "refused", "password_hash", "weak_hash"),
        ("6", "refused", "created_at", "invalid_datetime"),
        ("7", "refused", "last_login_at", "in_future"),
        ("8", "refused", "links", "card_number_not_in_range"),
        ("9", "refused", "username", "username_is_card_number"),
        ("10", "refused", "recovery_email", "invalid_email"),
        ("11", "refused", "state", "inactive_expired"),
        ("14", "refused", "", "malformed"),
    ]
    assert "recovery_email" in report[1]["reason"]  # what differs, never the values
    assert all("$2b$" not in r["reason"] for r in report)
    assert summary.counts == {
        "rows": 14,
        "created": 2,
        "skipped": 1,
        "conflict": 1,
        "refused": 10,
    }
    assert set(Account.objects.values_list("username", flat=True)) == {"anna.jansen", "zoe.smit"}
    assert ImportProblem.objects.count() == len(report)


def test_a_card_linked_to_another_account_is_refused(tmp_path, maas):
    link = [{"library": "maas", "card_number": "2010000001"}]
    summary = do_import(
        write_jsonl(tmp_path, [account_row("anna", links=link), account_row("bert", links=link)])
    )
    assert [(r["line"], r["code"]) for r in read_report(summary)] == [("2", "card_already_linked")]
    assert Link.objects.get().account.username == "anna"


def test_weak_hashes_can_come_in_without_a_password(tmp_path, db):
    weak = hashlib.sha1(PASSWORD.encode()).hexdigest()  # noqa: S324 - the point of the test
    summary = do_import(
        write_jsonl(tmp_path, [account_row(password_hash=weak)]), weak_hashes="without_password"
    )
    account = Account.objects.get()
    assert not account.has_usable_password() and weak not in account.password
    assert [(r["outcome"], r["code"]) for r in read_report(summary)] == [
        ("without_password", "weak_hash")
    ]
    assert flow.sign_in(attempt("anna.jansen", PASSWORD)).reason == "no_password"


def test_a_dry_run_writes_nothing_and_reports_the_same(tmp_path, maas):
    rows = [
        *BAD_ROWS,
        account_row("zoe.smit", links=[{"library": "maas", "card_number": "2010000005"}]),
    ]
    path = write_jsonl(tmp_path, rows)
    dry = do_import(path, batch_size=4, dry_run=True, report=tmp_path / "dry.csv")
    assert Account.objects.count() == 0
    assert Link.objects.count() == Change.objects.count() == 0
    assert ImportRun.objects.count() == ImportProblem.objects.count() == 0
    real = do_import(path, batch_size=4)
    assert read_report(dry) == read_report(real)
    assert dry.counts == real.counts


def test_a_run_interrupted_in_the_middle_of_a_batch_resumes_and_imports_each_row_once(
    tmp_path, maas, monkeypatch
):
    rows = [
        account_row(f"lezer{i:02d}", links=[{"library": "maas", "card_number": f"20100000{i:02d}"}])
        for i in range(10)
    ]
    path = write_jsonl(tmp_path, rows)
    real_create = importing._create
    calls = []

    def dies_in_the_second_batch(new):
        calls.append(len(new))
        real_create(new)  # the rows are written (in the batch's transaction) ...
        if len(calls) == 2:
            raise KeyboardInterrupt  # ... and then the process is stopped

    monkeypatch.setattr(importing, "_create", dies_in_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        do_import(path, batch_size=4)
    assert Account.objects.count() == 4  # the first batch only: the second was rolled back
    run = ImportRun.objects.get()
    assert (run.line, run.finished_at, run.counts["created"]) == (4, None, 4)

    monkeypatch.setattr(importing, "_create", real_create)
    summary = do_import(path, batch_size=4)
    assert summary.resumed_at_line == 4
    assert summary.counts == {"rows": 10, "created": 10, "links": 10}
    assert sorted(Account.objects.values_list("username", flat=True)) == [
        f"lezer{i:02d}" for i in range(10)
    ]
    assert Link.objects.count() == 10
    assert Change.objects.filter(kind="link_created").count() == 10
    run.refresh_from_db()
    assert run.finished_at is not None and run.resumed == 1
    assert ImportRun.objects.count() == 1


def test_a_second_run_of_the_same_file_changes_nothing(tmp_path, maas):
    rows = [account_row("anna", links=[{"library": "maas", "card_number": "2010000001"}])]
    rows += [account_row(f"lezer{i}") for i in range(5)]
    path = write_jsonl(tmp_path, rows)
    do_import(path, batch_size=2)
    state = sorted(Account.objects.values_list("username", "password", "public_id"))
    again = do_import(path, batch_size=2)
    assert again.counts == {"rows": 6, "skipped": 6}
    assert read_report(again) == []
    assert sorted(Account.objects.values_list("username", "password", "public_id")) == state
    assert Link.objects.count() == Change.objects.count() == 1
    assert ImportRun.objects.count() == 2


def test_the_command_prints_the_counts_and_writes_the_report(tmp_path, db, capsys):
    path = write_jsonl(tmp_path, [account_row("anna"), account_row("x")])
    call_command("import", str(path), "--no-progress", "--report", str(tmp_path / "r.jsonl"))
    out = capsys.readouterr().out
    assert "created: 1" in out and "refused: 1" in out
    lines = (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["code"] for line in lines] == ["too_short"]
    call_command("import", str(path), "--no-progress", "--dry-run")
    assert "dry run" in capsys.readouterr().out
    assert (tmp_path / "accounts.jsonl.report.csv").exists()
