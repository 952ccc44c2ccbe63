"""What a person asked for that the rules refuse: exceptions that carry data, never sentences.

``bot.slack.messages.replies.refusal`` words each one for whoever asked.

    DomainError
     ├── NotFound               no request with that ID
     ├── NotAllowed             the person may not do this
     │    ├── NotARequester     not in REQUESTERS
     │    ├── NotAnApprover     not in APPROVERS (at click time)
     │    ├── OwnRequest        the requester clicked Approve/Deny on their own request
     │    ├── MayNotStop        neither the requester nor an approver (of its rule, for a waiting request)
     │    ├── NoLongerAllowed   an Approve on a request the rules no longer let go ahead (closed instead)
     │    ├── MayNotExtend      only the session's requester may ask to extend it
     │    ├── NotPostedYet      the approval message's ts is not stored yet
     │    └── WrongMessage      a button on a message that is not this request's approval message
     ├── PolicyViolation        the request breaks a rule
     │    ├── WindowOutOfPolicy the window lies outside [low, high]
     │    ├── AlreadyOpen       the requester has a live request for the same target
     │    ├── TooManyPending    the requester has ``limit`` requests pending already
     │    ├── Forbidden         the rule that matches says nobody may impersonate this target (``allow = false``)
     │    ├── TenantsUnknown    no tenant named, the target's tenants unknown, and rules name tenants
     │    └── TooFewApprovers   the rule needs more approvals than it has approvers besides the requester
     ├── TargetRefused          Descope says the target cannot be impersonated as asked
     │    ├── UnknownTarget     no Descope user with that login ID
     │    ├── TargetDisabled    the user is disabled
     │    └── NotInTenant       the user is not a member of the requested tenant
     ├── AlreadyDecided         a click on a request that is no longer pending
     ├── AlreadyApproved        an approver's second Approve on a request that needs more approvers
     ├── NotStoppable           a stop for a request that is being activated, or has ended
     ├── NotExtendable          an extension of a request that is no running session
     ├── TokenUnavailable       Show token clicked by someone else, or after the session ended
     ├── (break-glass's own refusals: ``domain.break_glass``)
     ├── ProofNeeded            the click counts only once its person proves themselves (the code modal opens)
     └── ProofFailed            a second factor that did not pass (for ``purpose``, by ``method``)
          ├── WrongCode         Descope did not accept the code: ``left`` more may be typed
          ├── ProofLocked       too many wrong codes on this request (or, ``everywhere``, lately): refused on it
          ├── ProofBusy         another code of theirs is being checked on this request right now
          ├── CodeNotMailed     a code was mailed moments ago, or too many already (``too_many``)
          ├── ProofForged       Descope's answer failed the bot's own checks (``why``)
          ├── NoDescopeLogin    no Descope user has the person's Slack email (or Slack shows none)
          └── ProofUnavailable  Descope could not be reached, or refused for another reason (``why``): try again
"""

from __future__ import annotations

from datetime import timedelta

from bot.domain.proof import Mfa, Purpose
from bot.domain.request import RequestView


class DomainError(Exception):
    """A refusal by the rules. Subclasses carry what the answer needs to say."""


class NotFound(DomainError):
    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


class NotAllowed(DomainError):
    pass


class NotARequester(NotAllowed):
    """Not among the requesters of the rule that decides the request (``rule``: its name; "" for the
    environment's REQUESTERS)."""

    def __init__(self, user_id: str, rule: str = "") -> None:
        super().__init__(user_id, rule)
        self.user_id = user_id
        self.rule = rule


class NotAnApprover(NotAllowed):
    def __init__(self, user_id: str) -> None:
        super().__init__(user_id)
        self.user_id = user_id


class OwnRequest(NotAllowed):
    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


class MayNotStop(NotAllowed):
    """``pending``: the request waits for approval, so a stop would deny it: only its rule's approvers may."""

    def __init__(self, request_id: str, user_id: str, *, pending: bool = False) -> None:
        super().__init__(request_id, user_id)
        self.request_id = request_id
        self.user_id = user_id
        self.pending = pending


class NoLongerAllowed(NotAllowed):
    """An Approve on a request the rules, asked again, no longer let go ahead (its requester was removed from the
    requesters, its rule now forbids it, or which rules apply cannot be known): it was closed instead (``request``:
    as closed, its failure saying why)."""

    def __init__(self, request: RequestView) -> None:
        super().__init__(request.id)
        self.request = request


class MayNotExtend(NotAllowed):
    def __init__(self, request_id: str, user_id: str) -> None:
        super().__init__(request_id, user_id)
        self.request_id = request_id
        self.user_id = user_id


class NotPostedYet(NotAllowed):
    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


class WrongMessage(NotAllowed):
    def __init__(self, request_id: str) -> None:
        super().__init__(request_id)
        self.request_id = request_id


class PolicyViolation(DomainError):
    pass


class WindowOutOfPolicy(PolicyViolation):
    """``rule``: the name of the POLICY_FILE rule whose bounds these are ("" for the environment's)."""

    def __init__(self, duration: timedelta, low: timedelta, high: timedelta, rule: str = "") -> None:
        super().__init__(duration, low, high, rule)
        self.duration = duration
        self.low = low
        self.high = high
        self.rule = rule

    @property
    def too_short(self) -> bool:
        return self.duration < self.low


