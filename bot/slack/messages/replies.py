"""Answers to people: the usage and its problems, the rules' refusals, the command's replies."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from bot.config.words import duration_problem
from bot.domain import (
    AlreadyApproved,
    AlreadyDecided,
    AlreadyOpen,
    DomainError,
    Forbidden,
    MayNotExtend,
    MayNotStop,
    NoLongerAllowed,
    NotAnApprover,
    NotARequester,
    NotExtendable,
    NotFound,
    NotInTenant,
    NotPostedYet,
    NotStoppable,
    OwnRequest,
    RequestView,
    State,
    TargetDisabled,
    TenantsUnknown,
    TokenUnavailable,
    TooFewApprovers,
    TooManyPending,
    UnknownTarget,
    WindowOutOfPolicy,
    WrongMessage,
)
from bot.domain.break_glass import AlreadyReviewed, BreakGlassRefused, MayNotReview
from bot.domain.durations import BadDuration, format_duration
from bot.domain.errors import ProofFailed, ProofNeeded
from bot.domain.text import visible
from bot.slack.commands import Problem, UsageError
from bot.slack.messages import break_glass, proofs
from bot.slack.messages.outcomes import failure_text
from bot.slack.messages.status import outcome_so_far
from bot.slack.mrkdwn import code, target, when
from bot.transport.retry_after import whole_seconds

STOP_HINT = "`/impersonate stop {id}`"

USAGE = (
    "*Usage*\n"
    "• `/impersonate <login-id> [<duration>] [--tenant <tenant-id>] <reason…>` asks for a session, e.g.\n"
    "   `/impersonate jane@acme.com 30m --tenant acme-eu checking invoice SUP-123`\n"
    "• `/impersonate <login-id> <duration> --break-glass <reason…>` in an emergency, where the policy allows it: "
    "the session starts at once with no approver, and the approvers review it after\n"
    "• `/impersonate list` shows your requests (approvers see every active session)\n"
    "• `/impersonate stop <request-id>` ends a session early\n"
    "• `/impersonate extend <request-id> [<duration>] <reason…>` asks for more time on your running session\n"
    "• `/impersonate help` shows this message\n"
    "• `/impersonate` alone opens a form to fill in instead (so does the shortcut *Request impersonation*)\n"
    "Durations are written `90s`, `15m`, `2h` or `1h30m`. Your requests are also on the bot's Home tab."
)

# -- the command's usage problems --------------------------------------------------------------------


def window_bound(problem: WindowOutOfPolicy) -> str:
    under = f" under the policy rule {quoted(problem.rule)}" if problem.rule else ""
    if problem.too_short:
        return f"the shortest window allowed{under} is {format_duration(problem.low)}"
    return f"the longest window allowed{under} is {format_duration(problem.high)}"


def quoted(name: str) -> str:
    return f"\u201c{name}\u201d"


def usage_problem(exc: UsageError) -> str:
    """What was wrong with the command text, in one or two sentences."""
    f = exc.facts
    match exc.problem:
        case Problem.TRAILING_WORDS:
            return f"{code(str(f['word']))} takes nothing after it."
        case Problem.STOP_NEEDS_ONE_ID:
            return "`stop` takes one request ID, e.g. `/impersonate stop K7M2QX9A`."
        case Problem.EXTEND_NEEDS_ID:
            return ("`extend` takes the ID of your running session, then optionally how much more time, then a "
                    "reason, e.g. `/impersonate extend K7M2QX9A 30m still checking SUP-123`.")
        case Problem.NOT_A_REQUEST_ID:
            return f"{code(str(f['word']))} is not a request ID: IDs look like `K7M2QX9A` (see `/impersonate list`)."
        case Problem.MENTION_FOR_LOGIN_ID:
            return ("The first word must be the Descope login ID of the user to impersonate "
                    "(e.g. their email), not a Slack mention or channel.")
        case Problem.NO_LOGIN_ID:
            return "Start with the login ID of the user to impersonate, e.g. `jane@acme.com`."
        case Problem.LOGIN_ID_TOO_LONG:
            return f"The login ID is too long (more than {f['limit']} characters)."
        case Problem.UNKNOWN_OPTION:
            return (f"Unknown option {code(str(f['name']))}: the options are `--tenant <tenant-id>` and "
                    "`--break-glass`.")
        case Problem.TENANT_TWICE:
            return "`--tenant` is given twice: give one tenant ID."
        case Problem.TENANT_MISSING:
            return "`--tenant` needs a tenant ID after it, e.g. `--tenant acme-eu`."
        case Problem.TENANT_TOO_LONG:
            return f"The tenant ID is too long (more than {f['limit']} characters)."
        case Problem.HIDDEN_CHARACTERS:
            return hidden_characters(f)
        case Problem.BAD_DURATION:
            bad = f["bad"]
            assert isinstance(bad, BadDuration)
            return f"{visible(duration_problem(bad))}."
        case Problem.NOT_A_DURATION:
            return (f"{code(str(f['word']))} is not a duration: write it like `90s`, `15m`, `2h` or `1h30m` "
                    "(whole numbers of hours, minutes and seconds, no sign).")
        case Problem.WINDOW_OUT_OF_POLICY:
            window = f["window"]
            assert isinstance(window, WindowOutOfPolicy)
            return (f"{code(str(f['word']))} is out of policy: {window_bound(window)} "
                    f"({format_duration(window.low)} to {format_duration(window.high)}).")
        case Problem.NO_REASON:
            return "A reason is required: say why you need to impersonate this user (e.g. a ticket)."
        case Problem.REASON_TOO_LONG:
            return (f"The reason is {f['length']} characters long; keep it under {f['limit']} "
                    "(link a ticket for the details).")


def hidden_characters(facts: dict[str, object]) -> str:
    """A login or tenant ID holding characters that do not show (or turn the text around)."""
    found = facts["characters"]
    assert isinstance(found, list)
    return (f"The {facts['what']} holds characters that do not show or that change how it reads "
            f"({', '.join(found)}): type it again by hand, without copying it from elsewhere.")


def usage_error(exc: UsageError) -> str:
    return f"{usage_problem(exc)}\n\n{USAGE}"


# -- refusals ----------------------------------------------------------------------------------------


def refusal(exc: DomainError) -> str:
    """A rule's refusal, for the person it refuses."""
    match exc:
        case NotFound():
            return f"There is no request `{exc.request_id}`."
        case NotARequester() if exc.rule:
            return (f"The policy rule {quoted(exc.rule)} does not allow you to request impersonation of this user: "
                    "nothing was sent to the approvers. Ask an admin to add you to the rule's requesters.")
        case NotARequester():
            return "You are not allowed to request impersonation. Ask an admin to add you to REQUESTERS."
        case Forbidden():
            return (f"Nobody may impersonate {code(exc.login_id)}: the policy rule {quoted(exc.rule)} forbids it. "
                    "Nothing was sent to the approvers.")
        case TooFewApprovers():
            rule = f"The policy rule {quoted(exc.rule)}" if exc.rule else "The bot's settings (APPROVERS)"
            others = {0: "no approver but you", 1: "one approver besides you"}.get(
                exc.available, f"{exc.available} approvers besides you")
            return (f"{rule} needs {exc.needed} approval{'s' if exc.needed != 1 else ''} and lists {others}: nobody "
                    "could complete this request, so it was not sent. Ask an admin to add approvers.")
        case AlreadyApproved():
            missing = exc.request.approvals_missing
            return (f"You have already approved `{exc.request.id}`: it needs {missing} more "
                    f"approval{'s' if missing != 1 else ''}, from other approvers.")
        case MayNotExtend():
            return f"Only the person who asked for session `{exc.request_id}` can ask to extend it."
        case NotExtendable():
            state = "being stopped" if exc.request.stopping else str(exc.request.state)
            return (f"Session `{exc.request.id}` is not running (it is {state}): only a running session can be "
                    "extended. Ask for a new session instead.")
        case NotAnApprover():
            return "Only approvers can approve or deny impersonation requests."
        case OwnRequest():
            return "You cannot approve or deny your own request: another approver has to."
        case MayNotStop() if exc.pending:
            return (f"Request `{exc.request_id}` is waiting for approval, so stopping it would deny it: only its "
                    "requester (to withdraw it) or an approver of its policy rule can.")
        case MayNotStop():
            return "Only the requester or an approver can stop this session."
        case NoLongerAllowed():
            return (f"Request `{exc.request.id}` can no longer be approved: "
                    f"{code(failure_text(exc.request.failure))}. It is closed, and its requester is told.")
        case TenantsUnknown():
            return tenants_unknown(exc, "Name the tenant with `--tenant <tenant-id>`, or try again in a minute.")
        case NotPostedYet():
            return "This request's approval message is still being posted: try again in a moment."
        case WrongMessage():
            return "That button does not belong to this request's approval message."
        case WindowOutOfPolicy():
            return f"That window is out of policy: {window_bound(exc)}."
        case AlreadyOpen():
            live = exc.existing
            return (f"You already have request `{live.id}` ({live.state}) for `{live.login_id}`: "
                    f"stop it with {STOP_HINT.format(id=live.id)} before asking again.")
        case TooManyPending():
            return (f"You already have {exc.limit} requests waiting for approval: "
                    "wait for an answer or withdraw one with `/impersonate stop <id>`.")
        case AlreadyDecided():
            return outcome_so_far(exc.request)
        case NotStoppable() if exc.request.state is State.APPROVED:
            return f"Request `{exc.request.id}` is being activated right now: try again in a moment."
        case NotStoppable():
            return f"Request `{exc.request.id}` is not active (it is {exc.request.state})."
        case UnknownTarget():
            return (f"There is no Descope user with login ID {code(exc.login_id)}: nothing was sent to the "
                    "approvers. Check the login ID (usually the user's email).")
        case TargetDisabled():
            return (f"The Descope user {code(exc.login_id)} is disabled, so it cannot be impersonated: nothing "
                    "was sent to the approvers.")
        case NotInTenant():
            return not_in_tenant(exc, "Leave out `--tenant`, or give one of the user's tenants.")
        case TokenUnavailable() if exc.ended:
            return f"Session `{exc.request_id}` has ended: its token is no longer available."
        case TokenUnavailable():
            return "Only the requester can see this token."
        case ProofFailed():
            return proofs.failed(exc)
        case BreakGlassRefused() | MayNotReview() | AlreadyReviewed():
            return break_glass.refusal(exc) or str(exc)
        case ProofNeeded():
            return "This needs a second factor first: click the button again to open the code window."
    return str(exc)


