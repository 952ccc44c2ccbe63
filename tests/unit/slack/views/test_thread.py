"""``bot.slack.views.thread``: one reply in the approval message's thread per audit event."""

from __future__ import annotations

import pytest

from bot.slack.views import thread
from bot.store import AuditEntry
from tests.unit.factories import T0


def test_thread_line_escapes_detail() -> None:
    entry = AuditEntry(id=1, request_id="K7M2QX9A", at=T0, actor="UBO", action="failed", from_state="approved",
                       to_state="failed", detail="<!channel> boom")
    message = thread.line(entry)
    assert "<!channel>" not in message.text
    assert "&lt;!channel&gt; boom" in message.text
    assert thread.line(
        AuditEntry(id=2, request_id="K7M2QX9A", at=T0, actor="UBO", action="approved", from_state="pending",
                   to_state="approved", detail=None)
    ).text.endswith("approved by <@UBO>")


@pytest.mark.parametrize(("action", "broadcast"), [("stop_failing", True), ("delivery_failed", True),
                                                    ("approved", False), ("stopped", False)])
def test_alarms_are_also_shown_in_the_channel(action: str, broadcast: bool) -> None:
    entry = AuditEntry(id=4, request_id="K7M2QX9A", at=T0, actor="system", action=action, from_state="active",
                       to_state="active", detail="Descope stop call failed 3 times")
    assert thread.line(entry).broadcast is broadcast


def test_thread_line_starts_with_when_it_happened() -> None:
    entry = AuditEntry(id=5, request_id="K7M2QX9A", at=T0, actor="UBO", action="denied", from_state="pending",
                       to_state="denied", detail=None)
    assert thread.line(entry).text == f"<!date^{int(T0.timestamp())}^{{time}}|14:00 UTC>: denied by <@UBO>"
