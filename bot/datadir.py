"""The data directory: the database and the secret key, readable by the bot's user only.

The directory holds who belongs to which organisation and, later, incident reports from people
who are being threatened. A group- or world-readable directory on a shared server would hand that
to anyone with a login, so it is made owner-only on every start, not just when it is created.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
KEY_MODE = 0o600
KEY_SIZE = 32
KEY_FILE = "secret.key"
DB_FILE = "trygg.sqlite3"


class DataDirError(RuntimeError):
    """The data directory cannot be used; the message says what to do."""


@dataclass(frozen=True)
class DataDir:
    """Paths in the data directory and the loaded secret key (hidden from repr and logs)."""

    path: Path
    db_path: Path
    secret_key: bytes = field(repr=False)


def prepare_data_dir(path: Path) -> DataDir:
    """Create or tighten the data directory and load (or create) its secret key."""
    path = Path(path)
    _prepare_directory(path)
    key = _load_or_create_key(path / KEY_FILE)
    return DataDir(path=path, db_path=path / DB_FILE, secret_key=key)


def _prepare_directory(path: Path) -> None:
    """Make `path` an owner-only directory, logging when an existing one was looser."""
    if path.exists() and not path.is_dir():
        raise DataDirError(f"data directory {path} exists but is not a directory")
    created = not path.exists()
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(DIR_MODE)
        if not created:  # a new directory only differs because of the umask: nothing to report
            log.warning("tightened permissions of data directory %s from %03o to 700", path, mode)


def _load_or_create_key(key_path: Path) -> bytes:
    """The 32-byte key in `key_path`, created if absent.

    The key signs invite codes (their HMAC is what is stored), so replacing it silently would
    break every invite link already sent. A file of the wrong size is therefore refused rather
    than overwritten: a person decides whether to restore the right file or start over.
    """
    try:
        return _read_key(key_path)
    except FileNotFoundError:
        pass
    # FileExistsError: another process created it between our read and our create.
    with contextlib.suppress(FileExistsError):
        _create_key(key_path)
    return _read_key(key_path)


def _read_key(key_path: Path) -> bytes:
    fd = os.open(key_path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DataDirError(f"{key_path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            os.fchmod(fd, KEY_MODE)
            log.warning("tightened permissions of %s from %03o to 600", key_path, mode)
        if info.st_size != KEY_SIZE:
            raise _wrong_size(key_path, info.st_size)
        with os.fdopen(fd, "rb", closefd=False) as file:
            key = file.read(KEY_SIZE + 1)
    finally:
        os.close(fd)
    if len(key) != KEY_SIZE:  # changed while we read it
        raise _wrong_size(key_path, len(key))
    return key


def _wrong_size(key_path: Path, size: int) -> DataDirError:
    return DataDirError(
        f"{key_path} holds {size} bytes, but a key of this bot is {KEY_SIZE} bytes. "
        "Restore the original file from a backup (invite links already sent depend on it), "
        "or move it away to have a new key created (links already sent will stop working)."
    )


def _create_key(key_path: Path) -> None:
    """Write a new key so that it appears whole or not at all.

    The bytes go to a temporary file created with O_CREAT|O_EXCL and mode 0600 (never readable
    by others, not even for a moment); `os.link` then publishes it under its name, failing if a
    key already exists. A crash leaves at most a stray temporary file, never a short key.
    """
    temporary = key_path.with_name(f".{key_path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, KEY_MODE)
    try:
        with os.fdopen(fd, "wb") as file:  # closes fd; write() retries short writes
            file.write(secrets.token_bytes(KEY_SIZE))
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, key_path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(key_path.parent)
    log.info("created a new secret key in %s", key_path)


def _fsync_directory(path: Path) -> None:
    """Persist the new directory entry, so the key survives a power cut right after start."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
