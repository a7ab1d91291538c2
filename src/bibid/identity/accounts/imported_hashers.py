"""Password hashes made by the login systems libraries use today, verified as they are.

`bibid identity import` (docs/import.md) stores a hash from another system behind a prefix of
ours, `imported-<scheme>$<the hash as it was>`: nothing is re-encoded, so nothing can be lost
in a conversion. These hashers only verify; Django's check_password sees that the algorithm
is not the preferred one and, after a correct password, hashes it again with our Argon2id
(through Account.set_password, which the sign-in flow saves at once). They come after our
own hashers in PASSWORD_HASHERS, so make_password never chooses one of them.

Formats, named as the systems that make them write them (Ory Kratos imports the same ones):

    bcrypt        $2a$ / $2b$ / $2y$<cost>$<22 salt><31 hash>                 cost 4..14
    PBKDF2        pbkdf2_sha256$<iterations>$<salt>$<base64>                  (Django)
                  $pbkdf2-sha256$<iterations>$<ab64 salt>$<ab64 hash>         (passlib)
                  $pbkdf2-sha256$i=<iterations>,l=<length>$<salt>$<hash>      (Kratos)
                  also -sha1 (passlib `$pbkdf2$`, Django pbkdf2_sha1) and -sha512
    Argon2        $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>   and $argon2i$
    LDAP          {SSHA} / {SSHA256} / {SSHA512}<base64(digest + salt)>
    salted SHA    $sha256$pf=<base64 of e.g. "{SALT}{PASSWORD}">$<salt>$<hash>   (Kratos;
                  also $sha1$ and $sha512$): the pattern says in which order salt and
                  password were joined, so no order is ever guessed.

Refused, with the reason in the import report: unsalted MD5, SHA-1 or SHA-2 hex digests and
their LDAP forms ({MD5}, {SHA}, ...), every MD5-based scheme, and `sha256$salt$hex`-like
strings whose order of salt and password nobody wrote down.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import cache

import bcrypt
from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw
from django.contrib.auth.hashers import BasePasswordHasher, get_hasher, make_password, mask_hash
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

PREFIX = "imported-"

# Upper bounds on what one sign-in may cost. An import file comes from an operator, but a
# typing error (or a hostile row) of `m=4194304` would make every sign-in of that account
# take 4 GiB of memory on a web node; above these the row is refused, not imported.
BCRYPT_MAX_COST = 14
PBKDF2_MAX_ITERATIONS = 3_000_000  # OWASP 2023 asks 1,300,000 for PBKDF2-HMAC-SHA1
ARGON2_MAX_MEMORY_KIB = 256 * 1024
ARGON2_MAX_TIME_COST = 20
ARGON2_MAX_PARALLELISM = 16
# Fewer salt bytes than this is a salt in name only: equal passwords of many accounts share a
# hash, and a precomputed table covers them all.
MIN_SALT_BYTES = 4
MIN_HASH_BYTES = 16


class Refused(ValueError):
    """A hash the import refuses: `code` for the report's machines, `reason` for its people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _b64(text: str, *, altchars: bytes = b"+/") -> bytes:
    """Decode base64 with or without padding (PHC strings drop it), strictly."""
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded, altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as error:
        raise Refused("malformed_hash", _("De hash is geen geldige base64.")) from error


def _ab64(text: str) -> bytes:
    """passlib's "adapted base64": '.' instead of '+', no padding."""
    return _b64(text.replace(".", "+"))


@cache
def _dummy_hash(algorithm: str) -> str:
    return make_password(secrets.token_urlsafe(24))


def _spend_like_ours(password: str) -> None:
    """Cost a wrong password on an imported hash at least one check of our own hasher.

    An unknown username costs one Argon2id check against a dummy hash (signin.flow); a
    salted SHA check costs microseconds. Without this, a wrong password would answer faster
    for an imported account than for a missing one, and the time would tell which
    usernames exist. (The other way round, a bcrypt hash of cost 12 costs more than ours
    whatever we do; that difference ends at the account's first successful sign-in.)
    """
    hasher = get_hasher("default")
    hasher.verify(password, _dummy_hash(hasher.algorithm))


