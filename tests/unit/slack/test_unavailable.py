"""``bot.slack.unavailable`` against the fake Slack: its rate limit and its own failures are told from its refusals,
for the directory's look-ups as for the notifier's posts (``test_notifier``); a listener's answer to them says when
to try again (``slack.errors.error_text``), in one log line, with no error ID."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError

from bot.devtools import FakeSlack
from bot.slack.directory import SlackDirectory
from bot.slack.errors import error_text
from bot.workflows.ports import SlackUnavailable
from tests.unit.slack.test_client import client_for


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_user("U_JANE", "jane@acme.com")
        yield fake


def test_a_look_up_slack_rate_limits_or_fails_is_unavailable_and_a_refusal_is_not(slack: FakeSlack) -> None:
    directory = SlackDirectory(client_for(slack.url))
    slack.fail_next("users.info", status=429, retry_after=20)
    with pytest.raises(SlackUnavailable) as limited:
        directory.email_of("U_JANE")
    assert limited.value.retry_after == 20
    slack.fail_next("users.info", status=503, retry_after=None, count=5)
    with pytest.raises(SlackUnavailable) as failing:
        directory.email_of("U_JANE")
    assert failing.value.retry_after is None
    assert directory.email_of("U_JANE") == "jane@acme.com"  # once Slack answers
    slack.fail_next("usergroups.users.list", status=200, error="missing_scope")
    with pytest.raises(SlackApiError):  # a refusal: someone must fix the app, trying again will not
        directory.is_member("U_JANE", ["SOPS1"])


def test_a_listener_tells_when_to_try_again_without_an_error_id(slack: FakeSlack,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    client = client_for(slack.url)
    slack.fail_next("views.open", status=429, retry_after=12)
    with pytest.raises(SlackApiError) as limited:
        client.views_open(trigger_id="t", view={"type": "modal"})
    assert "try again in 12 s" in error_text(limited.value, "showing the token")
    assert "try again in a moment" in error_text(SlackUnavailable("Slack answered 502"), "opening the form")
    assert not any(r.exc_info for r in caplog.records) and "Error ID" not in error_text(limited.value, "x")
    assert "Error ID" in error_text(ValueError("a bug"), "showing the token")  # anything else is still a bug
