"""What happened, as data: a failed request's ``Failure``, a session's ``Ending``, a stop that keeps failing,
whom an activation impersonated as, whom a reminder mentioned, an approval's tally, a session's link to its
extension, an approval message the channel refused, a second factor that did not pass.

The workflows record these (on the row and in the audit trail, JSON-encoded); ``bot.slack.messages`` turns
them into sentences. Rows written before this encoding hold plain text: ``decode_failure`` and
``decode_detail`` hand that back as ``Legacy`` so it is still shown, as written.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from bot.domain.proof import Mfa, Purpose


class FailureKind(enum.StrEnum):
    MANAGEMENT_KEY = "management_key"  # Descope refused the bot's management key (401)
    NO_PERMISSION = "no_permission"  # the impersonator lacks the Impersonate permission
    NO_CONSENT = "no_consent"  # the target has not consented
    UNKNOWN_USER = "unknown_user"  # no Descope user with that login ID
    NOT_IN_TENANT = "not_in_tenant"  # the target is not in the requested tenant
    USER_DISABLED = "user_disabled"  # the target's Descope user is disabled (pre-flight)
    BAD_TENANT = "bad_tenant"  # a tenant problem without a tenant given
    REFUSED = "refused"  # another 4xx: Descope's own description is all we have
    UNAVAILABLE = "unavailable"  # no answer (outage, rate limit, network) after retries
    MAYBE_MINTED = "maybe_minted"  # no answer after the call may have reached Descope
    NO_EMAIL = "no_email"  # the requester's Slack profile has no email
    GAVE_UP = "gave_up"  # activation kept failing for an unexpected reason
    FORBIDDEN = "forbidden"  # a POLICY_FILE rule says nobody may impersonate this target (allow = false)
    ORIGINAL_ENDED = "original_ended"  # an extension approved after the session it extends had ended
    TENANTS_UNKNOWN = "tenants_unknown"  # no tenant named, the target's tenants unknown, and rules name tenants
    WINDOW_OUT_OF_POLICY = "window_out_of_policy"  # the rules, asked again, no longer allow the window asked
    NOT_A_REQUESTER = "not_a_requester"  # the requester lost the right to ask (REQUESTERS, the rule) before it counted
    BREAK_GLASS_REFUSED = "break_glass_refused"  # a break-glass the rules refused (``description``: which refusal)


@dataclass(frozen=True)
class Failure:
    """Why a request ended ``failed``. ``error`` is a one-line summary of the fault (no secrets)."""

    kind: FailureKind
    login_id: str | None = None
    tenant: str | None = None
    impersonator: str | None = None
    status: int | None = None
    code: str | None = None
    description: str | None = None
    error: str | None = None
    rule: str | None = None  # FORBIDDEN: the rule's name
    original: str | None = None  # ORIGINAL_ENDED: the session the extension was for
    #: MAYBE_MINTED: until when a token Descope may have minted unseen lives at most (ISO 8601, UTC)
    expires: str | None = None
    #: WINDOW_OUT_OF_POLICY: the window asked and the bounds the rules allow now, in seconds
    asked_s: int | None = None
    low_s: int | None = None
    high_s: int | None = None


class EndReason(enum.StrEnum):
    WINDOW_ENDED = "window_ended"
    STOPPED_EARLY = "stopped_early"
    EXTENDED = "extended"  # replaced by its extension's session (whose token was delivered first)


class TokenFate(enum.StrEnum):
    """How the token ended, when not by the stop call."""

    UNSEALABLE = "unsealable"  # the stored token could not be unsealed: it expires on its own
    UNKNOWN_TO_DESCOPE = "unknown_to_descope"  # Descope no longer knew the session
    EXPIRED_AFTER_FAILING = "expired_after_failing"  # the stop call failed, but the token has expired
    ALREADY_REVOKED = "already_revoked"  # Descope said the token was already expired or revoked
    NEVER_MINTED = "never_minted"  # stopped while being activated, before the impersonate call: no token exists


@dataclass(frozen=True)
class Ending:
    """How a session ended (the ``stopped`` audit row's detail)."""

    reason: EndReason
    token: TokenFate | None = None
    code: str | None = None  # Descope's error code or status, for UNKNOWN_TO_DESCOPE


class Call(enum.StrEnum):
    """The two calls that end a session at Descope."""

    STOP = "stop"  # POST /v1/mgmt/stop/impersonation
    LOGOUT = "logout"  # POST /v1/auth/logout with the token: the revocation


@dataclass(frozen=True)
class StopFailing:
    """The calls that end a session keep failing (the ``stop_failing`` audit row's detail)."""

    attempts: int
    error: str
    call: Call = Call.STOP


@dataclass(frozen=True)
class Activated:
    """Whom Descope was asked to let act (the ``activated`` audit row's detail)."""

    impersonator: str


@dataclass(frozen=True)
class PutOff:
    """An activation Descope's rate limit put off (the ``activation_put_off`` audit row's detail): its impersonate
    call is made again at ``until`` (ISO 8601), ``retry_after_s`` from when it was put off (Descope's ``Retry-After``,
    or the wait for the turn the gate booked for it)."""

    until: str
    retry_after_s: float


@dataclass(frozen=True)
class Reminded:
    """A reminder to the approvers of a pending request (the ``reminded`` audit row's detail)."""

    count: int
    approvers: tuple[str, ...]  # user (U…/W…) and user-group (S…) IDs, mentioned in the reminder


@dataclass(frozen=True)
class Tally:
    """An approval (the ``approval`` audit row's detail, one of several needed; the ``approved`` row's, when it was
    proved): how many count so far, and the second factor its approver proved themselves with (``None``: a click)."""

    count: int
    needed: int
    mfa: Mfa | None = None


@dataclass(frozen=True)
class Escalated:
    """A pending request opened to more people (the ``escalated`` audit row's detail): whom (user and group IDs), and
    why: nobody answered within ``after_s`` seconds, or (``no_active_approver``) none of its approvers is active in
    Slack any more."""

    to: tuple[str, ...]
    after_s: int | None = None
    no_active_approver: bool = False


@dataclass(frozen=True)
class Outside:
    """An impersonation Descope's audit shows that no session of the bot accounts for (the ``outside_impersonation``
    audit row's detail): whom (the Descope user ID, login, name), when (ISO 8601, UTC) and, where Descope says, by
    whom."""

    user_id: str
    occurred: str
    login_id: str | None = None
    name: str | None = None
    actor: str | None = None


@dataclass(frozen=True)
class Proved:
    """The second factor someone proved themselves with before the bot did what they asked (the ``token_shown`` audit
    row's detail, under ``reveal_mfa``)."""

    mfa: Mfa


@dataclass(frozen=True)
class Verification:
    """A second factor that did not pass (the ``verification_*`` audit rows' detail): for what (``purpose``), by which
    method, why (``why``: Descope's error code, or the check the session failed) and the wrong codes so far."""

    purpose: Purpose
    mfa: Mfa
    why: str
    failures: int | None = None


@dataclass(frozen=True)
class Linked:
    """The link between a session and its extension: on the extension's ``requested`` row, the session it
    extends (``extends``); on the session's ``extended`` row, the extension that replaces it (``by``)."""

    extends: str | None = None
    by: str | None = None


@dataclass(frozen=True)
class NotPosted:
    """The approvals channel refused the approval message (the ``not_posted`` audit row's detail): Slack's reason."""

    error: str
    channel: str | None = None


@dataclass(frozen=True)
class Legacy:
    """Text recorded before details were data: shown as it was written."""

    text: str


Recorded = (Failure | Ending | StopFailing | Activated | PutOff | Reminded | Tally | Linked | NotPosted | Verification
            | Proved | Escalated | Outside)
Detail = Recorded | Legacy
_KINDS: dict[str, type[Recorded]] = {
    "failure": Failure, "ending": Ending, "stop_failing": StopFailing, "activated": Activated, "put_off": PutOff,
    "reminded": Reminded, "tally": Tally, "linked": Linked, "not_posted": NotPosted, "verification": Verification,
    "proved": Proved, "escalated": Escalated, "outside": Outside}
_ENUMS: dict[str, type[enum.StrEnum]] = {"kind": FailureKind, "reason": EndReason, "token": TokenFate, "call": Call,
                                         "mfa": Mfa, "purpose": Purpose}


def encode(detail: Recorded) -> str:
    name = next(key for key, cls in _KINDS.items() if isinstance(detail, cls))
    values = {key: value for key, value in asdict(detail).items() if value is not None}
    return json.dumps({"type": name, **values}, separators=(",", ":"))


def decode_detail(text: str | None) -> Detail | None:
    if text is None:
        return None
    try:
        data: Any = json.loads(text)
        cls = _KINDS[data.pop("type")]
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {k: (_ENUMS[k](v) if k in _ENUMS and v is not None else
                                      tuple(v) if isinstance(v, list) else v)
                                  for k, v in data.items() if k in known}
        return cls(**values)
    except (ValueError, TypeError, KeyError, AttributeError):
        return Legacy(text)


def decode_failure(text: str | None) -> Failure | Legacy | None:
    detail = decode_detail(text)
    return detail if isinstance(detail, Failure | Legacy) or detail is None else Legacy(text or "")