class ImportedHasher(BasePasswordHasher):
    """Verifies `imported-<scheme>$<original>`; never makes a hash (encode is not offered)."""

    algorithm = ""
    scheme = ""  # the name in safe_summary and in the admin

    def matches(self, original: str) -> bool:
        raise NotImplementedError

    def parse(self, original: str) -> object:
        """Check the original hash fully (raise Refused), returning what verify needs."""
        raise NotImplementedError

    def compute(self, password: bytes, parsed) -> bool:
        raise NotImplementedError

    @staticmethod
    def original(encoded: str) -> str:
        return encoded.split("$", 1)[1]

    def verify(self, password: str, encoded: str) -> bool:
        try:
            parsed = self.parse(self.original(encoded))
            correct = self.compute(password.encode(), parsed)
        except (Refused, ValueError, IndexError, HashingError):
            correct = False  # a damaged stored hash is a wrong password, not an error page
        if not correct:
            _spend_like_ours(password)
        return correct

    def decode(self, encoded: str) -> dict:
        return {"algorithm": self.algorithm, "hash": self.original(encoded), "salt": ""}

    def safe_summary(self, encoded: str) -> dict:
        return {
            gettext_noop("algorithm"): self.algorithm,
            gettext_noop("hash"): mask_hash(self.original(encoded)),
        }

    def must_update(self, encoded: str) -> bool:
        return True  # always: the first correct password replaces it with Argon2id

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass  # verify already costs a wrong password one of our checks


def _equal(a: bytes, b: bytes) -> bool:
    # Constant time: how long the comparison takes says nothing about how many leading
    # bytes of a guess were right.
    return hmac.compare_digest(a, b)


class BcryptHasher(ImportedHasher):
    algorithm = "imported-bcrypt"
    scheme = "bcrypt"
    PATTERN = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}")

    def matches(self, original: str) -> bool:
        return original.startswith(("$2a$", "$2b$", "$2y$", "$2x$", "$2$"))

    def parse(self, original: str) -> bytes:
        found = self.PATTERN.fullmatch(original)
        if found is None:
            raise Refused("malformed_hash", _("Geen geldige bcrypt-hash ($2a$, $2b$ of $2y$)."))
        cost = int(found[1])
        if not 4 <= cost <= BCRYPT_MAX_COST:
            raise Refused(
                "hash_too_costly",
                _("bcrypt-kosten %(cost)d: toegestaan is 4 tot en met %(max)d.")
                % {"cost": cost, "max": BCRYPT_MAX_COST},
            )
        return original.encode()

    def compute(self, password: bytes, parsed: bytes) -> bool:
        # bcrypt reads at most 72 bytes: the system that made the hash ignored the rest, so
        # the same prefix is what the patron's password was checked on until now.
        return _equal(bcrypt.hashpw(password[:72], parsed), parsed)


@dataclass(frozen=True)
class Pbkdf2:
    digest: str
    iterations: int
    salt: bytes
    expected: bytes


class Pbkdf2Hasher(ImportedHasher):
    algorithm = "imported-pbkdf2"
    scheme = "pbkdf2"
    DJANGO = re.compile(r"pbkdf2_(sha1|sha256|sha512)\$(\d+)\$([^$]+)\$([A-Za-z0-9+/]+=*)")
    PHC = re.compile(
        r"\$pbkdf2(?:-(sha1|sha256|sha512))?\$(\d+|i=\d+,l=\d+)\$([./A-Za-z0-9+]+)\$([./A-Za-z0-9+]+)"
    )

    def matches(self, original: str) -> bool:
        return original.startswith(("pbkdf2_", "$pbkdf2$", "$pbkdf2-"))

    def parse(self, original: str) -> Pbkdf2:
        if found := self.DJANGO.fullmatch(original):
            # Django: the salt is text (its UTF-8 bytes are the salt), the hash base64.
            digest, iterations, salt, expected = (
                found[1],
                int(found[2]),
                found[3].encode(),
                _b64(found[4]),
            )
        elif found := self.PHC.fullmatch(original):
            digest = found[1] or "sha1"  # passlib writes plain `$pbkdf2$` for SHA-1
            params = found[2]
            # passlib's adapted base64 is standard base64 with '.' for '+', which Kratos's
            # raw base64 never contains: one decoder reads both.
            salt, expected = _ab64(found[3]), _ab64(found[4])
            if params.startswith("i="):
                iterations_text, length_text = params[2:].split(",l=")
                iterations = int(iterations_text)
                if int(length_text) != len(expected):
                    raise Refused(
                        "malformed_hash", _("De lengte l= past niet bij de hash (PBKDF2).")
                    )
            else:
                iterations = int(params)
        else:
            raise Refused("malformed_hash", _("Geen geldige PBKDF2-hash."))
        if not 1 <= iterations <= PBKDF2_MAX_ITERATIONS:
            raise Refused(
                "hash_too_costly",
                _("PBKDF2 met %(n)d iteraties: toegestaan is 1 tot en met %(max)d.")
                % {"n": iterations, "max": PBKDF2_MAX_ITERATIONS},
            )
        _check_salt_and_hash(salt, expected)
        return Pbkdf2(digest, iterations, salt, expected)

    def compute(self, password: bytes, parsed: Pbkdf2) -> bool:
        derived = hashlib.pbkdf2_hmac(
            parsed.digest, password, parsed.salt, parsed.iterations, len(parsed.expected)
        )
        return _equal(derived, parsed.expected)


