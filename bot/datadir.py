"""The data directory and the secret key, each readable by the bot's user only, kept apart.

The directory holds who belongs to which organisation and incident reports from people who are
being threatened. A group- or world-readable directory on a shared server would hand that to
anyone with a login, so it is made owner-only on every start, not just when it is created.

The secret key seals and tags what the database must not hold in clear (bot/crypto.py), so it is
kept *outside* the data directory: a copy or backup of the directory alone does not open what is
sealed.
Where the key is, first found first:

1. `TRYGG_KEY_FILE`, created there if it does not exist yet;
2. a systemd credential, `$CREDENTIALS_DIRECTORY/trygg-key` (`LoadCredential=trygg-key:...`);
3. `secret.key` inside the data directory, where older versions kept it: still used, with a
   warning to move it;
4. `<data directory>.key` beside the directory (`./data.key` for `./data`), created on first
   start, so a fresh clone runs with no set-up.

The database remembers a check value of its key (`key_check`), so starting on a restored
database with another key stops with a message instead of failing later on every sealed row.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.storage import Database

log = logging.getLogger(__name__)

DIR_MODE = 0o700
KEY_MODE = 0o600
KEY_SIZE = 32
KEY_FILE = "secret.key"
"""The key's name inside the data directory in older versions (still found, with a warning)."""
DB_FILE = "trygg.sqlite3"
KEY_ENV = "TRYGG_KEY_FILE"
CREDENTIAL = "trygg-key"
"""The systemd credential's name: `LoadCredential=trygg-key:/etc/trygg/secret.key`."""

# Fixed forever: the database stores HMAC(key, this label) to recognise its key.
_CHECK_LABEL = b"trygg/v1/key-check"


class DataDirError(RuntimeError):
    """The data directory cannot be used; the message says what to do."""


class WrongKeyError(DataDirError):
    """The secret key is not the one the database was made with."""


@dataclass(frozen=True)
class DataDir:
    """Paths in the data directory and the loaded secret key (hidden from repr and logs)."""

    path: Path
    db_path: Path
    secret_key: bytes = field(repr=False)
    key_path: Path | None = None


def default_key_path(data_dir: Path) -> Path:
    """`<data directory>.key`, beside the directory rather than in it."""
    data_dir = Path(data_dir)
    return data_dir.parent / f"{data_dir.name or 'data'}.key"


def locate_key(
    data_dir: Path, key_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Path, bool]:
    """Where the key is, and whether it may be created there (see the module's docstring)."""
    env = os.environ if environ is None else environ
    if key_file is None and env.get(KEY_ENV, "").strip():
        key_file = Path(env[KEY_ENV].strip())
    if key_file is not None:
        return Path(key_file), True
    credentials = env.get("CREDENTIALS_DIRECTORY", "").strip()
    if credentials and (Path(credentials) / CREDENTIAL).exists():
        return Path(credentials) / CREDENTIAL, False  # read-only, made by systemd
    legacy = Path(data_dir) / KEY_FILE
    default = default_key_path(data_dir)
    if legacy.exists() and not default.exists():
        log.warning(
            "the secret key is inside the data directory (%s): a copy of the directory then "
            "holds everything needed to read it. Move it out and set %s (docs/deploy.md)",
            legacy,
            KEY_ENV,
        )
        return legacy, False
    if legacy.exists():
        log.warning("%s is still in the data directory beside %s: delete it", legacy, default)
    return default, True


def prepare_data_dir(
    path: Path, key_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> DataDir:
    """Create or tighten the data directory and load (or create) the secret key."""
    path = Path(path)
    _prepare_directory(path)
    key_path, may_create = locate_key(path, key_file, environ)
    key = _load_or_create_key(key_path) if may_create else _read_key_or_explain(key_path)
    return DataDir(path=path, db_path=path / DB_FILE, secret_key=key, key_path=key_path)


def key_check_value(key: bytes) -> str:
    """A value that recognises `key` and tells nothing about it (an HMAC of a fixed label)."""
    return hmac.new(key, _CHECK_LABEL, hashlib.sha256).hexdigest()


def wrong_key_message(where: str) -> str:
    return (
        f"{where} was made with another secret key than the one loaded. Nothing sealed in it "
        f"(report links, queued messages) could be read. Set {KEY_ENV} (or the trygg-key "
        "credential) to the key that was in use when it was made; docs/deploy.md, Restore."
    )


def create_key_file(key_path: Path) -> None:
    """A new key at `key_path` (`trygg keygen`); an existing file is never replaced."""
    try:
        _create_key(Path(key_path))
    except FileExistsError:
        raise DataDirError(f"{key_path} exists; a key is never overwritten") from None
    except OSError as error:
        raise DataDirError(f"cannot write {key_path}: {error.strerror}") from None


def _read_key_or_explain(key_path: Path) -> bytes:
    try:
        return _read_key(key_path)
    except OSError as error:
        raise DataDirError(f"cannot read the secret key {key_path}: {error.strerror}") from None


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
    except OSError as error:
        raise DataDirError(f"cannot read the secret key {key_path}: {error.strerror}") from None
    try:
        # FileExistsError: another process created it between our read and our create.
        with contextlib.suppress(FileExistsError):
            _create_key(key_path)
    except OSError as error:
        raise DataDirError(
            f"cannot create the secret key {key_path}: {error.strerror}. Create it where the "
            f"bot may read it (trygg keygen FILE) and set {KEY_ENV}"
        ) from None
    return _read_key_or_explain(key_path)


def _read_key(key_path: Path) -> bytes:
    fd = os.open(key_path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DataDirError(f"{key_path} is not a regular file")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            try:
                os.fchmod(fd, KEY_MODE)
            except OSError:  # a read-only secret mount: say so, it is still the operator's key
                log.warning("the secret key %s is readable by others (%03o)", key_path, mode)
            else:
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


async def open_database(data_dir: DataDir) -> Database:
    """The database, migrated, after checking that it was made with the loaded key.

    The first open stores the key's check value; every later one compares it, so a restored
    database beside the wrong key stops here with `WrongKeyError`, not on the first sealed row.
    """
    from bot.crypto import Sealer
    from bot.storage import Database, StorageError

    try:
        db = await Database.open(data_dir.db_path, Sealer(data_dir.secret_key))
    except StorageError as error:
        if "another secret key" not in str(error):
            raise
        raise WrongKeyError(wrong_key_message(f"The database {data_dir.db_path}")) from None
    expected = key_check_value(data_dir.secret_key)
    try:
        stored = await db.key_check(expected)
    except BaseException:
        await db.close()
        raise
    if not hmac.compare_digest(stored, expected):
        await db.close()
        raise WrongKeyError(wrong_key_message(f"The database {data_dir.db_path}"))
    return db
