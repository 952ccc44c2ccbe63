"""The Slack Web API client the bot uses everywhere: pointed at ``SLACK_API_URL``, with retries.

slack-sdk retries only one connection error by default; the bot also retries rate limits (honouring
``Retry-After``) and Slack's 5xx answers, so a busy workspace delays a message instead of losing it; a post is never
sent again after Slack may have acted on it (``CREATING``): a retried post is never posted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.error import URLError
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings
from bot.transport.urllib_kept import KeepAlive, creates

#: Where a probe's client logs: nowhere (slack-sdk logs a failed request at ERROR; the caller says what failed, once).
_UNHEARD = logging.getLogger("bot.slack.probe")
_UNHEARD.propagate = False
_UNHEARD.addHandler(logging.NullHandler())


# CREATING: Web API methods that create something each time they are called. Sent again after Slack may have acted on
# them (an answer that never came back, a 500, 502 or 504), they could post twice: those are not retried here (the
# bot's Slack sync comes back to what did not get through). A 429 or 503 (Slack acted on nothing) and a failure to
# connect or send are.


class SentOnceConnectionErrorRetryHandler(ConnectionErrorRetryHandler):
    """slack-sdk's, but a call that creates (``CREATING``) is retried only when it never reached Slack: a ``URLError``
    (the transport's failure to connect or send: ``bot.transport.urllib_kept``), not a connection that broke while
    the answer was awaited."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if creates(request.url) and not isinstance(error, URLError):
            return False
        return bool(super()._can_retry(state=state, request=request, response=response, error=error))


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack-sdk's handler retries only 500 and 503; a 502 or 504 from Slack's edge is as transient. A call that
    creates (``CREATING``) only on 503 (refused unprocessed): after a 500, 502 or 504 Slack may have posted."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        if response is None or response.status_code < 500:
            return False
        return response.status_code == 503 or not creates(request.url)

class CountingWebClient(WebClient):
    """A ``WebClient`` that tells ``on_call`` (method, result) once per Web API call, after its retries:
    ``ok``, ``ratelimited`` (still 429 after them) or ``error``; that sends its calls over kept connections
    (``bot.transport.urllib_kept``, shared with its forks). ``fork`` makes one for a Bolt request."""

    def __init__(self, *args: Any, on_call: Callable[[str, str], None] | None = None,
                 transport: KeepAlive | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_call = on_call
        self.transport = transport or KeepAlive(timeout=self.timeout, context=self.ssl)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not url.lower().startswith("http"):
            return super()._perform_urllib_http_request_internal(url, req)
        return self.transport.send(req)

    def api_call(self, api_method: str, *args: Any, **kwargs: Any) -> Any:
        if self.on_call is None:
            return super().api_call(api_method, *args, **kwargs)
        result = "error"
        try:
            response = super().api_call(api_method, *args, **kwargs)
            result = "ok"
            return response
        except SlackApiError as exc:
            limited = exc.response.status_code == 429 or exc.response.get("error") == "ratelimited"
            result = "ratelimited" if limited else "error"
            raise
        finally:
            self.on_call(api_method, result)

    def fork(self, team_id: str | None) -> CountingWebClient:
        """A copy for one Bolt request (Bolt builds a plain ``WebClient`` per request otherwise)."""
        return CountingWebClient(token=self.token, base_url=self.base_url, timeout=self.timeout, ssl=self.ssl,
                                 proxy=self.proxy, headers=self.headers, team_id=team_id, logger=self.logger,
                                 retry_handlers=list(self.retry_handlers), on_call=self.on_call,
                                 transport=self.transport)


def make_client(settings: Settings, on_call: Callable[[str, str], None] | None = None) -> WebClient:
    return CountingWebClient(
        on_call=on_call,
        token=settings.slack_bot_token.get(),
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            SentOnceConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            AnyServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def probe_client(settings: Settings, token: str | None = None) -> WebClient:
    """A client for the questions asked before the bot runs (``serve``'s start, ``check``): 10 s at most per call,
    rate limits waited out, but no retry of a connection error and no log line of its own: the one who asks says
    what failed. ``token``: another than the bot token (the app-level token)."""
    return WebClient(token=token or settings.slack_bot_token.get(), base_url=settings.slack_api_url, timeout=10,
                     retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)], logger=_UNHEARD)
