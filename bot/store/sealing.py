"""Sealing the impersonation token at rest: authenticated encryption (Fernet: AES-CBC + HMAC-SHA256).

The bot must keep the token until it can call stop-impersonation, so it stores it, but only sealed.
The key is ``TOKEN_ENCRYPTION_KEY`` (any string; stretched with HKDF), or, when unset, derived from the
Descope management key: whoever can read both the database and the key could mint tokens anyway.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"impersonation-bot/token-sealing/v1"


class SealError(Exception):
    """A sealed value could not be opened: wrong key or tampered data."""


class Sealer:
    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeEncodeError):
            raise SealError("the sealed token cannot be opened with this key") from None

    def __repr__(self) -> str:
        return "Sealer(**********)"