def error_reply(exc: BaseException) -> str | None:
    """The answer to an expected problem (a usage error or a refusal); ``None`` for anything else."""
    if isinstance(exc, UsageError):
        return f":warning: {usage_error(exc)}"
    if isinstance(exc, DomainError):
        return f":warning: {refusal(exc)}"
    return None


class Doing(enum.StrEnum):
    """What the bot was doing when something unexpected went wrong (the end of ``unexpected``'s sentence)."""

    COMMAND = "handling your command"
    DECISION = "recording your decision"
    SHOWING_TOKEN = "showing the token"
    VERIFYING = "checking your code"
    SENDING_REQUEST = "sending your request"
    STOPPING = "stopping the session"
    EXTENDING = "asking for more time"
    WITHDRAWING = "withdrawing the request"
    PUBLISHING_HOME = "publishing the Home"
    SLACK_REQUEST = "handling a Slack request"


def unexpected(error_id: str, doing: str) -> str:
    return f":boom: Something went wrong while {doing}. Error ID `{error_id}`: give it to whoever runs the bot."


def slack_busy(retry_after: float | None) -> str:
    """Slack rate-limited the bot's call (``retry_after`` seconds) or failed on its side."""
    if retry_after is not None:
        return (f":hourglass: Slack is asking the bot to slow down right now, so this did not go through: try again "
                f"in {whole_seconds(max(1.0, retry_after))} s.")
    return ":warning: Slack did not answer the bot just now, so this did not go through: try again in a moment."