@dataclass(frozen=True)
class Argon2:
    type: Type
    version: int
    memory_cost: int
    time_cost: int
    parallelism: int
    salt: bytes
    expected: bytes


class Argon2Hasher(ImportedHasher):
    algorithm = "imported-argon2"
    scheme = "argon2"
    PATTERN = re.compile(
        r"\$(argon2id|argon2i)\$(?:v=(\d+)\$)?m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"
    )

    def matches(self, original: str) -> bool:
        return original.startswith(("$argon2id$", "$argon2i$", "$argon2d$"))

    def parse(self, original: str) -> Argon2:
        found = self.PATTERN.fullmatch(original)
        if found is None:
            raise Refused(
                "malformed_hash", _("Geen geldige Argon2-hash ($argon2id$ of $argon2i$).")
            )
        # Hashes from before version 1.3 of the reference implementation have no v=.
        version = int(found[2] or 16)
        memory, time_cost, lanes = int(found[3]), int(found[4]), int(found[5])
        if version not in (16, 19):
            raise Refused("malformed_hash", _("Onbekende Argon2-versie."))
        if not (
            1 <= lanes <= ARGON2_MAX_PARALLELISM
            and 8 * lanes <= memory <= ARGON2_MAX_MEMORY_KIB
            and 1 <= time_cost <= ARGON2_MAX_TIME_COST
        ):
            raise Refused(
                "hash_too_costly",
                _(
                    "Argon2-parameters buiten de grenzen (m tot %(m)d KiB, t tot %(t)d, "
                    "p tot %(p)d)."
                )
                % {
                    "m": ARGON2_MAX_MEMORY_KIB,
                    "t": ARGON2_MAX_TIME_COST,
                    "p": ARGON2_MAX_PARALLELISM,
                },
            )
        salt, expected = _b64(found[6]), _b64(found[7])
        _check_salt_and_hash(salt, expected)
        kind = Type.ID if found[1] == "argon2id" else Type.I
        return Argon2(kind, version, memory, time_cost, lanes, salt, expected)

    def compute(self, password: bytes, parsed: Argon2) -> bool:
        derived = hash_secret_raw(
            password,
            parsed.salt,
            time_cost=parsed.time_cost,
            memory_cost=parsed.memory_cost,
            parallelism=parsed.parallelism,
            hash_len=len(parsed.expected),
            type=parsed.type,
            version=parsed.version,
        )
        return _equal(derived, parsed.expected)


@dataclass(frozen=True)
class SaltedSha:
    digest: str
    pattern: bytes  # how salt and password were joined, e.g. b"{PASSWORD}{SALT}"
    salt: bytes
    expected: bytes


_SIZES = {"sha1": 20, "sha256": 32, "sha512": 64}
_LDAP = {"SSHA": "sha1", "SSHA256": "sha256", "SSHA512": "sha512"}


class LdapSshaHasher(ImportedHasher):
    """RFC 2307 style: base64(digest(password + salt) + salt)."""

    algorithm = "imported-ssha"
    scheme = "ssha"
    PATTERN = re.compile(r"\{(SSHA|SSHA256|SSHA512)\}([A-Za-z0-9+/]+=*)", re.IGNORECASE)

    def matches(self, original: str) -> bool:
        return bool(re.match(r"\{SSHA(256|512)?\}", original, re.IGNORECASE))

    def parse(self, original: str) -> SaltedSha:
        found = self.PATTERN.fullmatch(original)
        if found is None:
            raise Refused("malformed_hash", _("Geen geldige {SSHA}-hash."))
        digest = _LDAP[found[1].upper()]
        data = _b64(found[2])
        size = _SIZES[digest]
        expected, salt = data[:size], data[size:]
        _check_salt_and_hash(salt, expected, size=size)
        return SaltedSha(digest, b"{PASSWORD}{SALT}", salt, expected)

    def compute(self, password: bytes, parsed: SaltedSha) -> bool:
        return _equal(_salted_digest(password, parsed), parsed.expected)


