"""``Reply``: Bolt's ``respond()`` (a message to a click's or a command's ``response_url``), retried as the bot's Web
API calls are (``bot.slack.client``), and never lost in silence.

Bolt's own ``respond`` sends through a ``WebhookClient`` that tries a broken connection once more, whether or not Slack
took the message, and nothing else: a refusal a person waits for ("you cannot approve your own request") was lost to
a 429 or a 503. A ``Reply``:

* waits out a 429 whose ``Retry-After`` is at most ``IN_THREAD_WAIT`` in its thread; a longer one is waited out on a
  timer of its own (the ``response_url`` lives 30 minutes; no worker is held meanwhile), then it tries once more;
* tries a 503 again (Slack acted on nothing), and a connection that never reached Slack;
* never sends again after Slack may have acted on the reply (a 500, 502 or 504; a connection that broke while the
  answer was awaited): every reply is a message, and a retried post is never posted twice;
* logs, in one line, a reply it could not give.

``Admission`` (``bot.slack.app``) sets one on every request's context, so the ``respond`` a listener is given is this.
"""

from __future__ import annotations

import logging
import threading
from ssl import SSLContext
from typing import Any

from slack_bolt import Respond
from slack_sdk.http_retry import RetryHandler
from slack_sdk.webhook import WebhookClient, WebhookResponse

from bot.slack.client import (
    IN_THREAD_WAIT,
    AnyServerErrorRetryHandler,
    BriefRateLimitRetryHandler,
    SentOnceConnectionErrorRetryHandler,
    retry_after,
)
from bot.transport.retry_after import whole_seconds

log = logging.getLogger("bot.slack")

#: Where slack-sdk's webhook client logs: nowhere (it logs each failed attempt at ERROR, retried or not; a reply that
#: was not given is said once, here).
_UNHEARD = logging.getLogger("bot.slack.reply.sdk")
_UNHEARD.propagate = False
_UNHEARD.addHandler(logging.NullHandler())

TIMEOUT = 10  # seconds per attempt, as the Web API client's


def _creating(_url: str) -> bool:
    return True  # a reply is a message: posted twice if sent again after Slack took it


def retries() -> list[RetryHandler]:
    """A reply's retry handlers (fresh for each: they keep no state, but slack-sdk's own are built per client)."""
    return [SentOnceConnectionErrorRetryHandler(max_retry_count=2, creating=_creating),
            BriefRateLimitRetryHandler(max_retry_count=3),
            AnyServerErrorRetryHandler(max_retry_count=2, creating=_creating)]


class Reply(Respond):
    """``respond()`` with the retries above: the same arguments, the same answer (Slack's, after the retries)."""

    def __init__(self, *, response_url: str | None, proxy: str | None = None, ssl: SSLContext | None = None,
                 who: str | None = None) -> None:
        """``who``: whom the reply is for (a user ID, for the log line of a reply not given)."""
        super().__init__(response_url=response_url, proxy=proxy, ssl=ssl)
        self.who = who

    def __call__(self, text: str | dict[str, Any] = "", blocks: Any = None, attachments: Any = None,
                 response_type: str | None = None, replace_original: bool | None = None,
                 delete_original: bool | None = None, unfurl_links: bool | None = None,
                 unfurl_media: bool | None = None, thread_ts: str | None = None,
                 metadata: dict[str, Any] | None = None) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        given: dict[str, Any] = dict(text) if isinstance(text, dict) else {
            "text": text, "blocks": blocks, "attachments": attachments, "response_type": response_type,
            "replace_original": replace_original, "delete_original": delete_original, "unfurl_links": unfurl_links,
            "unfurl_media": unfurl_media, "thread_ts": thread_ts, "metadata": metadata}
        message = {key: value for key, value in given.items() if value is not None}
        answer = self._send(message)
        if answer.status_code == 429:
            wait = retry_after(answer.headers)
            if wait > IN_THREAD_WAIT:  # (a shorter one was waited out, three times, already)
                timer = threading.Timer(wait, self._again, args=(message,))
                timer.daemon = True
                timer.start()
                return answer
        self._said(answer)
        return answer

    def _send(self, message: dict[str, Any]) -> WebhookResponse:
        assert self.response_url is not None
        client = WebhookClient(url=self.response_url, timeout=TIMEOUT, proxy=self.proxy, ssl=self.ssl,
                               logger=_UNHEARD, retry_handlers=retries())
        return client.send_dict(message)

    def _again(self, message: dict[str, Any]) -> None:
        """The reply Slack's rate limit put off, tried again once its time came."""
        try:
            self._said(self._send(message))
        except Exception as exc:
            log.warning("could not reply to %s: %s", self.who or "the person who asked", type(exc).__name__)

    def _said(self, answer: WebhookResponse) -> None:
        if answer.status_code == 429:
            log.warning("could not reply to %s: Slack is rate-limiting replies (retry after %s s)",
                        self.who or "the person who asked", whole_seconds(retry_after(answer.headers)))
        elif not 200 <= answer.status_code < 300:
            log.warning("could not reply to %s: Slack answered %d", self.who or "the person who asked",
                        answer.status_code)
