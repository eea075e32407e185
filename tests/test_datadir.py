"""The data directory: owner-only permissions and a secret key created once, never replaced."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.datadir import DataDirError, prepare_data_dir


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
    key_file = path / "secret.key"
    assert mode_of(key_file) == 0o600
    assert key_file.read_bytes() == data.secret_key
    assert len(data.secret_key) == 32
    assert data.db_path == path / "trygg.sqlite3"
    assert sorted(p.name for p in path.iterdir()) == ["secret.key"]  # no temporary file left


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
    (path / "secret.key").chmod(0o644)
    assert prepare_data_dir(path).secret_key == key
    assert mode_of(path / "secret.key") == 0o600
    assert "secret.key" in caplog.text


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
