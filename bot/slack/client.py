"""The Slack Web API client the bot uses everywhere: pointed at ``SLACK_API_URL``, with retries.

slack-sdk retries only one connection error by default; the bot also retries rate limits (honouring
``Retry-After``) and Slack's 5xx answers, so a busy workspace delays a message instead of losing it.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack-sdk's handler retries only 500 and 503; a 502 or 504 from Slack's edge is as transient."""

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        return response is not None and response.status_code >= 500



def make_client(settings: Settings) -> WebClient:
    return WebClient(
        token=settings.slack_bot_token.get(),
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            AnyServerErrorRetryHandler(max_retry_count=2),
        ],
    )
