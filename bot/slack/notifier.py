"""The Slack side of ``workflows.ports.Notifier``: posts and edits the bot's messages, publishes App Homes.

Thin on purpose: what to say lives in ``views`` (and ``messages``), when to say it in
``workflows.projection``.
DMs go to the ``D…`` channel from ``conversations.open`` (so they can be edited later), with link
unfurling off; a session's later DMs (the warning, the outcome) go to the channel of its first. A person's DM
channel with the bot does not change, so each process asks Slack for it once per person (``conversations.open``
is rate-limited at Tier 3, about 50 a minute); if Slack refuses a post to the channel kept (say the person was
deactivated, and reactivated since), it is asked again once. The token never travels in a new message: it is
edited into a DM posted without it.
Errors propagate: the service records how far it got and tries again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain import RequestView
from bot.domain.audit import AuditEntry
from bot.domain.home import Home
from bot.domain.outcomes import Outside
from bot.slack.messages import outside as outside_words
from bot.slack.unavailable import unavailable_as_such
from bot.slack.views import approval, dm, home, thread
from bot.slack.views.blocks import Message
from bot.workflows.ports import ChannelRefused

log = logging.getLogger(__name__)

#: Slack's answers to a post that say the channel itself is wrong (nothing was posted).
STALE_CHANNEL = frozenset({"channel_not_found", "is_archived", "not_in_channel"})
#: Slack's answers to the approval message's post that no retry of ours can change: someone must fix the channel.
REFUSING_CHANNEL = STALE_CHANNEL | {"restricted_action", "restricted_action_read_only_channel",
                                    "restricted_action_thread_only_channel", "restricted_action_non_threadable_channel",
                                    "ekm_access_denied", "team_access_not_granted", "missing_scope"}


class SlackNotifier:
    def __init__(self, client: WebClient, approval_channel: str) -> None:
        self.client = client
        self.approval_channel = approval_channel
        self._dm_channels: dict[str, str] = {}  # user ID -> their DM channel with the bot, as Slack opened it
        self._lock = threading.Lock()

    @unavailable_as_such
    def post_request(self, request: RequestView) -> tuple[str, str]:
        msg = approval.build(request)
        try:
            resp = self.client.chat_postMessage(channel=self.approval_channel, text=msg.text, blocks=msg.blocks,
                                                unfurl_links=False, unfurl_media=False)
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in REFUSING_CHANNEL:
                raise ChannelRefused(self.approval_channel, error) from exc
            raise
        return str(resp["channel"]), str(resp["ts"])

    @unavailable_as_such
    def send_not_posted(self, request: RequestView, refused: ChannelRefused) -> None:
        self._dm(request.requester_id, dm.not_posted(request, refused.channel, refused.error))

    @unavailable_as_such
    def update_request(self, request: RequestView) -> None:
        """Bring the approval message up to date; one deleted from Slack meanwhile (by an admin) stays gone: said in
        a line, not retried for ever (the thread and the audit keep the record)."""
        assert request.channel_id and request.channel_ts
        msg = approval.build(request)
        try:
            self.client.chat_update(channel=request.channel_id, ts=request.channel_ts, text=msg.text,
                                    blocks=msg.blocks)
        except SlackApiError as exc:
            if exc.response.get("error") != "message_not_found":
                raise
            log.warning("request %s: its approval message is gone from Slack (deleted?); not updated", request.id)

    @unavailable_as_such
    def post_outside(self, found: Outside) -> str:
        msg = outside_words.notice(found)
        resp = self.client.chat_postMessage(channel=self.approval_channel, text=msg, unfurl_links=False,
                                            unfurl_media=False)
        return str(resp["ts"])

    @unavailable_as_such
    def post_copy(self, request: RequestView, channel: str) -> tuple[str, str]:
        msg = approval.build(request)
        try:
            resp = self.client.chat_postMessage(channel=channel, text=msg.text, blocks=msg.blocks, unfurl_links=False,
                                                unfurl_media=False)
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in REFUSING_CHANNEL:
                raise ChannelRefused(channel, error) from exc
            raise
        return str(resp["channel"]), str(resp["ts"])

    @unavailable_as_such
    def update_copy(self, request: RequestView, where: tuple[str, str]) -> None:
        msg = approval.build(request)
        self.client.chat_update(channel=where[0], ts=where[1], text=msg.text, blocks=msg.blocks)

    @unavailable_as_such
    def post_thread(self, request: RequestView, entries: Sequence[AuditEntry]) -> None:
        if not (request.channel_id and request.channel_ts):
            return
        msg = thread.lines(entries)
        self.client.chat_postMessage(channel=request.channel_id, thread_ts=request.channel_ts, text=msg.text,
                                     reply_broadcast=msg.broadcast, unfurl_links=False, unfurl_media=False)

    @unavailable_as_such
    def open_token_dm(self, request: RequestView) -> tuple[str, str]:
        return self._dm(request.requester_id, dm.token_coming(request))

    @unavailable_as_such
    def post_ready(self, request: RequestView) -> tuple[str, str]:
        return self._dm(request.requester_id, dm.ready(request))

    @unavailable_as_such
    def show_token(self, request: RequestView, where: tuple[str, str], token: str) -> None:
        msg = dm.token(request, token)
        self.client.chat_update(channel=where[0], ts=where[1], text=msg.text, blocks=msg.blocks)

    @unavailable_as_such
    def send_outcome(self, request: RequestView, token_dm: tuple[str, str] | None,
                     warning_dm: tuple[str, str] | None = None) -> None:
        if token_dm is not None:
            redacted = dm.redacted(request)
            self.client.chat_update(channel=token_dm[0], ts=token_dm[1], text=redacted.text, blocks=redacted.blocks)
        if warning_dm is not None:
            past = dm.warning_past(request)
            self.client.chat_update(channel=warning_dm[0], ts=warning_dm[1], text=past.text, blocks=past.blocks)
        msg = dm.outcome(request)
        if msg is not None:
            self._dm(request.requester_id, msg, token_dm[0] if token_dm else None)

    @unavailable_as_such
    def send_put_off(self, request: RequestView, until: datetime) -> None:
        self._dm(request.requester_id, dm.put_off(request, until))

    @unavailable_as_such
    def send_warning(self, request: RequestView, token_dm: tuple[str, str] | None) -> tuple[str, str]:
        return self._dm(request.requester_id, dm.warning(request), token_dm[0] if token_dm else None)

    @unavailable_as_such
    def publish_home(self, page: Home) -> None:
        """``views.publish``: the person's App Home (no scope needed; the Home tab must be on)."""
        self.client.views_publish(user_id=page.user_id, view=home.build(page))

    def _dm(self, user_id: str, msg: Message, channel: str | None = None) -> tuple[str, str]:
        """Post ``msg`` to ``user_id``'s DM: ``channel`` when the session's DM is known, else the person's DM
        channel (opened once per process, then kept)."""
        if channel is not None:
            return self._post(channel, msg)
        with self._lock:
            kept = self._dm_channels.get(user_id)
        try:
            return self._post(kept or self._open_dm(user_id), msg)
        except SlackApiError as exc:  # Slack answered and posted nothing: the kept channel may be stale
            if kept is None or exc.response.get("error") not in STALE_CHANNEL:
                raise
            log.info("posting to the DM channel kept for %s failed (%s); opening it again", user_id,
                     exc.response.get("error"))
            return self._post(self._open_dm(user_id), msg)

    def _open_dm(self, user_id: str) -> str:
        """``user_id``'s DM channel with the bot, from ``conversations.open``: kept for their next DMs."""
        opened = str(self.client.conversations_open(users=user_id)["channel"]["id"])
        with self._lock:
            self._dm_channels[user_id] = opened
        return opened

    def _post(self, channel: str, msg: Message) -> tuple[str, str]:
        resp = self.client.chat_postMessage(channel=channel, text=msg.text, blocks=msg.blocks,
                                            unfurl_links=False, unfurl_media=False)
        return str(resp["channel"]), str(resp["ts"])
