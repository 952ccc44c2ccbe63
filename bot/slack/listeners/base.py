"""What every listener gets (``Deps``: the settings and the workflows) and how work outlives the ack (``after_ack``:
ack at once, the work on the listener executor, without Bolt's copy of the request)."""


from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from bot.config import Settings
from bot.domain import RequestView
from bot.slack.commands import Windows
from bot.slack.errors import error_text
from bot.slack.messages import replies
from bot.workflows import Workflows, waiting_at_most

log = logging.getLogger("bot.slack")

#: What work registered with ``after_ack`` may name among its parameters (as a Bolt listener would).
AFTER_ACK_ARGS = frozenset({"body", "context", "client", "respond", "event"})


@dataclass(frozen=True)
class Deps:
    settings: Settings
    workflows: Workflows

    @property
    def windows(self) -> Windows:
        """What a typed window is checked against before the request's rule is known: the widest any rule
        allows (the rule's own bounds are checked on submission)."""
        s = self.settings
        low, high = s.widest_window
        return Windows(min(max(s.default_duration, low), high), low, high)

    @property
    def break_glass_offered(self) -> bool:
        """Whether some rule allows break-glass (the request form then offers "This is an emergency")."""
        return any(rule.break_glass and rule.allow for rule in self.settings.all_rules())

    def rule_windows(self, request: RequestView) -> Windows:
        """The windows the rules of ``request`` allow (the extension form's choices)."""
        rules = self.settings.decide(request.login_id, request.tenant, request.target)
        return Windows(rules.default_duration, rules.min_duration, rules.max_duration)


#: Seconds a Slack request's database work may wait for a lock (``bot.store.patience``): Slack waits 3 s for the
#: answer, and a database locked longer is answered as out of reach, in time. The same for a click's work after its
#: ack: the clicker waits for its answer.
ANSWER_WITHIN = 2.0


def after_ack(app: App, work: Callable[..., None]) -> Callable[..., None]:
    """A listener that acks at once and then runs ``work`` on the app's listener executor (the one Bolt runs
    its lazy listeners on, shut down with the app), passing the arguments ``work`` names (``AFTER_ACK_ARGS``).

    What ``lazy=[work]`` does, without Bolt's deep copy of the whole request for each lazy call: a click's
    payload carries the message or view it came from (an approval message's blocks, a whole Home), and
    copying it cost more CPU than deciding the click. Nothing mutates the request once it is acked, so the
    work reads it as it is. An exception ``work`` lets out is logged: an unexpected one with an error ID
    (``error_text``)."""
    names = tuple(inspect.signature(work).parameters)
    if not AFTER_ACK_ARGS.issuperset(names):
        raise TypeError(f"{work.__name__} names {sorted(set(names) - AFTER_ACK_ARGS)}: not given after the ack")

    def run(kwargs: dict[str, Any]) -> None:
        try:
            with waiting_at_most(ANSWER_WITHIN):  # the clicker waits for what it did
                work(**kwargs)
        except Exception as exc:
            if replies.error_reply(exc) is None:
                error_text(exc, replies.Doing.SLACK_REQUEST)  # logged with an error ID
            else:  # a refusal the work should have answered itself: never silent
                log.warning("%s ended in a refusal nobody was shown: %s", work.__name__, type(exc).__name__)

    def ack_then_work(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient,
                      respond: Respond | None, event: dict[str, Any] | None) -> None:
        ack()
        given = {"body": body, "context": context, "client": client, "respond": respond, "event": event}
        app.listener_runner.listener_executor.submit(run, {name: given[name] for name in names})

    return ack_then_work
