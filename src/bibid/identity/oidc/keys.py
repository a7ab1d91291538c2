"""The RSA keys that sign ID tokens and logout tokens, kept as PEM files.

`active.pem` signs; `inactive/*.pem` are earlier keys, still published in the JWKS so that
tokens they signed stay verifiable until those tokens expire. `bibid rotate-oidc-key` moves
the active key to `inactive/` and makes a new one (services read the keys when they start).
Plain files and no models: the settings read them before Django is set up.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def key_dir(var_dir: Path) -> Path:
    return Path(os.environ.get("BIBID_OIDC_KEY_DIR", var_dir / "secrets" / "oidc"))


def _new_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Private key: readable by the service's user only, written atomically.
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def load(directory: Path, *, allow_generated: bool) -> tuple[str, list[str]]:
    """(active PEM, inactive PEMs newest first). In demo/development a missing key is made;
    in production it must be provisioned (`bibid rotate-oidc-key`), a system check says so."""
    active = directory / "active.pem"
    if not active.exists():
        if not allow_generated:
            return "", []
        _write_private(active, _new_pem())
    inactive = sorted((directory / "inactive").glob("*.pem"), key=_retired_at, reverse=True)
    return active.read_text(), [p.read_text() for p in inactive]


def _retired_at(path: Path) -> float:
    """When a key was retired (seconds), from its file name: nanoseconds since the epoch."""
    stamp = int(path.stem) if path.stem.isdigit() else 0
    return stamp / 1e9 if stamp > 10**12 else float(stamp)


def rotate(directory: Path, *, keep_seconds: int) -> tuple[int, int]:
    """Make a new active key; keep the old one as inactive; drop inactive keys older than
    `keep_seconds` (nothing they signed is still valid). Returns (kept, dropped)."""
    active = directory / "active.pem"
    now = time.time_ns() / 1e9
    if active.exists():
        # Nanoseconds: two rotations within a second must not overwrite a retired key.
        _write_private(directory / "inactive" / f"{time.time_ns()}.pem", active.read_bytes())
    _write_private(active, _new_pem())
    kept = dropped = 0
    for path in (directory / "inactive").glob("*.pem"):
        if now - _retired_at(path) > keep_seconds:
            path.unlink()
            dropped += 1
        else:
            kept += 1
    return kept, dropped
