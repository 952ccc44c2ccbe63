"""``bot.slack.views.thread``: a reply in the approval message's thread, a line per audit event."""

from __future__ import annotations

import pytest

from bot.slack.views import thread
from bot.store import AuditEntry
from tests.unit.factories import T0


def test_thread_line_escapes_detail() -> None:
    entry = AuditEntry(id=1, request_id="K7M2QX9A", at=T0, actor="UBO", action="failed", from_state="approved",
                       to_state="failed", detail="<!channel> boom")
    message = thread.lines([entry])
    assert "<!channel>" not in message.text
    assert "&lt;!channel&gt; boom" in message.text
    assert thread.lines([
        AuditEntry(id=2, request_id="K7M2QX9A", at=T0, actor="UBO", action="approved", from_state="pending",
                   to_state="approved", detail=None)
    ]).text.endswith("approved by <@UBO>")


@pytest.mark.parametrize(("action", "broadcast"), [("stop_failing", True), ("delivery_failed", True),
                                                    ("approved", False), ("stopped", False)])
def test_alarms_are_also_shown_in_the_channel(action: str, broadcast: bool) -> None:
    entry = AuditEntry(id=4, request_id="K7M2QX9A", at=T0, actor="system", action=action, from_state="active",
                       to_state="active", detail="Descope stop call failed 3 times")
    assert thread.lines([entry]).broadcast is broadcast


def test_thread_line_starts_with_when_it_happened() -> None:
    entry = AuditEntry(id=5, request_id="K7M2QX9A", at=T0, actor="UBO", action="denied", from_state="pending",
                       to_state="denied", detail=None)
    assert thread.lines([entry]).text == f"<!date^{int(T0.timestamp())}^{{time}}|14:00 UTC>: denied by <@UBO>"


def test_a_reply_has_a_line_per_event_in_order_and_is_shown_in_the_channel_if_any_is_an_alarm() -> None:
    approved = AuditEntry(id=6, request_id="K7M2QX9A", at=T0, actor="UBO", action="approved", from_state="pending",
                          to_state="approved", detail=None)
    failed = AuditEntry(id=7, request_id="K7M2QX9A", at=T0, actor="system", action="delivery_failed",
                        from_state="active", to_state="active", detail=None)
    calm = thread.lines([approved])
    both = thread.lines([approved, failed])
    assert both.text.splitlines()[0] == calm.text and len(both.text.splitlines()) == 2
    assert not calm.broadcast and both.broadcast
