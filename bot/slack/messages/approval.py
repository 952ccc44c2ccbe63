"""The approval message's words, but for its status line (``messages.status``): the fallback text, the header, the
fields (who, whom, which tenant, how long), whom Descope says the target is, the reason, the rule deciding it, the
extension that replaced the session, and Approve's confirmation."""

from __future__ import annotations

from bot.domain import RequestView
from bot.domain.durations import format_duration
from bot.slack.messages.outcomes import mention
from bot.slack.mrkdwn import target, when


def approval_fallback(request: RequestView) -> str:
    if request.extends:
        return (f"<@{request.requester_id}> asks for {format_duration(request.duration)} more on session "
                f"{request.extends} ({request.state})")
    return (f"<@{request.requester_id}> asks to impersonate {target(request)} for "
            f"{format_duration(request.duration)} ({request.state})")


def approval_header(request: RequestView) -> str:
    if request.extends:
        return (f"*Extension request* `{request.id}` \u00b7 Extension of `{request.extends}`\n"
                f"<@{request.requester_id}> asks for {format_duration(request.duration)} more on that session.")
    return f"*Impersonation request* `{request.id}`\n<@{request.requester_id}> asks to act as another user."


def policy_line(request: RequestView) -> str | None:
    """Plain text: the POLICY_FILE rule that decided the request and the approvals it needs (``None``: the
    environment's settings, one approval)."""
    if request.rule_name is None and request.approvals_needed <= 1:
        return None
    rule = f"Policy: {request.rule_name}" if request.rule_name else "Policy: default"
    return f"{rule} \u00b7 {request.approvals_needed} approval{'s' if request.approvals_needed != 1 else ''} needed"


def escalated_line(request: RequestView) -> str | None:
    """Whom the request escalated to, and when (mrkdwn: the mentions), while it is or was pending."""
    if request.escalated_at is None:
        return None
    to = " ".join(mention(p) for p in request.escalated_to)
    return f":rotating_light: Escalated to {to} at {when(request.escalated_at)}"


def extended_line(request: RequestView) -> str | None:
    """The session's link to the extension that replaced it (mrkdwn)."""
    return f":fast_forward: Extended by `{request.extended_by}`" if request.extended_by else None


def approval_fields(request: RequestView) -> list[str]:
    """Plain text (never mrkdwn): what was typed is shown as typed."""
    return [f"User: {request.login_id}", f"Tenant: {request.tenant or '(none)'}",
            f"Window: {format_duration(request.duration)}", f"Request: {request.id}"]


MAX_TENANTS_SHOWN = 3


def target_line(request: RequestView) -> str | None:
    """Plain text: what Descope says of the target (name, tenants), or that it could not be asked."""
    target = request.target
    if target is None:
        return None
    if not target.verified:
        return "⚠ Not verified in Descope: it could not be reached to look this user up. Check the login ID."
    names = [name or tenant_id for tenant_id, name in target.tenants]
    shown = ", ".join(names[:MAX_TENANTS_SHOWN]) + (f" +{len(names) - MAX_TENANTS_SHOWN} more"
                                                   if len(names) > MAX_TENANTS_SHOWN else "")
    return f"In Descope: {target.name or '(no name)'} · tenants: {shown or '(none)'}"


def reason_field(request: RequestView) -> str:
    return f"Reason: {request.reason}"


APPROVE_LABEL, DENY_LABEL, CANCEL_LABEL = "Approve", "Deny", "Cancel"
APPROVE_CONFIRM_TITLE = "Approve impersonation?"


def approve_confirm(request: RequestView) -> str:
    return (f"{request.login_id[:200]} for {format_duration(request.duration)}. "
            "The requester gets a token that acts as this user.")
