"""The rules of an impersonation request. Pure: no Slack, no HTTP, no SQL.

The workflows ask this package *whether* something may happen and *what is due*; the store makes it
happen atomically; ``bot.slack.messages`` says it in words.

    states     State, the allowed moves (TRANSITIONS), check_transition
    request    Draft (as typed), RequestView (as stored; never the token)
    errors     refusals that carry data (NotAllowed, PolicyViolation, AlreadyDecided …)
    rules      who may approve or stop; which windows are allowed
    outcomes   why a request failed or a session ended, as data (JSON in the database)
    schedule   what is due for a request, and when: the one function the scheduler, sweep and tick ask
    target     the user to impersonate as Descope knows it (the pre-flight), or not verified
    home       what a person's App Home shows, as data (each list capped, with how many it leaves out)
    policy     the rules file's rules: which rules decide a request (a Decision: strictest wins), what they allow
    proof      a second factor (Mfa) asked of approvers or of the requester before Show token, and its Proof
"""

from bot.domain.errors import (
    AlreadyApproved,
    AlreadyDecided,
    AlreadyOpen,
    DomainError,
    Forbidden,
    MayNotExtend,
    MayNotStop,
    NoLongerAllowed,
    NotAllowed,
    NotAnApprover,
    NotARequester,
    NotExtendable,
    NotFound,
    NotInTenant,
    NotPostedYet,
    NotStoppable,
    OwnRequest,
    PolicyViolation,
    TargetDisabled,
    TargetRefused,
    TenantsUnknown,
    TokenUnavailable,
    TooFewApprovers,
    TooManyPending,
    UnknownTarget,
    WindowOutOfPolicy,
    WrongMessage,
)
from bot.domain.request import Draft, RequestView
from bot.domain.rules import (
    check_approvable,
    check_approver,
    check_duration,
    check_may_stop,
    check_window,
    window_problem,
)
from bot.domain.states import FINAL_STATES, LIVE_STATES, TRANSITIONS, InvalidTransition, State, check_transition

__all__ = [
    "FINAL_STATES",
    "LIVE_STATES",
    "TRANSITIONS",
    "AlreadyApproved",
    "AlreadyDecided",
    "AlreadyOpen",
    "DomainError",
    "Draft",
    "Forbidden",
    "InvalidTransition",
    "MayNotExtend",
    "MayNotStop",
    "NoLongerAllowed",
    "NotARequester",
    "NotAllowed",
    "NotAnApprover",
    "NotExtendable",
    "NotFound",
    "NotInTenant",
    "NotPostedYet",
    "NotStoppable",
    "OwnRequest",
    "PolicyViolation",
    "RequestView",
    "State",
    "TargetDisabled",
    "TargetRefused",
    "TenantsUnknown",
    "TokenUnavailable",
    "TooFewApprovers",
    "TooManyPending",
    "UnknownTarget",
    "WindowOutOfPolicy",
    "WrongMessage",
    "check_approvable",
    "check_approver",
    "check_duration",
    "check_may_stop",
    "check_transition",
    "check_window",
    "window_problem",
]
