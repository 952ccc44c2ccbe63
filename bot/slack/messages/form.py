"""The request form's words: its labels and hints, the windows it offers, each field's problems (the same rules
as the typed command, said for a field: plain text, Slack shows a field error as it is), and what it turns into."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import (
    DomainError,
    NotInTenant,
    RequestView,
    TenantsUnknown,
    WindowOutOfPolicy,
)
from bot.slack.commands import MAX_REASON, Problem, UsageError
from bot.slack.messages.replies import not_in_tenant, refusal, tenants_unknown, usage_problem, window_bound
from bot.slack.mrkdwn import target, unformatted, when

TITLE = "Request impersonation"  # Slack: at most 24 characters
SUBMIT = "Send request"
CANCEL = "Cancel"
INTRO = ("A second admin approves it in the approvals channel; the token then comes to you alone, through your "
         "DM with the bot. Your requests are on the bot's Home tab.")

LOGIN_ID_LABEL = "Login ID"
LOGIN_ID_PLACEHOLDER = "jane@acme.com"
LOGIN_ID_HINT = "The Descope login ID of the user to act as, usually their email."
TENANT_LABEL = "Tenant"
TENANT_PLACEHOLDER = "acme-eu"
TENANT_HINT = "The Descope tenant ID to act in. Leave it empty for none."
WINDOW_LABEL = "Window"
WINDOW_HINT = ("How long the token works once approved; left empty, the policy's default for this user. It can be "
               "ended sooner with /impersonate stop.")
WINDOW_PLACEHOLDER = "The policy's default"
REASON_LABEL = "Reason"
REASON_PLACEHOLDER = "e.g. checking invoice SUP-123"
REASON_HINT = f"Why you need to act as this user; link a ticket. At most {MAX_REASON} characters."

EMERGENCY_LABEL = "Emergency"
EMERGENCY_OPTION = "This is an emergency: start now, with no approver (break-glass)"
EMERGENCY_HINT = ("Only where the policy allows it, for an outage: the session starts at once, the approvers are "
                  "alerted and review it after. Give a reason of 15 characters or more.")

SENT_TITLE = "Request sent"
FAILED_TITLE = "Not sent"
CLOSE = "Close"
BACK = "Back to the form"


def window_option(duration: timedelta) -> str:
    """``timedelta(minutes=90)`` → ``1 hour 30 minutes``."""
    hours, rest = divmod(int(duration.total_seconds()), 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n} {unit}{'' if n == 1 else 's'}"
             for n, unit in ((hours, "hour"), (minutes, "minute"), (seconds, "second")) if n]
    return " ".join(parts) or "0 seconds"


def field_problem(exc: UsageError) -> str:
    """What is wrong with one field of the form, by the command's rules."""
    f = exc.facts
    match exc.problem:
        case Problem.NO_LOGIN_ID:
            return "Give the Descope login ID of the user to impersonate, e.g. jane@acme.com."
        case Problem.LOGIN_ID_TOO_LONG:
            return f"The login ID is too long (more than {f['limit']} characters)."
        case Problem.TENANT_TOO_LONG:
            return f"The tenant ID is too long (more than {f['limit']} characters)."
        case Problem.BAD_DURATION | Problem.NOT_A_DURATION:
            return "Choose one of the windows offered."
        case Problem.WINDOW_OUT_OF_POLICY:
            window = f["window"]
            assert isinstance(window, WindowOutOfPolicy)
            return f"That window is out of policy: {window_bound(window)}."
        case Problem.NO_REASON:
            return "A reason is required: say why you need to impersonate this user (e.g. a ticket)."
        case Problem.REASON_TOO_LONG:
            return f"The reason is {f['length']} characters long; keep it under {f['limit']} (link a ticket)."
    return usage_problem(exc)  # the command's own grammar: not a field's problem


def field_refusal(exc: DomainError) -> str:
    """A rule's refusal of the whole request, shown on the field that can fix it: the command's sentence as plain
    text, but where it tells what to type differently (a form has a tenant field, not ``--tenant``)."""
    match exc:
        case NotInTenant():
            said = not_in_tenant(exc, "Leave the tenant empty, or give one of the user's tenants.")
        case TenantsUnknown():
            said = tenants_unknown(exc, "Name the tenant, or try again in a minute.")
        case _:
            said = refusal(exc)
    return unformatted(said)  # the command's own sentence, as plain text


# -- the extension form (``views/extend.py``) ---------------------------------------------------------------

EXTEND_TITLE = "Extend session"  # Slack: at most 24 characters
EXTEND_SUBMIT = "Ask for more time"
EXTEND_SENT_TITLE = "Extension asked"
EXTEND_PREPARING = "Looking up the session…"
EXTEND_WINDOW_LABEL = "More time"
EXTEND_WINDOW_HINT = ("Added to the session's end once approved (within the policy's longest window). You keep the "
                      "current token until the new one is ready.")
EXTEND_REASON_HINT = f"Why you need more time; link a ticket. At most {MAX_REASON} characters."


def extend_intro(session: RequestView) -> str:
    assert session.ends_at is not None
    return (f"Session `{session.id}` ({target(session)}) ends at {when(session.ends_at)}. The approvers decide on the "
            "extension like on any request; if nobody approves it in time, the session simply ends then.")