class SaltedShaHasher(ImportedHasher):
    """Kratos's notation for salted SHA: the pattern names the order of salt and password."""

    algorithm = "imported-sha"
    scheme = "sha"
    PATTERN = re.compile(
        r"\$(sha1|sha256|sha512)\$pf=([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*)"
    )

    def matches(self, original: str) -> bool:
        return original.startswith(("$sha1$", "$sha256$", "$sha512$"))

    def parse(self, original: str) -> SaltedSha:
        found = self.PATTERN.fullmatch(original)
        if found is None:
            raise Refused(
                "malformed_hash", _("Geen geldige gezouten SHA-hash ($sha256$pf=...$...$...).")
            )
        pattern = _b64(found[2])
        if pattern.count(b"{PASSWORD}") != 1 or b"{SALT}" not in pattern:
            raise Refused(
                "weak_hash",
                _("Het patroon pf= moet {PASSWORD} eenmaal en {SALT} bevatten (ongezouten?)."),
            )
        salt, expected = _b64(found[3]), _b64(found[4])
        _check_salt_and_hash(salt, expected, size=_SIZES[found[1]])
        return SaltedSha(found[1], pattern, salt, expected)

    def compute(self, password: bytes, parsed: SaltedSha) -> bool:
        return _equal(_salted_digest(password, parsed), parsed.expected)


def _salted_digest(password: bytes, parsed: SaltedSha) -> bytes:
    # Both placeholders in one pass: a password that contains the text "{SALT}" stays itself.
    joined = re.sub(
        rb"\{PASSWORD\}|\{SALT\}",
        lambda m: password if m[0] == b"{PASSWORD}" else parsed.salt,
        parsed.pattern,
    )
    return hashlib.new(parsed.digest, joined).digest()


def _check_salt_and_hash(salt: bytes, expected: bytes, *, size: int | None = None) -> None:
    if len(salt) < MIN_SALT_BYTES:
        raise Refused(
            "weak_hash",
            _("Het zout is korter dan %(n)d bytes: zo goed als ongezouten.")
            % {"n": MIN_SALT_BYTES},
        )
    if (size is not None and len(expected) != size) or len(expected) < min(
        MIN_HASH_BYTES, size or MIN_HASH_BYTES
    ):
        raise Refused("malformed_hash", _("De hash heeft niet de juiste lengte."))


HASHERS: tuple[ImportedHasher, ...] = (
    BcryptHasher(),
    Pbkdf2Hasher(),
    Argon2Hasher(),
    LdapSshaHasher(),
    SaltedShaHasher(),
)

# Recognised, and refused: why each is not imported is said in the report.
_UNSALTED_HEX = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128}")
_WEAK_PREFIXES = (
    "{MD5}",
    "{SMD5}",
    "{SHA}",
    "{SHA256}",
    "{SHA512}",
    "{CRYPT}",
    "{CLEARTEXT}",
    "{PLAIN}",
    "$1$",
    "$md5$",
    "$md5-crypt$",
    "md5$",
    "unsalted_md5$",
    "unsalted_sha1$",
    "crypt$",
)
_WEAK_PREFIXES_UPPER = tuple(prefix.upper() for prefix in _WEAK_PREFIXES)
_AMBIGUOUS = re.compile(r"(sha1|sha256|sha512)\$[^$]*\$[0-9a-fA-F]+", re.IGNORECASE)
_UNSUPPORTED_PREFIXES = (
    "$5$",
    "$6$",
    "$sha256-crypt$",
    "$sha512-crypt$",
    "$scrypt$",
    "$firescrypt$",
    "$hmac-",
    "$argon2d$",
)


def adopt(raw: str) -> str:
    """Return how a hash from another system is stored here, or raise Refused (and why)."""
    original = raw.strip()
    for hasher in HASHERS:
        if hasher.matches(original):
            hasher.parse(original)
            return f"{hasher.algorithm}${original}"
    upper = original.upper()
    if _UNSALTED_HEX.fullmatch(original) or upper.startswith(_WEAK_PREFIXES_UPPER):
        # Refused, not imported with a flag: an unsalted MD5 or SHA hash is reversed by
        # public tables in seconds, and MD5 schemes run at billions of guesses a second on
        # one graphics card. Keeping one would keep a password that is as good as known;
        # such an account is imported without a password only if the operator says so
        # (--weak-hashes without-password), and the patron then chooses a new one.
        raise Refused(
            "weak_hash",
            _(
                "Ongezouten of MD5-hash: niet veilig genoeg om te bewaren. Laat de klant "
                "een nieuw wachtwoord kiezen."
            ),
        )
    if _AMBIGUOUS.fullmatch(original):
        raise Refused(
            "ambiguous_hash",
            _(
                "Onbekend in welke volgorde zout en wachtwoord zijn samengevoegd; schrijf "
                "de hash als $sha256$pf=<base64 van {SALT}{PASSWORD}>$<zout>$<hash> "
                "(docs/import.md)."
            ),
        )
    if original.startswith(_UNSUPPORTED_PREFIXES):
        raise Refused(
            "unsupported_hash", _("Dit hashformaat wordt (nog) niet ondersteund bij import.")
        )
    raise Refused("unknown_hash_format", _("Onbekend hashformaat."))