class AlreadyOpen(PolicyViolation):
    def __init__(self, existing: RequestView) -> None:
        super().__init__(existing.id)
        self.existing = existing


class TooManyPending(PolicyViolation):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


class Forbidden(PolicyViolation):
    """``allow = false`` in the rule named ``rule``. ``request_id``: the refused request, kept for the audit."""

    def __init__(self, login_id: str, rule: str) -> None:
        super().__init__(login_id, rule)
        self.login_id = login_id
        self.rule = rule
        self.request_id: str | None = None


class TenantsUnknown(PolicyViolation):
    """A request naming no tenant, whose target's tenants Descope could not be asked for, while rules of the policy
    name tenants: which rules apply is unknown, so it is refused (``request_id``: kept for the audit)."""

    def __init__(self, login_id: str) -> None:
        super().__init__(login_id)
        self.login_id = login_id
        self.request_id: str | None = None


class TooFewApprovers(PolicyViolation):
    """The rule named ``rule`` needs ``needed`` approvals, but lists only ``available`` people (no groups) other than
    the requester: nobody could ever complete the request."""

    def __init__(self, rule: str, needed: int, available: int) -> None:
        super().__init__(rule, needed, available)
        self.rule = rule
        self.needed = needed
        self.available = available


class AlreadyDecided(DomainError):
    """A click on a request that is no longer pending."""

    def __init__(self, request: RequestView) -> None:
        super().__init__(request.id, request.state)
        self.request = request


class AlreadyApproved(DomainError):
    """An approver clicked Approve again on a request that still needs other approvers."""

    def __init__(self, request: RequestView, user_id: str) -> None:
        super().__init__(request.id, user_id)
        self.request = request
        self.user_id = user_id


class NotExtendable(DomainError):
    """An extension asked for a request that is not a running session (not active, or being stopped)."""

    def __init__(self, request: RequestView) -> None:
        super().__init__(request.id, request.state)
        self.request = request


class NotStoppable(DomainError):
    """A stop for a request that is being activated right now (``approved``) or is no longer live."""

    def __init__(self, request: RequestView) -> None:
        super().__init__(request.id, request.state)
        self.request = request


class TargetRefused(DomainError):
    """The pre-flight look-up refused the target. ``request_id``: the refused request, kept for the audit."""

    def __init__(self, login_id: str, tenant: str | None = None) -> None:
        super().__init__(login_id, tenant)
        self.login_id = login_id
        self.tenant = tenant
        self.request_id: str | None = None


class UnknownTarget(TargetRefused):
    pass


class TargetDisabled(TargetRefused):
    pass


class NotInTenant(TargetRefused):
    pass


class TokenUnavailable(DomainError):
    """Show token by someone other than the requester (``ended`` false), or once the session is over."""

    def __init__(self, request_id: str, *, ended: bool) -> None:
        super().__init__(request_id, ended)
        self.request_id = request_id
        self.ended = ended


class ProofNeeded(DomainError):
    """``user_id``'s click on ``request_id`` counts only once they prove themselves with ``method`` (for
    ``purpose``): the Slack edge opens the code modal."""

    def __init__(self, request_id: str, user_id: str, purpose: Purpose, method: Mfa) -> None:
        super().__init__(request_id, user_id, purpose, method)
        self.request_id = request_id
        self.user_id = user_id
        self.purpose = purpose
        self.method = method


class ProofFailed(DomainError):
    def __init__(self, request_id: str, purpose: Purpose, method: Mfa, why: str = "") -> None:
        super().__init__(request_id, purpose, method, why)
        self.request_id = request_id
        self.purpose = purpose
        self.method = method
        self.why = why


class WrongCode(ProofFailed):
    """Descope did not accept the code; ``left``: how many more may be typed on this request."""

    def __init__(self, request_id: str, purpose: Purpose, method: Mfa, why: str, left: int) -> None:
        super().__init__(request_id, purpose, method, why)
        self.left = left


class ProofLocked(ProofFailed):
    """Too many wrong codes on this request (``everywhere``: on any request in the past hour): the person is refused
    on it."""

    def __init__(self, request_id: str, purpose: Purpose, method: Mfa, why: str = "", *,
                 everywhere: bool = False) -> None:
        super().__init__(request_id, purpose, method, why)
        self.everywhere = everywhere


class ProofBusy(ProofFailed):
    """Another code of the person's is being checked at Descope on this request right now: one at a time."""


class CodeNotMailed(ProofFailed):
    """No new code mailed: one went moments ago, or (``too_many``) as many as may for this request."""

    def __init__(self, request_id: str, purpose: Purpose, method: Mfa, *, too_many: bool) -> None:
        super().__init__(request_id, purpose, method)
        self.too_many = too_many


class ProofForged(ProofFailed):
    """Descope's answer to the code failed the bot's own checks of its session (``why``)."""


class NoDescopeLogin(ProofFailed):
    """No Descope user has ``login_id`` (the person's Slack email; ``None``: Slack shows them none)."""

    def __init__(self, request_id: str, purpose: Purpose, method: Mfa, login_id: str | None) -> None:
        super().__init__(request_id, purpose, method)
        self.login_id = login_id


class ProofUnavailable(ProofFailed):
    """Descope could not be reached, or refused for a reason other than the code (``why``): nothing counted; try
    again."""
