"""What the audit trail records: each event's ``Action`` (the ``audit.action`` column; names kept as written since
the first revision, for exports and the SIEM that reads them), ``SYSTEM``, the actor when the bot acts alone, and an
``AuditEntry``: one row as read."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

SYSTEM = "system"  # the actor of what the bot does by itself


class Action(enum.StrEnum):
    REQUESTED = "requested"  # a request stored, pending
    REFUSED = "refused"  # refused before anyone saw it (the rules, the pre-flight): kept failed
    APPROVAL = "approval"  # one approval of several needed
    APPROVED = "approved"  # the approval that completed it
    DENIED = "denied"
    WITHDRAWN = "withdrawn"  # by its requester (or, an extension, by the bot when its session stopped)
    EXPIRED = "expired"  # nobody answered in time
    FAILED = "failed"  # Descope refused, or the rules closed it
    ACTIVATED = "activated"  # the token minted and recorded
    PUT_OFF = "activation_put_off"  # Descope's rate limit asked the bot to wait: the impersonate call is made later
    TOKEN_SHOWN = "token_shown"  # Show token opened the modal
    DELIVERY_FAILED = "delivery_failed"  # Slack refused the token DM: the session is stopped
    WARNED = "warned"  # the requester warned that the session ends soon
    EXTENDED = "extended"  # the session replaced by its extension
    STOP_REQUESTED = "stop_requested"
    STOP_FAILING = "stop_failing"  # the calls that end it at Descope keep failing
    STOPPED = "stopped"
    REMINDED = "reminded"  # the approvers reminded
    NOT_POSTED = "not_posted"  # the approvals channel refused the approval message
    PROOF_FAILED = "verification_failed"  # a second-factor code Descope did not accept
    PROOF_LOCKED = "verification_locked"  # too many wrong codes: that person is refused on the request
    PROOF_FORGED = "verification_forged"  # Descope's answer to a code failed the bot's own checks of its session
    PROOF_SENT = "verification_code_sent"  # Descope asked to mail someone a code
    ESCALATED = "escalated"  # a pending request opened to its escalation approvers
    BREAK_GLASS = "break_glass"  # a session started at once by its requester, with no approver
    REVIEWED = "reviewed"  # an approver said a break-glass session looks right
    FLAGGED = "flagged"  # an approver stopped a break-glass session and flagged it
    REVIEW_REMINDED = "review_reminded"  # the approvers reminded that a break-glass session awaits review
    OUTSIDE_IMPERSONATION = "outside_impersonation"  # Descope's audit shows an impersonation no session accounts for


@dataclass(frozen=True)
class AuditEntry:
    """One event of the audit trail, as stored."""

    id: int
    request_id: str | None  # None: an event of no request (an impersonation outside the bot)
    at: datetime
    actor: str
    action: Action
    from_state: str | None
    to_state: str | None
    detail: str | None
