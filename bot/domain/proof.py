"""A second factor: which one a request asks of its approvers (``approval_mfa``) or of its requester before the
token is shown (``reveal_mfa``), and the proof that someone gave it.

    Mfa.NONE < Mfa.EMAIL < Mfa.TOTP      (the strictest of several rules wins: ``Mfa.strictest``)

A ``Proof`` is made only by the workflow that had Descope verify a code and checked the session it answered
(``workflows.verification``); the approval and the reveal accept one for their own request, person and purpose, of
at least the method asked. Pure: no Descope, no Slack.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta


class Mfa(enum.StrEnum):
    """A second factor Descope can verify from inside a Slack modal (passkeys and SSO need a browser)."""

    NONE = "none"
    EMAIL = "email"  # a code Descope mails to the person's address
    TOTP = "totp"  # the 6-digit code of their authenticator app

    @property
    def strength(self) -> int:
        return _STRENGTH[self]

    @property
    def needed(self) -> bool:
        return self is not Mfa.NONE

    def satisfied_by(self, given: Mfa | None) -> bool:
        """Whether a proof made with ``given`` (``None``: none) is at least what this asks."""
        return not self.needed or (given is not None and given.strength >= self.strength)

    @staticmethod
    def strictest(methods: Iterable[Mfa]) -> Mfa:
        return max(methods, key=lambda m: m.strength, default=Mfa.NONE)

    @staticmethod
    def parse(text: str) -> Mfa | None:
        """The method ``text`` names (any case, spaces around ignored), or ``None``."""
        try:
            return Mfa(text.strip().lower())
        except ValueError:
            return None


_STRENGTH = {Mfa.NONE: 0, Mfa.EMAIL: 1, Mfa.TOTP: 2}
MFA_VALUES = tuple(m.value for m in Mfa)
#: Wrong codes a person may type on one request; the last of them refuses them on it.
MAX_WRONG_CODES = 5
#: Wrong codes a person may type in an hour across all requests (someone guessing on every request at once).
MAX_WRONG_CODES_PER_HOUR = 10
#: Codes mailed to a person for one request, and the least time between two.
MAX_CODES_MAILED = 5
CODE_MAIL_GAP = timedelta(seconds=30)
#: How long one code's check at Descope may hold that person's turn on a request (a crash gives it back then).
CHECK_TURN = timedelta(seconds=60)


class Purpose(enum.StrEnum):
    """What a proof is for."""

    APPROVE = "approve"  # an approver's Approve
    REVEAL = "reveal"  # the requester's Show token
    BREAK_GLASS = "break_glass"  # a requester starting a break-glass session (where the rules ask approvers to prove)


@dataclass(frozen=True)
class Proof:
    """``user_id`` proved themselves with ``method`` for ``purpose`` on request ``request_id`` (Descope verified the
    code and the bot checked the session it answered)."""

    request_id: str
    user_id: str
    purpose: Purpose
    method: Mfa

    def covers(self, request_id: str, user_id: str, purpose: Purpose, asked: Mfa) -> bool:
        return (self.request_id, self.user_id, self.purpose) == (request_id, user_id, purpose) and \
            asked.satisfied_by(self.method)
