"""Requests as the rest of the program sees them (``RequestView``), for the pure modules' tests.

``view(state)`` fills in what a request in that state has (who decided, when it started and ends …) for
a request by ``UREQ`` decided by ``UBO``; ``changes`` override any field. ``hostile(state)`` is the same
request with every field a person typed (login ID, tenant, reason, a failure that quotes them) built to
ping ``@channel`` or add a link if it ever reached mrkdwn unescaped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain import RequestView, State
from bot.domain.outcomes import Legacy

T0 = datetime(2024, 5, 1, 14, 0, tzinfo=UTC)
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMSJ9.c2lnbmF0dXJlLXNlY3JldA"

HOSTILE_REASON = "<!channel> *bold* <https://evil|click>"
HOSTILE_LOGIN = "<!channel>jane@acme.com"
HOSTILE_TENANT = "<https://evil|acme-eu>"
HOSTILE_FAILURE = "<!here> Descope said <https://evil|no>"
FORBIDDEN = ["<!channel>", "<!here>", "<https://evil"]


def view(state: State = State.PENDING, **changes: Any) -> RequestView:
    fields: dict[str, Any] = {
        "id": "K7M2QX9A",
        "requester_id": "UREQ",
        "login_id": "jane@acme.com",
        "tenant": "acme-eu",
        "duration": timedelta(minutes=30),
        "reason": "checking invoice SUP-123",
        "state": state,
        "created_at": T0,
        "pending_until": T0 + timedelta(minutes=30),
    }
    if state is not State.PENDING and state is not State.EXPIRED:
        fields["decided_by"] = "UBO"
        fields["decided_at"] = T0 + timedelta(minutes=1)
    if state in (State.ACTIVE, State.STOPPED):
        fields["started_at"] = T0 + timedelta(minutes=2)
        fields["ends_at"] = T0 + timedelta(minutes=32)
    if state is State.STOPPED:
        fields["stopped_at"] = T0 + timedelta(minutes=32)
        fields["stopped_by"] = "system"
    if state is State.FAILED:
        fields["failure"] = Legacy("Descope refused: user not found")
    fields.update(changes)
    return RequestView(**fields)


def hostile(state: State) -> RequestView:
    return view(state, login_id=HOSTILE_LOGIN, tenant=HOSTILE_TENANT, reason=HOSTILE_REASON,
                failure=Legacy(HOSTILE_FAILURE) if state is State.FAILED else None)


#: The policy file of issue 11's example (two rules: two approvals for bank tenants, nobody for our own staff).
POLICY_EXAMPLE = """\
[[rule]]
name = "regulated tenants"
tenants = ["bank-*"]
approvers = ["S0SECOPS"]
approvals = 2
max_duration = "1h"

[[rule]]
name = "our own staff"
targets = ["*@ourcompany.com"]
allow = false
"""
