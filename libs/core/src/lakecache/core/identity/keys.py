"""Service keys: each service's Ed25519 signing key, and the public keys it trusts.

A keys directory (``identity.keys_dir``, default ``<home>/keys``) holds::

    <service>.key           the service's private key (PKCS#8 PEM): a secret, mode 0600
    <issuer>.pub            a public key this installation's services trust, named by its issuer
    <issuer>.<label>.pub    another key of the same issuer (rotation: the next or the previous one)
    metrics-token           the bearer token that reads the internal services' ``/metrics`` (0600)

A key's id (``kid``) is derived from the key itself (the first 16 hex digits of the SHA-256 of
its raw bytes), so two files cannot disagree about which key an id names, and a signature says
which key made it. A public key speaks only for the issuer its file is named after.

The directory is configuration, like a volume's root: files are read where they are (a
Kubernetes secret is a symlink into ``..data/``), but a private key readable by anyone else is
refused, as ``ssh`` refuses one. In the embedded default each service generates its key pair at
its first start (``identity.generate_keys``); in production keys are provisioned as secrets and
only public keys are shared. Rotation needs no restart: a signature by an unknown key id makes
the verifier read the directory again when it changed (or at most once a second).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lakecache.core.errors import ConfigurationError

log = logging.getLogger(__name__)

METRICS_TOKEN_FILE = "metrics-token"
_ISSUER = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_MAX_KEY_FILE = 64 * 1024


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    """A service's private key, ready to sign as ``issuer``."""

    issuer: str
    kid: str
    private: Ed25519PrivateKey


@dataclass(frozen=True)
class TrustedKey:
    issuer: str
    kid: str
    public: Ed25519PublicKey


def _read_small(path: Path, *, secret: bool) -> bytes:
    """The bytes of a regular file, checked on the opened descriptor (no check-then-use)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigurationError(f"{path} is not a regular file")
        if secret and info.st_mode & 0o077:
            raise ConfigurationError(
                f"{path} is readable by other users (mode {stat.S_IMODE(info.st_mode):o}); a private key must "
                f"be private: chmod 600 {path} (in Kubernetes, mount the secret with defaultMode 0400)")
        if info.st_size > _MAX_KEY_FILE:
            raise ConfigurationError(f"{path} is {info.st_size} bytes; a key file is a few hundred")
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read(_MAX_KEY_FILE)
    finally:
        os.close(fd)


def _write_new(path: Path, data: bytes, mode: int) -> bool:
    """Write ``path`` only if it does not exist yet (another process may race us): True if written."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)  # fails if another process was first: its file wins
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temp)


def private_directory(path: Path) -> Path:
    """``path`` as a directory only this OS user can enter: created 0700, or tightened to 0700
    when this user owns it (logged); left as is, with a warning, when it cannot be."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if stat.S_IMODE(info.st_mode) & 0o077:
        if info.st_uid == os.getuid():
            try:
                path.chmod(0o700)
                log.warning("%s was readable by other users (mode %o); made it private (0700)", path,
                            stat.S_IMODE(info.st_mode))
            except OSError as exc:
                log.warning("%s is readable by other users and could not be made private: %s", path, exc)
        else:
            log.warning("%s is readable by other users and owned by another user (uid %d)", path, info.st_uid)
    return path


class KeyRing:
    """The keys of one keys directory: this service's signing key (if it signs) and every
    trusted public key, by id. Blocking methods: call them from a worker thread."""

    def __init__(self, directory: Path, signing: SigningKey | None = None, *, rescan_seconds: float = 1.0) -> None:
        self.directory = directory
        self._signing = signing
        self._trusted: dict[str, TrustedKey] = {}
        self._rescan_seconds = rescan_seconds
        self._scanned_at = float("-inf")
        self._scanned_version: int | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, directory: Path, own: str | None = None, *, generate: bool = False) -> KeyRing:
        """The key ring of ``directory``; with ``own``, that service's signing key, generated
        (with its ``.pub``) when missing and ``generate`` is set. Blocking."""
        ring = cls(directory)
        if own is not None:
            if not _ISSUER.match(own):
                raise ConfigurationError(f"service name {own!r} cannot name a key")
            ring._signing = _load_or_generate(directory, own, generate)
        ring.refresh()
        return ring

    @property
    def signing_key(self) -> SigningKey:
        if self._signing is None:
            raise ConfigurationError(f"no signing key was loaded from {self.directory}")
        return self._signing

    def trusted(self, kid: str) -> TrustedKey | None:
        """The public key with id ``kid`` as last read (no I/O)."""
        return self._trusted.get(kid)

    def should_refresh(self) -> bool:
        """Whether reading the directory again may find new keys: it changed since the last read
        (one ``stat``), or the last read is older than ``rescan_seconds``."""
        return self._version() != self._scanned_version or time.monotonic() - self._scanned_at >= self._rescan_seconds

    def _version(self) -> int | None:
        try:
            return os.stat(self.directory).st_mtime_ns
        except OSError:
            return None

    def refresh(self) -> None:
        """Read every ``*.pub`` of the directory again (a rotation added or removed keys)."""
        version = self._version()
        found: dict[str, TrustedKey] = {}
        with contextlib.suppress(FileNotFoundError):
            for entry in sorted(os.scandir(self.directory), key=lambda e: e.name):
                if not entry.name.endswith(".pub") or entry.name.startswith("."):
                    continue
                issuer = entry.name.split(".", 1)[0]
                if not _ISSUER.match(issuer):
                    continue
                try:
                    public = serialization.load_pem_public_key(_read_small(Path(entry.path), secret=False))
                except (ValueError, ConfigurationError, OSError):
                    continue  # a half-written or foreign file: it trusts nothing
                if isinstance(public, Ed25519PublicKey):
                    kid = key_id(public)
                    found[kid] = TrustedKey(issuer, kid, public)
        with self._lock:
            self._trusted, self._scanned_at, self._scanned_version = found, time.monotonic(), version


def _load_or_generate(directory: Path, name: str, generate: bool) -> SigningKey:
    path = directory / f"{name}.key"
    if not path.exists() and generate:
        private_directory(directory)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        _write_new(path, pem, 0o600)
    try:
        data = _read_small(path, secret=True)
    except FileNotFoundError:
        raise ConfigurationError(
            f"the {name} service has no signing key at {path}: provide it as a secret (an Ed25519 key in PKCS#8 "
            "PEM, `openssl genpkey -algorithm ed25519`), or set LAKECACHE_IDENTITY__GENERATE_KEYS=true") from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigurationError(f"{path} holds a {type(private).__name__}; LakeCache signs with Ed25519 keys")
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    public_path = directory / f"{name}.pub"
    if generate and not public_path.exists():
        _write_new(public_path, public_pem, 0o644)
    return SigningKey(name, key_id(private.public_key()), private)


def metrics_token(directory: Path, *, generate: bool) -> str | None:
    """The internal services' ``/metrics`` bearer token, generated when missing and ``generate``;
    None when there is none (``/metrics`` then refuses every request). Blocking."""
    path = directory / METRICS_TOKEN_FILE
    if not path.exists() and generate:
        private_directory(directory)
        _write_new(path, ("lcm_" + secrets.token_urlsafe(32)).encode(), 0o600)
    try:
        return _read_small(path, secret=True).decode().strip() or None
    except FileNotFoundError:
        return None