OTHER_WORKSPACE = ":no_entry: This bot only serves the workspace it is installed in."
TRIGGER_EXPIRED = ":hourglass: Slack did not let the token window open in time: click *Show token* again."
WRONG_PLACE = ":warning: Approvals count only from the request's message in the approvals channel."
DATABASE_DOWN = (":warning: The bot cannot reach its database right now, so nothing was done (nothing stored, nothing "
                 "sent). Try again in a minute; if it goes on, tell whoever runs the bot.")


# -- the command's answers ----------------------------------------------------------------------------


def waiting_for(request: RequestView) -> str:
    n = request.approvals_needed
    return "a second admin" if n <= 1 else f"{n} approvers (the policy rule {quoted(request.rule_name or 'default')})"


def submitted(request: RequestView) -> str:
    if request.extends:
        return (f":inbox_tray: Extension `{request.id}` asks for {format_duration(request.duration)} more on session "
                f"`{request.extends}` ({target(request)}) and is waiting for {waiting_for(request)}. If it is "
                "approved, your DM with the bot gives you a new token for the longer window, and then the current one "
                "stops working; if not, your session ends at its time. "
                f"Withdraw it with {STOP_HINT.format(id=request.id)}.")
    return (f":inbox_tray: Request `{request.id}` to impersonate {target(request)} for "
            f"{format_duration(request.duration)} is waiting for {waiting_for(request)}. "
            "Once it is approved, your DM with the bot gives you the token. "
            f"Withdraw it with {STOP_HINT.format(id=request.id)}. "
            "See it on the bot's Home tab.")


