"""`trygg backup` and `trygg restore`: a consistent copy of the database, never the key.

The copy is made with SQLite's online backup API, so it is consistent while the bot runs and
writes (a plain `cp` of a database in WAL mode can miss what is still in the -wal file, or catch
a page half-written). The copy is one self-contained file (journal mode DELETE), owner-only.

The key stays out of it on purpose: a backup that travels (to tape, to another site) is then
unreadable where it is sealed, and the key is backed up once, elsewhere (docs/deploy.md).
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
import sqlite3
from pathlib import Path

from bot.datadir import DataDirError, WrongKeyError, key_check_value, wrong_key_message

FILE_MODE = 0o600


class BackupError(DataDirError):
    """The backup or restore cannot be done; the message says why and what to do."""


def _temporary_beside(target: Path) -> Path:
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    os.close(fd)
    return temporary


def _copy(source: Path, target: Path) -> None:
    """`source` into the new file `target` through the online backup API, then checked."""
    # Read-write, as the bot opens it: read-only would fail on a WAL database whose -shm the
    # stopped bot removed. The backup API only reads it.
    src = sqlite3.connect(f"file:{source}?mode=rw", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # one file: no -wal beside the copy
            (result,) = dst.execute("PRAGMA quick_check").fetchone()
            if result != "ok":
                raise BackupError(f"the copy of {source} failed its check: {result}")
        finally:
            dst.close()
    finally:
        src.close()
    with open(target, "rb") as file:
        os.fsync(file.fileno())


def backup(db_path: Path, out: Path) -> int:
    """Write a consistent copy of the database at `db_path` to `out`; returns its size."""
    if not db_path.exists():
        raise BackupError(f"no database at {db_path}: nothing to back up (check TRYGG_DATA_DIR)")
    out = Path(out)
    if out.is_dir():
        raise BackupError(f"{out} is a directory; give a file name, e.g. {out}/trygg.sqlite3")
    if not out.parent.is_dir():
        raise BackupError(f"the folder {out.parent} does not exist; create it first")
    try:
        temporary = _temporary_beside(out)
    except OSError as error:
        raise BackupError(f"cannot write in {out.parent}: {error.strerror}") from None
    try:
        _copy(db_path, temporary)
        os.replace(temporary, out)  # whole or not at all, also over yesterday's copy
    except sqlite3.Error as error:
        raise BackupError(f"could not copy {db_path}: {error}") from None
    except OSError as error:
        raise BackupError(f"could not write {out}: {error.strerror}") from None
    finally:
        temporary.unlink(missing_ok=True)
    return out.stat().st_size


def stored_key_check(path: Path) -> str | None:
    """The key check value stored in the database file `path`, or None (made before v5)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise BackupError(f"cannot open {path}: {error}") from None
    try:
        (result,) = conn.execute("PRAGMA quick_check").fetchone()
        if result != "ok":
            raise BackupError(f"{path} is damaged ({result}); take an older backup")
        row = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'key_check'"
        ).fetchone()
        if row is None:
            return None
        value = conn.execute("SELECT value FROM key_check WHERE id = 1").fetchone()
        return None if value is None else str(value[0])
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not a trygg database ({error})") from None
    finally:
        conn.close()


def restore(source: Path, db_path: Path, key: bytes, *, force: bool) -> None:
    """Put the backup `source` in place of the database at `db_path`, if `key` is its key.

    The bot must be stopped: the file is replaced under it otherwise.
    """
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    stored = stored_key_check(source)
    if stored is not None and not hmac.compare_digest(stored, key_check_value(key)):
        raise WrongKeyError(wrong_key_message(f"The backup {source}"))
    if db_path.exists() and not force:
        raise BackupError(
            f"{db_path} exists. Stop the bot, then run again with --force to replace it "
            "(back it up first if in doubt)"
        )
    temporary = _temporary_beside(db_path)
    try:
        _copy(source, temporary)
        for suffix in ("-wal", "-shm", "-journal"):  # the old file's log must not replay
            with contextlib.suppress(FileNotFoundError):
                Path(f"{db_path}{suffix}").unlink()
        os.replace(temporary, db_path)
    except sqlite3.Error as error:
        raise BackupError(f"could not restore from {source}: {error}") from None
    finally:
        temporary.unlink(missing_ok=True)
