"""The data directory and the secret key: owner-only, kept apart, the key created once and never
replaced, and a database that refuses a key it was not made with."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.datadir import (
    CREDENTIAL,
    DataDirError,
    WrongKeyError,
    create_key_file,
    open_database,
    prepare_data_dir,
)

NO_ENV: dict[str, str] = {}


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_directory_and_key_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "data"
    with umask(0):
        data = prepare_data_dir(path)
    assert mode_of(path) == 0o700
    key_file = tmp_path / "nested" / "data.key"  # beside the directory, not in it
    assert data.key_path == key_file
    assert mode_of(key_file) == 0o600
    assert key_file.read_bytes() == data.secret_key
    assert len(data.secret_key) == 32
    assert data.db_path == path / "trygg.sqlite3"
    assert list(path.iterdir()) == []  # a copy of the directory holds no key
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["data", "data.key"]  # no temp


def test_the_key_is_created_once_and_reused(tmp_path: Path) -> None:
    first = prepare_data_dir(tmp_path / "data")
    second = prepare_data_dir(tmp_path / "data")
    assert first.secret_key == second.secret_key
    assert prepare_data_dir(tmp_path / "other").secret_key != first.secret_key


def test_a_loose_existing_directory_is_tightened_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "data"
    path.mkdir()
    path.chmod(0o755)
    prepare_data_dir(path)
    assert mode_of(path) == 0o700
    assert "tightened permissions of data directory" in caplog.text


def test_a_loose_key_file_is_tightened(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "data"
    key = prepare_data_dir(path).secret_key
    (tmp_path / "data.key").chmod(0o644)
    assert prepare_data_dir(path).secret_key == key
    assert mode_of(tmp_path / "data.key") == 0o600
    assert "data.key" in caplog.text


@pytest.mark.parametrize("content", [b"", b"x" * 31, b"x" * 33, b"a" * 64])
def test_a_key_of_the_wrong_size_is_refused_and_kept(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    (path / "secret.key").write_bytes(content)
    with pytest.raises(DataDirError, match=f"holds {len(content)} bytes.*32 bytes"):
        prepare_data_dir(path)
    assert (path / "secret.key").read_bytes() == content  # never overwritten


def test_a_file_in_place_of_the_directory_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_text("not a directory")
    with pytest.raises(DataDirError, match="not a directory"):
        prepare_data_dir(path)


def test_the_key_stays_out_of_repr(tmp_path: Path) -> None:
    data = prepare_data_dir(tmp_path / "data")
    assert "secret_key" not in repr(data)
    assert data.secret_key.hex() not in repr(data)


# ------------------------------------------------------------------------------ where the key is


def test_trygg_key_file_is_used_and_created_where_it_says(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "trygg.key"
    key_file.parent.mkdir()
    env = {"TRYGG_KEY_FILE": str(key_file)}
    first = prepare_data_dir(tmp_path / "data", environ=env)
    assert first.key_path == key_file
    assert key_file.read_bytes() == first.secret_key
    assert prepare_data_dir(tmp_path / "data", environ=env).secret_key == first.secret_key
    assert not (tmp_path / "data.key").exists()


def test_a_key_file_in_a_missing_folder_says_what_to_do(tmp_path: Path) -> None:
    env = {"TRYGG_KEY_FILE": str(tmp_path / "nowhere" / "trygg.key")}
    with pytest.raises(DataDirError, match=r"cannot create the secret key.*trygg keygen"):
        prepare_data_dir(tmp_path / "data", environ=env)


def test_a_systemd_credential_is_read_and_never_written(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    create_key_file(credentials / CREDENTIAL)
    (credentials / CREDENTIAL).chmod(0o400)
    data = prepare_data_dir(tmp_path / "data", environ={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert data.secret_key == (credentials / CREDENTIAL).read_bytes()
    assert not (tmp_path / "data.key").exists()


def test_an_old_key_in_the_data_directory_still_works_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    create_key_file(path / "secret.key")
    data = prepare_data_dir(path, environ=NO_ENV)
    assert data.secret_key == (path / "secret.key").read_bytes()
    assert "Move it out and set TRYGG_KEY_FILE" in caplog.text
    assert not (tmp_path / "data.key").exists()  # no second key made beside it


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    create_key_file(tmp_path / "k")
    before = (tmp_path / "k").read_bytes()
    with pytest.raises(DataDirError, match="never overwritten"):
        create_key_file(tmp_path / "k")
    assert (tmp_path / "k").read_bytes() == before


async def test_a_database_refuses_a_key_it_was_not_made_with(tmp_path: Path) -> None:
    data = prepare_data_dir(tmp_path / "data", environ=NO_ENV)
    db = await open_database(data)
    await db.close()
    db = await open_database(data)  # the same key: fine, again and again
    await db.close()
    (tmp_path / "data.key").unlink()
    other = prepare_data_dir(tmp_path / "data", environ=NO_ENV)  # a new key is made
    assert other.secret_key != data.secret_key
    with pytest.raises(WrongKeyError, match=r"another secret key.*TRYGG_KEY_FILE"):
        await open_database(other)


def test_an_old_key_left_beside_a_moved_one_is_pointed_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "data"
    path.mkdir(mode=0o700)
    create_key_file(path / "secret.key")
    create_key_file(tmp_path / "data.key")  # moved out (a copy), the old one not yet deleted
    data = prepare_data_dir(path, environ=NO_ENV)
    assert data.key_path == tmp_path / "data.key"
    assert "secret.key is still in the data directory" in caplog.text