def stopping(request: RequestView, by: str) -> str:
    """The answer to ``by``'s stop: a withdrawal, a denial, or a session ending (who is told when it has ended)."""
    if request.withdrawn:
        return f":leftwards_arrow_with_hook: Request `{request.id}` is withdrawn."
    if request.state is State.DENIED:
        return f":no_entry: Request `{request.id}` is denied; the requester is told."
    told = "You get a DM" if by == request.requester_id else f"<@{request.requester_id}> gets a DM"
    return f":stop_button: Stopping session `{request.id}` ({target(request)}). {told} when it has ended."


def not_in_tenant(exc: NotInTenant, fix: str) -> str:
    """The target is not in the tenant the request names; ``fix``: how to ask instead, where it was asked."""
    return (f"The Descope user {code(exc.login_id)} is not a member of tenant {code(exc.tenant or '')}: nothing was "
            f"sent to the approvers. {fix}")


def tenants_unknown(exc: TenantsUnknown, fix: str) -> str:
    """Descope could not say the target's tenants, which rules need; ``fix``: how to ask instead, where it was."""
    return (f"Descope could not be asked which tenants {code(exc.login_id)} belongs to, and the policy has rules for "
            f"some tenants, so a request naming no tenant cannot be decided: nothing was sent to the approvers. {fix}")


HOME_POINTER = "_The bot's *Home* tab shows them too, with buttons (approvers: what waits for you)._"


def listing(mine: Sequence[RequestView], active: Sequence[RequestView] | None) -> str:
    def row(r: RequestView) -> str:
        extra = f", until {when(r.ends_at)}" if r.state is State.ACTIVE and r.ends_at else ""
        glass = (" :rotating_light: break-glass" + (", awaiting review" if r.awaiting_review else "")
                 if r.break_glass else "")
        return (f"• `{r.id}` {target(r)}, {format_duration(r.duration)}: *{r.state}*{extra}"
                f" (<@{r.requester_id}>){glass}")

    parts = ["*Your requests*", HOME_POINTER] + ([row(r) for r in mine] or ["You have no requests."])
    if active is not None:
        parts += ["", "*Active sessions (all requesters)*"] + ([row(r) for r in active] or ["None."])
    return "\n".join(parts)
