"""Verifications: a person proves themselves with a second factor, verified at Descope, before their click counts.

    asked       what a click must be proved with (after the checks the click itself gets); ``ProofLocked`` once
                too many wrong codes were typed on the request
    send_code   ``email``: Descope mails the person a code; the address, masked
    approve     an approver's code → ``Approvals.decide`` with the ``Proof``       (``approval_mfa``)
    start_break_glass  a break-glass requester's code → ``BreakGlass.proved``     (``approval_mfa``, asked of them)
    reveal      the requester's code → ``Tokens.reveal`` with the ``Proof``        (``reveal_mfa``)

The person's login at Descope is their Slack email (the directory), as the impersonator's is: never anything typed.
Descope verifies the code; the bot then checks the session Descope answered itself (``descope.stepup``) and closes
it. A wrong code is recorded, and the ``MAX_WRONG_CODES``-th refuses the person on the request (audited, and told
in the request's thread). An answer that fails the checks is refused, audited with the reason, and told in the thread
(shown in the channel): a forged answer means someone is inside the network path. An outage counts nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.descope import DescopeError, DescopeRefused
from bot.descope.session_jwt import KeySetMalformed, SessionRejected
from bot.descope.stepup import CodeRejected
from bot.domain import NotFound, RequestView
from bot.domain.errors import (
    CodeNotMailed,
    NoDescopeLogin,
    ProofBusy,
    ProofForged,
    ProofLocked,
    ProofNeeded,
    ProofUnavailable,
    WrongCode,
)
from bot.domain.outcomes import Verification
from bot.domain.proof import (
    CHECK_TURN,
    CODE_MAIL_GAP,
    MAX_CODES_MAILED,
    MAX_WRONG_CODES,
    MAX_WRONG_CODES_PER_HOUR,
    Mfa,
    Proof,
    Purpose,
)
from bot.store.proofs import Attempt, Mailing
from bot.workflows.about import about_request
from bot.workflows.approvals import Approvals
from bot.workflows.break_glass import BreakGlass
from bot.workflows.context import Context
from bot.workflows.tokens import Tokens

log = logging.getLogger("bot.workflows")


class Verifications:
    def __init__(self, ctx: Context, approvals: Approvals, tokens: Tokens, break_glass: BreakGlass) -> None:
        self.ctx = ctx
        self.approvals = approvals
        self.tokens = tokens
        self.break_glass = break_glass

    def asked(self, request_id: str, user_id: str, purpose: Purpose, *, message_ts: str | None = None,
              via_home: bool = False) -> Mfa:
        """What ``user_id`` proves themselves with for ``purpose`` on the request, once the click itself passes its
        checks (which raise as the click would); ``ProofLocked`` once they typed too many wrong codes on it."""
        if purpose is Purpose.APPROVE:
            asked = self.approvals.may_decide(request_id, user_id, message_ts=message_ts, via_home=via_home)
        elif purpose is Purpose.BREAK_GLASS:
            asked = self.break_glass.asked_of(request_id, user_id)
        else:
            asked = self.tokens.asked_of(self.tokens.live_row(request_id, user_id))
        self.ctx.check_not_locked(request_id, user_id, purpose, asked)
        return asked

    @about_request
    def send_code(self, request_id: str, user_id: str, purpose: Purpose, *, message_ts: str | None = None,
                  via_home: bool = False) -> str:
        """Have Descope mail ``user_id`` a code for ``purpose`` on the request (``email``); where it went, masked."""
        asked = self.asked(request_id, user_id, purpose, message_ts=message_ts, via_home=via_home)
        if asked is not Mfa.EMAIL:  # the rules ask another method now (or none): no code to mail
            raise ProofNeeded(request_id, user_id, purpose, asked)
        login = self._login(request_id, user_id, purpose, asked)
        mailing = self.ctx.store.record_code_sent(request_id, user_id, Verification(purpose, asked, "mailed"),
                                                  self.ctx.clock(), gap=CODE_MAIL_GAP, most=MAX_CODES_MAILED)
        if mailing is not Mailing.SENT:
            raise CodeNotMailed(request_id, purpose, asked, too_many=mailing is Mailing.TOO_MANY)
        try:
            return self.ctx.descope.send_email_code(login)
        except DescopeRefused as exc:
            if exc.user_not_found:
                raise NoDescopeLogin(request_id, purpose, asked, login) from exc
            raise ProofUnavailable(request_id, purpose, asked, exc.description) from exc
        except DescopeError as exc:
            raise ProofUnavailable(request_id, purpose, asked) from exc

    @about_request
    def approve(self, request_id: str, user_id: str, code: str, *, message_ts: str | None = None,
                via_home: bool = False, counted_then: Callable[[], None] | None = None) -> None:
        """An approver's Approve with the code they typed: proved at Descope, then decided as any Approve
        (``counted_then``: told once it counted, before the activation)."""
        asked = self.asked(request_id, user_id, Purpose.APPROVE, message_ts=message_ts, via_home=via_home)
        proof = self._prove(request_id, user_id, Purpose.APPROVE, asked, code) if asked.needed else None
        self.approvals.decide(request_id, user_id, True, message_ts=message_ts, via_home=via_home, proof=proof,
                              counted_then=counted_then)

    @about_request
    def start_break_glass(self, request_id: str, user_id: str, code: str) -> RequestView:
        """A break-glass request's requester proves themselves with the code they typed: then it starts."""
        asked = self.asked(request_id, user_id, Purpose.BREAK_GLASS)
        proof = self._prove(request_id, user_id, Purpose.BREAK_GLASS, asked, code) if asked.needed else None
        return self.break_glass.proved(request_id, user_id, proof)

    @about_request
    def reveal(self, request_id: str, user_id: str, code: str, show: Callable[[RequestView, str], None]) -> None:
        """The requester's Show token with the code they typed: proved at Descope, then the token to ``show``."""
        asked = self.asked(request_id, user_id, Purpose.REVEAL)
        proof = self._prove(request_id, user_id, Purpose.REVEAL, asked, code) if asked.needed else None
        self.tokens.reveal(request_id, user_id, show, proof=proof)

    def _prove(self, request_id: str, user_id: str, purpose: Purpose, asked: Mfa, code: str) -> Proof:
        """The person's code checked at Descope, one at a time per person and request (their turn taken first)."""
        ctx = self.ctx
        login = self._login(request_id, user_id, purpose, asked)
        now = ctx.clock()
        turn = ctx.store.begin_proof(request_id, user_id, now, now + CHECK_TURN, limit=MAX_WRONG_CODES,
                                     hourly=MAX_WRONG_CODES_PER_HOUR)
        if turn is Attempt.GONE:
            raise NotFound(request_id)
        if turn in (Attempt.LOCKED, Attempt.LOCKED_EVERYWHERE):
            raise ProofLocked(request_id, purpose, asked, everywhere=turn is Attempt.LOCKED_EVERYWHERE)
        if turn is Attempt.BUSY:
            raise ProofBusy(request_id, purpose, asked)
        try:
            return self._check(request_id, user_id, purpose, asked, login, code)
        finally:
            ctx.store.end_proof(request_id, user_id)

    def _check(self, request_id: str, user_id: str, purpose: Purpose, asked: Mfa, login: str, code: str) -> Proof:
        ctx = self.ctx
        try:
            ctx.descope.prove(asked.value, login, code)
        except CodeRejected as exc:
            why = exc.code or f"HTTP {exc.status}"
            failures = ctx.store.fail_proof(request_id, user_id, Verification(purpose, asked, why), ctx.clock(),
                                            limit=MAX_WRONG_CODES)
            log.warning("request %s: %s typed a code Descope did not accept for %s (%s; %d of %d)", request_id,
                        user_id, purpose.value, why, failures, MAX_WRONG_CODES)
            if failures >= MAX_WRONG_CODES:
                ctx.timers.kick(request_id)  # the lock-out's line in the thread
                raise ProofLocked(request_id, purpose, asked, why) from exc
            raise WrongCode(request_id, purpose, asked, why, MAX_WRONG_CODES - failures) from exc
        except SessionRejected as exc:
            ctx.store.forged_proof(request_id, user_id, Verification(purpose, asked, exc.reason), ctx.clock())
            log.error("request %s: Descope's answer to %s's code failed a check (%s): refused; someone may be inside "
                      "the network path to Descope", request_id, user_id, exc.reason)
            ctx.timers.kick(request_id)  # the alarm in the thread
            raise ProofForged(request_id, purpose, asked, exc.reason) from exc
        except DescopeRefused as exc:
            if exc.user_not_found:
                raise NoDescopeLogin(request_id, purpose, asked, login) from exc
            raise ProofUnavailable(request_id, purpose, asked, exc.description) from exc
        except (DescopeError, KeySetMalformed) as exc:
            log.warning("request %s: %s's code could not be verified: %s", request_id, user_id, exc)
            raise ProofUnavailable(request_id, purpose, asked) from exc
        log.info("request %s: %s proved themselves by %s for %s", request_id, user_id, asked.value, purpose.value)
        return Proof(request_id, user_id, purpose, asked)

    def _login(self, request_id: str, user_id: str, purpose: Purpose, asked: Mfa) -> str:
        """The person's Descope login: their Slack email."""
        email = self.ctx.directory.email_of(user_id)
        if not email:
            raise NoDescopeLogin(request_id, purpose, asked, None)
        return email
