"""``bot.store.sealing``: the token at rest (sealed, and only opened with the same key)."""

from __future__ import annotations

import pytest

from bot.store.sealing import Sealer, SealError

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMSIsImV4cCI6MX0.c2lnbmF0dXJlLXNlY3JldA"


@pytest.mark.parametrize("plaintext", [JWT, "", "ünïcødé ✓", "x" * 5000])
def test_seal_and_open_round_trip(plaintext: str) -> None:
    sealer = Sealer("a key")
    sealed = sealer.seal(plaintext)
    assert isinstance(sealed, str)
    sealed.encode("ascii")  # fits any text column
    assert sealer.open(sealed) == plaintext


def test_sealed_text_does_not_contain_the_plaintext() -> None:
    sealed = Sealer("a key").seal(JWT)
    assert JWT not in sealed
    for part in JWT.split("."):
        assert part not in sealed


def test_sealing_twice_gives_different_ciphertexts() -> None:
    sealer = Sealer("a key")
    assert sealer.seal(JWT) != sealer.seal(JWT)


def test_same_secret_opens_across_instances() -> None:
    assert Sealer("a key").open(Sealer("a key").seal(JWT)) == JWT


def test_a_different_key_raises_seal_error() -> None:
    sealed = Sealer("a key").seal(JWT)
    with pytest.raises(SealError):
        Sealer("another key").open(sealed)


def _flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1:]


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_tampered_ciphertext_raises_seal_error(where: str) -> None:
    sealed = Sealer("a key").seal(JWT)
    index = {"start": 1, "middle": len(sealed) // 2, "end": len(sealed) - 5}[where]
    with pytest.raises(SealError):
        Sealer("a key").open(_flip(sealed, index))


@pytest.mark.parametrize("garbage", ["", "not-a-fernet-token", "gAAAAA", "====="])
def test_garbage_raises_seal_error(garbage: str) -> None:
    with pytest.raises(SealError):
        Sealer("a key").open(garbage)


def test_truncated_ciphertext_raises_seal_error() -> None:
    sealed = Sealer("a key").seal(JWT)
    with pytest.raises(SealError):
        Sealer("a key").open(sealed[:-10])


def test_non_ascii_garbage_raises_seal_error() -> None:
    with pytest.raises(SealError):
        Sealer("a key").open("gAAAAAé")


def test_sealer_repr_hides_the_key() -> None:
    assert "a key" not in repr(Sealer("a key"))
