"""Every sentence of a second factor: the code modal (what to type, where the code went, why it was not accepted),
how an approval or a showing was proved ("Approved by @ada · authenticator code"), and the refusals.
"""

from __future__ import annotations

from bot.domain.errors import (
    CodeNotMailed,
    NoDescopeLogin,
    ProofBusy,
    ProofFailed,
    ProofForged,
    ProofLocked,
    ProofUnavailable,
    WrongCode,
)
from bot.domain.proof import CODE_MAIL_GAP, Mfa, Purpose

#: How a proof reads after a name: "Approved by @ada · authenticator code".
METHOD_NAMES = {Mfa.TOTP: "authenticator code", Mfa.EMAIL: "emailed code"}


def proved_by(method: Mfa | None) -> str:
    """`` · authenticator code`` after whoever proved themselves (``""``: a click alone)."""
    return f" \u00b7 {METHOD_NAMES[method]}" if method in METHOD_NAMES else ""


def needs_line(approval: Mfa, reveal: Mfa) -> str | None:
    """Plain text on the approval message: what the request asks beyond a click (``None``: nothing)."""
    parts = []
    if approval.needed:
        parts.append(f"each approval needs an {METHOD_NAMES[approval]}" if approval is Mfa.TOTP
                     else f"each approval needs an {METHOD_NAMES[approval]} (Descope mails it)")
    if reveal.needed:
        parts.append(f"the requester proves themselves with an {METHOD_NAMES[reveal]} before the token is shown")
    return ("Verified: " + "; ".join(parts)) if parts else None


TITLES = {Purpose.APPROVE: "Verify to approve", Purpose.REVEAL: "Verify to see token",
          Purpose.BREAK_GLASS: "Verify to break glass"}
_WHAT = {Purpose.APPROVE: "approve request `{id}`", Purpose.REVEAL: "see the token of `{id}`",
         Purpose.BREAK_GLASS: "start break-glass session `{id}`"}
SUBMIT_LABEL, CANCEL_LABEL, CLOSE_LABEL = "Verify", "Cancel", "Close"
RESEND_LABEL = "Send a new code"
CODE_LABEL = "Code"
CODE_PLACEHOLDER = "123456"
CHECKING = ":hourglass_flowing_sand: Checking your code with Descope…"
SENDING = ":hourglass_flowing_sand: Asking Descope to email you a code…"


def intro(purpose: Purpose, method: Mfa, request_id: str, masked: str | None = None) -> str:
    """What the modal asks, and why (mrkdwn)."""
    what = _WHAT[purpose].format(id=request_id)
    if method is Mfa.TOTP:
        return (f"To {what}, type the 6-digit code from your authenticator app (the one enrolled with your "
                "Descope user). Descope checks it; your click alone does not count.")
    where = f" to *{masked}*" if masked else " to your email address"
    return (f"To {what}, type the code Descope emailed{where}. It is valid for a few minutes; "
            "the button below sends a new one.")


def bad_format(text: str) -> str:
    """A field error: the code is not 6 digits (nothing is sent to Descope)."""
    return "Type the 6 digits of the code, like 123456" if text.strip() else "Type the code first"


def proved(purpose: Purpose, method: Mfa, request_id: str) -> str:
    """The modal once the approval counted (mrkdwn)."""
    if purpose is Purpose.APPROVE:
        return (f":white_check_mark: Verified by {METHOD_NAMES[method]}: your approval of `{request_id}` counts. "
                "The approval message shows where it stands.")
    if purpose is Purpose.BREAK_GLASS:
        return (f":rotating_light: Verified by {METHOD_NAMES[method]}: break-glass session `{request_id}` is "
                "starting. The approvers are alerted and will review it; your token comes by DM.")
    return f":white_check_mark: Verified by {METHOD_NAMES[method]}."


def failed(exc: ProofFailed) -> str:
    """Why a code did not prove the person (mrkdwn), shown in the modal."""
    match exc:
        case WrongCode():
            tries = f"{exc.left} more {'try' if exc.left == 1 else 'tries'}"
            return (f"Descope did not accept that code ({exc.why}). Check it and type it again: {tries} on "
                    "this request.")
        case ProofLocked() if exc.everywhere:
            return ("Too many wrong codes in the past hour, on any request: you are refused until the hour has "
                    "passed. This is on the audit trail.")
        case ProofLocked():
            return ("Too many wrong codes on this request: you are refused on it. This is on the audit "
                    "trail; ask another approver." if exc.purpose is Purpose.APPROVE else
                    "Too many wrong codes on this request: the token will not be shown. This is on the "
                    "audit trail; ask an approver to stop the session and request again.")
        case ProofBusy():
            return "Your previous code is still being checked at Descope: wait a moment, then try again."
        case CodeNotMailed() if exc.too_many:
            return ("Descope has mailed you as many codes as it may for this request: use the latest one (a code "
                    "is valid for a few minutes).")
        case CodeNotMailed():
            return f"A code was mailed less than {CODE_MAIL_GAP.seconds} seconds ago: check your inbox first."
        case ProofForged():
            return (f"Descope's answer to your code failed the bot's checks ({exc.why}), so it "
                    "counts nothing. The approvers' channel has been told: someone may be tampering with the "
                    "connection to Descope.")
        case NoDescopeLogin() if exc.login_id is None:
            return ("Slack shows no email address for you, so the bot cannot find your Descope user. "
                    "Ask a workspace admin to show emails to apps.")
        case NoDescopeLogin():
            return (f"Descope has no user with the login ID {exc.login_id} (your Slack email), so it "
                    "cannot verify you. Ask whoever runs Descope to add you, with an authenticator or email sign-in.")
        case ProofUnavailable() if exc.why:
            return (f"Descope refused to check the code ({exc.why}): nothing counted. If it says so again, ask "
                    "whoever runs Descope (an authenticator not enrolled, the method turned off).")
        case _:
            return "Descope could not be reached to check the code: nothing counted. Try again in a moment."

