"""The Slack side of ``workflows.ports.Notifier``: posts and edits the bot's messages, publishes App Homes.

Thin on purpose: what to say lives in ``views`` (and ``messages``), when to say it in
``workflows.projection``.
DMs go to the ``D…`` channel from ``conversations.open`` (so they can be edited later), with link
unfurling off; a session's later DMs (the warning, the outcome) go to the channel of its first, without asking
again. The token never travels in a new message: it is edited into a DM posted without it.
Errors propagate: the service records how far it got and tries again.
"""

from __future__ import annotations

from slack_sdk import WebClient

from bot.domain import RequestView
from bot.domain.home import Home
from bot.slack.views import approval, dm, home, thread
from bot.slack.views.blocks import Message
from bot.store import AuditEntry


class SlackNotifier:
    def __init__(self, client: WebClient, approval_channel: str) -> None:
        self.client = client
        self.approval_channel = approval_channel

    def post_request(self, request: RequestView) -> tuple[str, str]:
        msg = approval.build(request)
        resp = self.client.chat_postMessage(channel=self.approval_channel, text=msg.text, blocks=msg.blocks,
                                            unfurl_links=False, unfurl_media=False)
        return str(resp["channel"]), str(resp["ts"])

    def update_request(self, request: RequestView) -> None:
        assert request.channel_id and request.channel_ts
        msg = approval.build(request)
        self.client.chat_update(channel=request.channel_id, ts=request.channel_ts, text=msg.text, blocks=msg.blocks)

    def post_thread(self, request: RequestView, entry: AuditEntry) -> None:
        if not (request.channel_id and request.channel_ts):
            return
        msg = thread.line(entry)
        self.client.chat_postMessage(channel=request.channel_id, thread_ts=request.channel_ts, text=msg.text,
                                     reply_broadcast=msg.broadcast, unfurl_links=False, unfurl_media=False)

    def open_token_dm(self, request: RequestView) -> tuple[str, str]:
        return self._dm(request.requester_id, dm.token_coming(request))

    def post_ready(self, request: RequestView) -> tuple[str, str]:
        return self._dm(request.requester_id, dm.ready(request))

    def show_token(self, request: RequestView, where: tuple[str, str], token: str) -> None:
        msg = dm.token(request, token)
        self.client.chat_update(channel=where[0], ts=where[1], text=msg.text, blocks=msg.blocks)

    def send_outcome(self, request: RequestView, token_dm: tuple[str, str] | None) -> None:
        if token_dm is not None:
            redacted = dm.redacted(request)
            self.client.chat_update(channel=token_dm[0], ts=token_dm[1], text=redacted.text, blocks=redacted.blocks)
        msg = dm.outcome(request)
        if msg is not None:
            self._dm(request.requester_id, msg, token_dm[0] if token_dm else None)

    def send_warning(self, request: RequestView, token_dm: tuple[str, str] | None) -> None:
        self._dm(request.requester_id, dm.warning(request), token_dm[0] if token_dm else None)

    def publish_home(self, page: Home) -> None:
        """``views.publish``: the person's App Home (no scope needed; the Home tab must be on)."""
        self.client.views_publish(user_id=page.user_id, view=home.build(page))

    def _dm(self, user_id: str, msg: Message, channel: str | None = None) -> tuple[str, str]:
        """Post ``msg`` to ``user_id``'s DM: ``channel`` when the session's DM is known (no need to ask Slack for
        it again), else the one ``conversations.open`` answers."""
        if channel is None:
            channel = str(self.client.conversations_open(users=user_id)["channel"]["id"])
        resp = self.client.chat_postMessage(channel=channel, text=msg.text, blocks=msg.blocks,
                                            unfurl_links=False, unfurl_media=False)
        return str(resp["channel"]), str(resp["ts"])
