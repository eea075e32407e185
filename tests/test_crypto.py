"""Sealing and owner tags: round trips, tampering, stable keyed tags, and keys that never show."""

from __future__ import annotations

import pickle

import pytest

from bot.crypto import KEY_SIZE, MEMBER_KEYS_REMEMBERED, Sealer, SealError

KEY = bytes(range(KEY_SIZE))
OTHER_KEY = bytes(reversed(range(KEY_SIZE)))
CHAT = 987654321012


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(KEY)


def test_bytes_round_trip_and_every_seal_differs(sealer: Sealer) -> None:
    data = "Hotet kom via sms, Åsa.".encode()
    first, second = sealer.seal(data), sealer.seal(data)
    assert first != second  # a fresh IV each time: equal plaintexts do not show as equal
    assert data not in first
    assert sealer.unseal(first) == sealer.unseal(second) == data


def test_json_round_trip_keeps_unicode_and_structure(sealer: Sealer) -> None:
    payload = {"text": "<b>Ärende R-7K3M9Q</b> – ny", "buttons": [[{"text": "Kvittera"}]], "n": 3}
    token = sealer.seal_json(payload)
    assert "Ärende".encode() not in token
    assert sealer.unseal_json(token) == payload


@pytest.mark.parametrize("chat_id", [CHAT, -1001234567890, 1, 0])
def test_chat_round_trip(sealer: Sealer, chat_id: int) -> None:
    token = sealer.seal_chat(chat_id)
    if abs(chat_id) > 10**6:  # a short number shows up in any base64 text by chance
        assert str(chat_id).encode() not in token
    assert sealer.unseal_chat(token) == chat_id


def test_tampering_is_detected(sealer: Sealer) -> None:
    token = bytearray(sealer.seal(b"secret"))
    for position in (0, len(token) // 2, len(token) - 2):
        changed = bytearray(token)
        changed[position] = ord("A") if changed[position] != ord("A") else ord("B")
        with pytest.raises(SealError):
            sealer.unseal(bytes(changed))
    with pytest.raises(SealError):
        sealer.unseal(bytes(token[:-8]))
    with pytest.raises(SealError):
        sealer.unseal(b"")
    with pytest.raises(SealError):
        sealer.unseal(b"not a token at all")


def test_another_key_cannot_unseal(sealer: Sealer) -> None:
    with pytest.raises(SealError):
        Sealer(OTHER_KEY).unseal_chat(sealer.seal_chat(CHAT))


def test_a_sealed_value_of_another_kind_is_refused(sealer: Sealer) -> None:
    with pytest.raises(SealError, match="not a chat"):
        sealer.unseal_chat(sealer.seal_json({"chat": 1}))
    with pytest.raises(SealError, match="not JSON"):
        sealer.unseal_json(sealer.seal(b"\xff\xfe"))


def test_owner_tag_is_stable_distinct_and_key_dependent(sealer: Sealer) -> None:
    tag = sealer.owner_tag(CHAT)
    assert tag == Sealer(KEY).owner_tag(CHAT)  # deterministic: the same person finds their reports
    assert len(tag) == 64 and int(tag, 16) >= 0
    assert tag != sealer.owner_tag(CHAT + 1)
    assert tag != Sealer(OTHER_KEY).owner_tag(CHAT)
    assert str(CHAT) not in tag


def test_subkeys_are_independent_of_the_secret_key(sealer: Sealer) -> None:
    """Neither the tag nor a token is (or contains) the raw key or a plain HMAC with it."""
    import hashlib
    import hmac

    plain = hmac.new(KEY, str(CHAT).encode(), hashlib.sha256).hexdigest()
    assert sealer.owner_tag(CHAT) != plain
    assert KEY.hex() not in sealer.owner_tag(CHAT)


def test_keys_never_show(sealer: Sealer) -> None:
    text = repr(sealer) + str(sealer)
    assert KEY.hex() not in text
    assert repr(KEY) not in text
    assert "hidden" in repr(sealer)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(sealer)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_a_key_of_the_wrong_size_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Sealer(bytes(size))


def test_ids_must_be_ints(sealer: Sealer) -> None:
    with pytest.raises(TypeError):
        sealer.owner_tag(True)
    with pytest.raises(TypeError):
        sealer.seal_chat("123")  # type: ignore[arg-type]


def test_remembered_member_keys_belong_to_their_own_key() -> None:
    """The in-memory memo of member keys is per Sealer: a key asked for under one secret key is
    never the answer under another, and what is remembered equals what is computed."""
    first, second = Sealer(bytes(range(32))), Sealer(bytes(32))
    for _ in range(2):  # the second round is answered from memory
        assert first.member_key(42) != second.member_key(42)
    assert first.member_key(42) == Sealer(bytes(range(32))).member_key(42)
    assert first.member_key(42) != first.owner_tag(42)


def test_remembered_member_keys_are_bounded() -> None:
    sealer = Sealer(bytes(32))
    keys = [sealer.member_key(user_id) for user_id in range(MEMBER_KEYS_REMEMBERED + 10)]
    assert len(set(keys)) == len(keys)
    assert sealer._member_keys.cache_info().currsize == MEMBER_KEYS_REMEMBERED
    # The oldest were let go and come back the same when asked again.
    assert sealer.member_key(0) == keys[0]
    with pytest.raises(TypeError):
        sealer.member_key(True)
