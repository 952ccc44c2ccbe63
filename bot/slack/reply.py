"""``Reply``: Bolt's ``respond()`` (a message to a click's or a command's ``response_url``), retried as the bot's Web
API calls are (``bot.slack.client``), and never lost in silence.

Bolt's own ``respond`` sends through a ``WebhookClient`` that tries a broken connection once more, whether or not Slack
took the message, and nothing else: a refusal a person waits for ("you cannot approve your own request") was lost to
a 429 or a 503. A ``Reply`` sends what Bolt's would, and:

* waits out a 429 whose ``Retry-After`` is at most ``IN_THREAD_WAIT`` in its thread (none before the ack: Slack's 3 s
  are for the answer); a longer one is waited out on a timer of its own (``PutOff``: the ``response_url`` lives 30
  minutes, and no worker is held meanwhile), then it tries once more;
* tries a 503 again (Slack acted on nothing), and a connection that never reached Slack;
* never sends again after Slack may have acted on the reply (a 500, 502 or 504; a connection that broke while the
  answer was awaited): every reply is a message, and a retried post is never posted twice;
* logs, in one line, a reply it could not give (also one still put off when the bot stops: ``PutOff.give_up``).

``Admission`` (``bot.slack.app``) sets one on every request's context, so the ``respond`` a listener is given is this.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from ssl import SSLContext
from typing import Any

from slack_bolt import Respond
from slack_bolt.context.respond.internals import _build_message
from slack_sdk.webhook import WebhookClient, WebhookResponse

from bot.slack.retries import IN_THREAD_WAIT, handlers, retry_after, unheard
from bot.transport.retry_after import whole_seconds

log = logging.getLogger("bot.slack")

#: Where slack-sdk's webhook client logs: nowhere (it logs each failed attempt at ERROR, retried or not, and would
#: name the ``response_url`` at DEBUG; a reply that was not given is said once, here).
_UNHEARD = unheard("bot.slack.reply.sdk")

TIMEOUT = 10  # seconds per attempt, as the Web API client's


def _creating(_url: str) -> bool:
    return True  # a reply is a message: posted twice if sent again after Slack took it


class PutOff:
    """The replies Slack's rate limit put off, each on a daemon timer until it fires; ``give_up`` (at shutdown) says
    each one still waiting lost, in one line each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[threading.Timer, str] = {}  # -> whom it is for
        self._closed = False

    def later(self, wait: float, who: str, send: Callable[[], None]) -> None:
        """``send()`` after ``wait`` seconds, spread a little (replies held together do not meet the limit again)."""
        def fire() -> None:
            with self._lock:
                if self._waiting.pop(timer, None) is None:  # given up meanwhile
                    return
            send()

        timer = threading.Timer(wait * random.uniform(1.0, 1.2), fire)
        timer.daemon = True
        with self._lock:
            if self._closed:
                log.warning("could not reply to %s: the bot is stopping", who)
                return
            self._waiting[timer] = who
        timer.start()

    def give_up(self) -> None:
        with self._lock:
            self._closed = True
            waiting, self._waiting = self._waiting, {}
        for timer, who in waiting.items():
            timer.cancel()
            log.warning("could not reply to %s: the bot stopped before Slack's wait was over", who)


class Reply(Respond):
    """``respond()`` with the retries above: the same arguments, the same message and answer as Bolt's."""

    def __init__(self, *, response_url: str | None, put_off: PutOff, proxy: str | None = None,
                 ssl: SSLContext | None = None, who: str | None = None, in_thread: float = IN_THREAD_WAIT) -> None:
        """``who``: whom the reply is for (a user ID, for the log line of a reply not given); ``in_thread``: the
        longest ``Retry-After`` waited out in the caller's thread (0 before the ack)."""
        super().__init__(response_url=response_url, proxy=proxy, ssl=ssl)
        self.put_off = put_off
        self.who = who or "the person who asked"
        self.in_thread = in_thread

    def __call__(self, text: str | dict[str, Any] = "", blocks: Any = None, attachments: Any = None,
                 response_type: str | None = None, replace_original: bool | None = None,
                 delete_original: bool | None = None, unfurl_links: bool | None = None,
                 unfurl_media: bool | None = None, thread_ts: str | None = None,
                 metadata: dict[str, Any] | None = None) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        if isinstance(text, str):  # the message as Bolt's respond builds it
            message = _build_message(text=text, blocks=blocks, attachments=attachments, response_type=response_type,
                                     replace_original=replace_original, delete_original=delete_original,
                                     unfurl_links=unfurl_links, unfurl_media=unfurl_media, thread_ts=thread_ts,
                                     metadata=metadata)
        elif isinstance(text, dict):
            message = _build_message(**text)
        else:
            raise ValueError(f"The arg is unexpected type ({type(text)})")
        answer = self._send(message)
        if answer.status_code == 429 and (wait := retry_after(answer.headers)) > self.in_thread:
            self.put_off.later(wait, self.who, lambda: self._again(message))
        else:
            self._said(answer)
        return answer

    def _send(self, message: dict[str, Any]) -> WebhookResponse:
        assert self.response_url is not None
        client = WebhookClient(url=self.response_url, timeout=TIMEOUT, proxy=self.proxy, ssl=self.ssl,
                               logger=_UNHEARD, retry_handlers=handlers(creating=_creating, in_thread=self.in_thread))
        return client.send_dict(message)

    def _again(self, message: dict[str, Any]) -> None:
        """The reply Slack's rate limit put off, tried again once its time came (once: a new 429 is said)."""
        try:
            self._said(self._send(message))
        except Exception as exc:
            log.warning("could not reply to %s: %s", self.who, type(exc).__name__)

    def _said(self, answer: WebhookResponse) -> None:
        if answer.status_code == 429:
            log.warning("could not reply to %s: Slack is rate-limiting replies (retry after %s s)", self.who,
                        whole_seconds(retry_after(answer.headers)))
        elif not 200 <= answer.status_code < 300:
            log.warning("could not reply to %s: Slack answered %d", self.who, answer.status_code)
