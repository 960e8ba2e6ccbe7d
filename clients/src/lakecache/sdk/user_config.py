"""The user's login: the gateway, the token and a default project that ``lakecache login`` keeps in
``$XDG_CONFIG_HOME/lakecache/config.toml`` (``~/.config/lakecache/config.toml`` when unset).

The file holds a secret, so it is handled like an SSH key: written atomically (a new file in the
same directory, then renamed over the old one) with mode 0600 in a directory of mode 0700; read
and written through a descriptor opened with ``O_NOFOLLOW``, so a symbolic link planted at its
path is refused instead of followed (it could point the token at, or the settings from, a file
someone else chose); and a file that others may read or that another user owns is refused
rather than trusted.

The settings read it as their lowest-priority source (``UserConfigSource``, after arguments,
``LAKECACHE_*`` environment variables and the project's ``lakecache.toml``). The token applies
only to the gateway it was stored for: with ``LAKECACHE_API_URL`` pointing elsewhere, it is not
sent there.
"""

from __future__ import annotations

import os
import secrets
import stat
import tomllib
from pathlib import Path
from typing import Any

from pydantic_settings import PydanticBaseSettingsSource

from lakecache.core.errors import ConfigurationError

#: The keys a login file may hold (others are left alone when reading, dropped when writing).
KEYS = ("api_url", "token", "project")
FILE_NAME = "config.toml"
_FILE_MODE, _DIR_MODE = 0o600, 0o700


def user_config_dir() -> Path | None:
    """``$XDG_CONFIG_HOME/lakecache``, else ``~/.config/lakecache``; ``None`` without a home."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative value is to be ignored
        try:
            base = str(Path.home() / ".config")
        except (RuntimeError, KeyError):  # no HOME and no password entry (some containers)
            return None
    return Path(base) / "lakecache"


def user_config_path() -> Path | None:
    """Where ``lakecache login`` keeps the login (see ``user_config_dir``)."""
    directory = user_config_dir()
    return directory / FILE_NAME if directory is not None else None


def _refuse(path: Path, problem: str) -> ConfigurationError:
    return ConfigurationError(f"the login file {path} {problem}; remove it (`lakecache logout`) and run "
                              "`lakecache login` again")


def read_user_config(path: Path | None = None) -> dict[str, str]:
    """The login file's values (empty when there is none). ``ConfigurationError`` when the path is
    a symbolic link or not a regular file, when others may read it or another user owns it, or
    when it is not TOML with string values."""
    path = path or user_config_path()
    if path is None:
        return {}
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return {}
    except NotADirectoryError:
        return {}
    except OSError as exc:
        if os.path.islink(path):
            raise _refuse(path, "is a symbolic link (it is never followed)") from None
        raise ConfigurationError(f"cannot read the login file {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(path, "is not a regular file")
        if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
            raise _refuse(path, "belongs to another user")
        if info.st_mode & 0o077:
            raise ConfigurationError(f"the login file {path} holds a token but others may access it (mode "
                                     f"{stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}`, or log in again")
        data = file.read()
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _refuse(path, f"is not valid TOML ({exc})") from None
    values = {key: parsed[key] for key in KEYS if key in parsed}
    wrong = sorted(key for key, value in values.items() if not isinstance(value, str))
    if wrong:
        raise _refuse(path, f"has non-text values for {', '.join(wrong)}")
    return values


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string: quotes, backslashes and control characters escaped
    (TOML allows none of them bare; everything else is UTF-8 as is)."""
    escaped = []
    for char in value:
        if char in ('"', "\\"):
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _open_private_dir(directory: Path) -> int:
    """A descriptor of ``directory`` (created 0700, parents as usual), never through a symbolic link."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(directory, _DIR_MODE)
    except FileExistsError:
        pass
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ConfigurationError(f"cannot use {directory} for the login ({exc.strerror or exc}; a symbolic link "
                                 "is never followed): remove it and log in again") from None
    info = os.fstat(fd)
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        os.close(fd)
        raise ConfigurationError(f"{directory} belongs to another user; the login is not stored there")
    if stat.S_IMODE(info.st_mode) != _DIR_MODE:
        os.fchmod(fd, _DIR_MODE)  # ours: others have no business listing it
    return fd


def write_user_config(values: dict[str, str], path: Path | None = None) -> Path:
    """Replace the login file with ``values`` (``KEYS`` only), atomically and with mode 0600;
    ``ConfigurationError`` when a symbolic link or anything but a regular file is at its path."""
    path = path or user_config_path()
    if path is None:
        raise ConfigurationError("no home directory to keep the login in: set XDG_CONFIG_HOME or HOME")
    text = "".join(f"{key} = {toml_string(values[key])}\n" for key in KEYS if values.get(key) is not None)
    dir_fd = _open_private_dir(path.parent)
    try:
        try:
            existing = os.lstat(path.name, dir_fd=dir_fd)
        except FileNotFoundError:
            existing = None
        if existing is not None and not stat.S_ISREG(existing.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(existing.st_mode) else "not a regular file"
            raise _refuse(path, f"is {kind} (it is never followed)")
        temp = f".{path.name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                     _FILE_MODE, dir_fd=dir_fd)
        try:
            os.fchmod(fd, _FILE_MODE)  # whatever the umask
            with os.fdopen(fd, "wb") as file:
                file.write(text.encode("utf-8"))
                file.flush()
                os.fsync(file.fileno())
            os.rename(temp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(temp, dir_fd=dir_fd)
            except OSError:
                pass
            raise
        os.fsync(dir_fd)  # the rename survives a crash
    finally:
        os.close(dir_fd)
    return path


def remove_user_config(path: Path | None = None) -> bool:
    """Delete the login file (a symbolic link there is removed, not followed); ``False`` when
    there was none."""
    path = path or user_config_path()
    if path is None:
        return False
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def same_gateway(a: str | None, b: str | None) -> bool:
    """Whether two gateway URLs name the same gateway (a trailing slash aside)."""
    return a is not None and b is not None and a.rstrip("/") == b.rstrip("/")


class UserConfigSource(PydanticBaseSettingsSource):
    """The login file as a settings source (the lowest: see the module). Its token is given only
    when the gateway the higher sources chose is the one it was stored for."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        # Required by the base class; ``__call__`` reads the whole file at once instead.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = dict(read_user_config())
        chosen = self.current_state.get("api_url")
        if chosen is not None and not same_gateway(str(chosen), values.get("api_url")):
            values.pop("token", None)  # never send a token to a gateway it was not given for
        return values
