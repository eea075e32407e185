"""Sealing what must not sit in the database file as plain text, and tags that find without naming.

Two things about a reporter are needed later without being stored openly:

- **their chat**, to relay a coordinator's answer, but only when they asked to be contacted. It is
  *sealed* (authenticated encryption, Fernet: AES-128-CBC with HMAC-SHA256) under a key derived
  from the data directory's secret key. Queued messages are sealed the same way, so relayed text
  never lies in the file as plain text either.
- **which reports are theirs**, so `/mina` can list them. That needs a lookup, not a secret: an
  *owner tag* is the HMAC of the Telegram user id. It is deterministic under one key, so the same
  person always finds their reports, and without the key it cannot be turned back into an id or
  checked against a guessed one.

- **who a member is**, to find them when they write again: a *member key* is the HMAC of the
  user id under a third derived key, so it differs from the owner tag of the same person, and
  `users` cannot be joined to `report_links` without the secret key.

All keys are derived from the one 32-byte secret key with HMAC-SHA256 over fixed labels, so they
are independent of each other and of the key used for invite codes: a tag reveals nothing about
the encryption key, and the invite hashes nothing about either.

Someone with the database file *and* `secret.key` can read everything sealed here; the point is
that a copied database, a backup of it, or a look with `sqlite3` does not.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["KEY_SIZE", "SealError", "Sealer"]

KEY_SIZE = 32
"""The size of the data directory's secret key (`bot.datadir.KEY_SIZE`)."""

# Labels of the derived keys. Changing one makes everything sealed or tagged before unreadable
# or unfindable, so they are fixed forever; a new purpose gets a new label.
_SEAL_LABEL = b"trygg/v1/seal"
_TAG_LABEL = b"trygg/v1/owner-tag"
# Its own label, so that a member's key in `users` and the owner tag of their reports in
# `report_links` differ: without the secret key the two tables cannot be joined.
_MEMBER_LABEL = b"trygg/v1/member-key"

MEMBER_KEYS_REMEMBERED = 4096
"""Member keys a `Sealer` keeps in memory (never on disk): every update looks its sender up
several times, and each lookup would otherwise compute an HMAC again. See docs/privacy.md."""


class SealError(ValueError):
    """A sealed value is not one this key made, or was changed since (or is not what it claims).

    The message never includes the value or any part of the plaintext.
    """


def _derive(key: bytes, label: bytes) -> bytes:
    return hmac.new(key, label, hashlib.sha256).digest()


class Sealer:
    """Seals and unseals bytes, JSON and chat ids, and makes owner tags, under one secret key.

    The keys live only in this object and never show in its repr, so logging a `Sealer` (or a
    dataclass holding one) does not leak them.
    """

    __slots__ = ("_fernet", "_member_key", "_member_keys", "_tag_key")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError(f"the secret key must be {KEY_SIZE} bytes, not {len(key)}")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(key, _SEAL_LABEL)))
        self._tag_key = _derive(key, _TAG_LABEL)
        self._member_key = _derive(key, _MEMBER_LABEL)
        # Bounded, least recently used first out; it lives and dies with this object, like the
        # keys it could recompute everything in it from.
        self._member_keys: Callable[[int], str] = functools.lru_cache(
            maxsize=MEMBER_KEYS_REMEMBERED
        )(self._compute_member_key)

    def __repr__(self) -> str:
        return "Sealer(<key hidden>)"

    def __reduce__(self) -> Any:
        # Pickling would write the keys wherever the pickle goes (a cache, a persistence file).
        raise TypeError("a Sealer holds secret keys and cannot be pickled")

    # --- bytes -----------------------------------------------------------------------------

    def seal(self, data: bytes) -> bytes:
        """`data` encrypted and authenticated; every call gives a different token."""
        return self._fernet.encrypt(data)

    def unseal(self, token: bytes) -> bytes:
        """The bytes sealed in `token`; `SealError` if it was changed or made with another key."""
        try:
            return self._fernet.decrypt(bytes(token))
        except (InvalidToken, TypeError, ValueError) as error:
            raise SealError("sealed data is damaged or was sealed with another key") from error

    # --- JSON ------------------------------------------------------------------------------

    def seal_json(self, obj: Any) -> bytes:
        """`obj` as compact UTF-8 JSON, sealed."""
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return self.seal(text.encode("utf-8"))

    def unseal_json(self, token: bytes) -> Any:
        """The JSON value sealed by `seal_json`."""
        data = self.unseal(token)
        try:
            return json.loads(data.decode("utf-8"))
        except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise SealError("sealed data is not JSON") from error

    # --- chats -----------------------------------------------------------------------------

    def seal_chat(self, chat_id: int) -> bytes:
        """A Telegram chat id, sealed (for `report_links`)."""
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            raise TypeError("a chat id is an int")
        return self.seal(b"chat:%d" % chat_id)

    def unseal_chat(self, token: bytes) -> int:
        """The chat id sealed by `seal_chat`."""
        data = self.unseal(token)
        prefix, _, number = data.partition(b":")
        if prefix != b"chat" or not number.lstrip(b"-").isdigit():
            raise SealError("sealed data is not a chat id")
        return int(number)

    # --- tags ------------------------------------------------------------------------------

    def owner_tag(self, user_id: int) -> str:
        """A stable, keyed tag for a Telegram user id (64 hex characters).

        The same user always gets the same tag under the same key, so it works as a lookup
        key; it cannot be turned back into the id, nor checked against a guessed id, without
        the key.
        """
        if isinstance(user_id, bool) or not isinstance(user_id, int):
            raise TypeError("a user id is an int")
        return hmac.new(self._tag_key, b"owner:%d" % user_id, hashlib.sha256).hexdigest()

    def member_key(self, user_id: int) -> str:
        """The keyed hash a user is stored under (`users`, `memberships`, `drafts`, `outbox`).

        Like `owner_tag`, but under another derived key: a member's row and their reports'
        links cannot be matched without the secret key.
        """
        if isinstance(user_id, bool) or not isinstance(user_id, int):
            raise TypeError("a user id is an int")
        return self._member_keys(user_id)

    def _compute_member_key(self, user_id: int) -> str:
        return hmac.new(self._member_key, b"member:%d" % user_id, hashlib.sha256).hexdigest()
