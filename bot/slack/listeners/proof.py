"""The code modal: a second factor before an Approve (``approval_mfa``) or a Show token (``reveal_mfa``) counts.

A click the rules want proved raises ``ProofNeeded`` in its workflow; its listener (the approval message's, the App
Home's, Show token's) hands it to ``open_modal``, which opens the modal at once with the click's ``trigger_id``
(valid for 3 s, once). For ``totp`` it asks for the authenticator's code; for ``email`` it opens saying a code is
being mailed, asks Descope to mail it, and shows where it went (with a button for a new one).

A submission whose code is not 6 digits gets a field error in its ack, and Descope is not asked. Otherwise the ack
turns the modal into "checking…", and after the ack the workflow (``Verifications``) has Descope verify the code,
checks its answer, and decides the click. The modal then says how it ended: the approval counted, or the token
itself (``views.update`` to the token modal, never before a good code), or why not. A wrong code, or Descope out of
reach, puts the form back with the reason: it stays open for another try.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.domain import RequestView
from bot.domain.errors import CodeNotMailed, ProofBusy, ProofFailed, ProofNeeded, ProofUnavailable, WrongCode
from bot.domain.proof import Mfa, Purpose
from bot.slack import payloads
from bot.slack.errors import error_text
from bot.slack.listeners.base import Deps, after_ack
from bot.slack.messages import proofs, replies
from bot.slack.views import code_modal, ids, token_modal
from bot.slack.views.code_modal import Asking

log = logging.getLogger("bot.slack")


def open_modal(deps: Deps, client: WebClient, trigger_id: str, needed: ProofNeeded, *,
               message_ts: str | None = None, via_home: bool = False,
               later: Callable[[Callable[[], None]], object] | None = None) -> None:
    """Open the code modal for ``needed`` with the click's trigger (raises what ``views.open`` raises). For ``email``
    the code is mailed after it opens: then, or by ``later`` (an executor's submit: a slash command's ack waits)."""
    asking = Asking(needed.request_id, needed.purpose, needed.method, message_ts=message_ts, via_home=via_home)
    if needed.method is not Mfa.EMAIL:
        client.views_open(trigger_id=trigger_id, view=code_modal.build(asking))
        return
    opened = client.views_open(trigger_id=trigger_id, view=code_modal.busy(asking, proofs.SENDING))
    view_id = str(opened["view"]["id"])
    (later or (lambda work: work()))(lambda: _logged(_mail_code, deps, client, needed.user_id, view_id, asking))


def replace_with_modal(ack: Ack, app: App, deps: Deps, client: WebClient, view_id: str, needed: ProofNeeded) -> None:
    """Answer a form's submission with the code modal in its place (``response_action: update``): for ``email``,
    saying a code is being mailed, which it is after the ack."""
    asking = Asking(needed.request_id, needed.purpose, needed.method)
    if needed.method is not Mfa.EMAIL:
        ack(response_action="update", view=code_modal.build(asking))
        return
    ack(response_action="update", view=code_modal.busy(asking, proofs.SENDING))
    app.listener_runner.listener_executor.submit(_logged, _mail_code, deps, client, needed.user_id, view_id, asking)


def _mail_code(deps: Deps, client: WebClient, user_id: str, view_id: str, asking: Asking) -> None:
    """Have Descope mail a code, then show the form saying where it went (or why it could not)."""
    try:
        masked = deps.workflows.verifications.send_code(asking.request_id, user_id, asking.purpose,
                                                       message_ts=asking.message_ts, via_home=asking.via_home)
        view = code_modal.build(asking.mailed_to(masked))
    except CodeNotMailed as exc:  # the code mailed before still works: the form, saying why no new one
        view = code_modal.build(asking, problem=proofs.failed(exc))
    except ProofFailed as exc:
        view = code_modal.done(asking, proofs.failed(exc))
    except Exception as exc:
        view = code_modal.done(asking, error_text(exc, replies.Doing.VERIFYING))
    client.views_update(view_id=view_id, view=view)


def register(app: App, deps: Deps) -> None:
    verifications = deps.workflows.verifications

    def update(client: WebClient, view_id: str, view: dict[str, Any]) -> None:
        try:
            client.views_update(view_id=view_id, view=view)
        except Exception as exc:
            log.warning("the code modal could not be updated: %s", exc)

    def check(user_id: str, view_id: str, asking: Asking, code: str, client: WebClient) -> None:
        """After the ack: the code proved at Descope, the click decided, the modal updated with how it ended: for an
        approval as soon as it counts (before the session is activated at Descope, which may take a while), for Show
        token with the token itself."""
        def show(request: RequestView, token: str) -> None:
            client.views_update(view_id=view_id, view=token_modal.build(request, token))

        proved = code_modal.done(asking, proofs.proved(asking.purpose, asking.method, asking.request_id))
        try:
            if asking.purpose is Purpose.APPROVE:
                verifications.approve(asking.request_id, user_id, code, message_ts=asking.message_ts,
                                      via_home=asking.via_home, counted_then=lambda: update(client, view_id, proved))
            elif asking.purpose is Purpose.BREAK_GLASS:
                verifications.start_break_glass(asking.request_id, user_id, code)
                update(client, view_id, proved)
            else:
                verifications.reveal(asking.request_id, user_id, code, show)
            return
        except (WrongCode, ProofUnavailable, ProofBusy) as exc:  # another try may pass: the form again, saying why
            view = code_modal.build(asking, problem=proofs.failed(exc))
        except Exception as exc:
            doing = replies.Doing.DECISION if asking.purpose is Purpose.APPROVE else replies.Doing.SHOWING_TOKEN
            view = code_modal.done(asking, error_text(exc, doing))
        update(client, view_id, view)

    def on_submit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        try:
            submitted = payloads.submission(body)
        except payloads.Malformed as exc:
            log.warning("ignored a malformed code submission (%s)", exc)
            ack()
            return
        asking = code_modal.asking_of(submitted.private_metadata)
        if asking is None or submitted.view_id is None:
            log.warning("ignored a code submission by %s without what it is for", submitted.user_id)
            ack()
            return
        code = code_modal.code_of(submitted)
        if code is None:  # nothing goes to Descope: the field says what to type
            ack(response_action="errors", errors=code_modal.code_problem(submitted))
            return
        ack(response_action="update", view=code_modal.busy(asking, proofs.CHECKING))
        app.listener_runner.listener_executor.submit(_logged, check, submitted.user_id, submitted.view_id, asking,
                                                     code, client)

    def resend(body: dict[str, Any], client: WebClient) -> None:
        click = payloads.click_or_none(body, "Send a new code")
        if click is None:
            return
        asking = code_modal.asking_of(click.view_owner or "")
        if asking is None or click.view_id is None:
            log.warning("ignored a Send a new code click by %s outside a code modal", click.user_id)
            return
        client.views_update(view_id=click.view_id, view=code_modal.busy(asking, proofs.SENDING))
        _mail_code(deps, client, click.user_id, click.view_id, asking)

    app.view(ids.CODE_MODAL)(on_submit)
    app.action(ids.CODE_RESEND)(after_ack(app, resend))


def _logged(work: Any, *args: Any) -> None:
    """Run ``work`` after the ack; what it lets out is logged with an error ID (nobody else would see it)."""
    try:
        work(*args)
    except Exception as exc:
        error_text(exc, replies.Doing.VERIFYING)
