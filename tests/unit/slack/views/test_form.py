"""``bot.slack.views.form``: the request form as Block Kit (``build``), its submissions read back (``parse``) by the
typed command's rules, and the field errors and views a submission is answered with."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.devtools.signing import view_state
from bot.domain import (
    AlreadyOpen,
    DomainError,
    Draft,
    NotARequester,
    NotInTenant,
    TargetDisabled,
    TooManyPending,
    UnknownTarget,
    WindowOutOfPolicy,
)
from bot.slack import payloads
from bot.slack.commands import Submit, UsageError, Windows, parse
from bot.slack.messages import replies
from bot.slack.messages.form import field_problem
from bot.slack.payloads import Submission
from bot.slack.views import form, ids
from bot.slack.views.form import Field, Invalid
from tests.unit.factories import HOSTILE_LOGIN, HOSTILE_REASON, hostile, view
from tests.unit.slack.views.walk import walk

POLICY = Windows(default_duration=timedelta(minutes=30), min_duration=timedelta(minutes=1),
                max_duration=timedelta(hours=4))
VALID = {ids.FORM_LOGIN_ID: "jane@acme.com", ids.FORM_TENANT: "acme-eu", ids.FORM_WINDOW: "1h",
         ids.FORM_REASON: "checking invoice SUP-123"}


def valid_block_kit(built: dict[str, Any]) -> None:
    """Slack's own models accept the view, and know every key of it (nothing is dropped on the way)."""
    model = View(**built)
    model.validate_json()
    assert model.to_dict() == built


def submitted(view: dict[str, Any], state: dict[str, Any]) -> Submission:
    """A view as Slack sends it back in a ``view_submission``, read by ``payloads.submission``."""
    return payloads.submission({"type": "view_submission", "user": {"id": "UREQ"}, "view": {**view, "state": state}})


def submit(allowed: Windows = POLICY, **answers: str | None) -> Draft | Invalid:
    """Parse the form as Slack sends it back once filled in (``answers`` by action_id, over ``VALID``)."""
    built = form.build(allowed)
    return form.parse(submitted(built, view_state(built, {**VALID, **answers})), allowed)


def problems(result: Draft | Invalid) -> dict[Field, str]:
    assert isinstance(result, Invalid), result
    return {field: field_problem(problem) for field, problem in result.problems.items()}


def inputs(built: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in built["blocks"] if b["type"] == "input"}


# -- build ------------------------------------------------------------------------------------------------


def test_the_form_is_valid_block_kit_within_slacks_limits() -> None:
    built = form.build(POLICY)
    valid_block_kit(built)
    assert built["callback_id"] == ids.REQUEST_FORM
    assert all(len(built[k]["text"]) <= 24 for k in ("title", "submit", "close"))
    for element in walk(built["blocks"]):
        if "options" in element:
            assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in element["options"])
        if "placeholder" in element:
            assert len(element["placeholder"]["text"]) <= 150


def test_the_form_asks_for_login_id_tenant_window_and_reason() -> None:
    fields = inputs(form.build(POLICY))
    assert list(fields) == [Field.LOGIN_ID, Field.TENANT, Field.WINDOW, Field.REASON]
    login, tenant, window, reason = fields.values()
    assert [b["label"]["text"] for b in fields.values()] == ["Login ID", "Tenant", "Window", "Reason"]
    assert (login["optional"], tenant["optional"], window["optional"], reason["optional"]) == (
        False, True, True, False)
    assert login["element"]["type"] == tenant["element"]["type"] == "plain_text_input"
    assert (login["element"]["max_length"], tenant["element"]["max_length"]) == (256, 128)
    assert reason["element"]["multiline"] is True and reason["element"]["max_length"] == 500
    assert window["element"]["type"] == "static_select"


def test_the_windows_offered_are_the_policys_and_none_is_preset() -> None:
    field = inputs(form.build(POLICY))[Field.WINDOW]
    window = field["element"]
    assert [(o["value"], o["text"]["text"]) for o in window["options"]] == [
        ("5m", "5 minutes"), ("15m", "15 minutes"), ("30m", "30 minutes"), ("1h", "1 hour"), ("2h", "2 hours"),
        ("4h", "4 hours")]
    assert "initial_option" not in window and field["optional"]  # left empty: the deciding rule's default


def test_an_unusual_policy_offers_its_own_default_and_longest_window_and_nothing_outside_it() -> None:
    allowed = Windows(timedelta(minutes=45), timedelta(minutes=10), timedelta(minutes=150))
    window = inputs(form.build(allowed))[Field.WINDOW]["element"]
    assert [o["value"] for o in window["options"]] == ["15m", "30m", "45m", "1h", "2h", "2h30m"]
    only = Windows(timedelta(minutes=20), timedelta(minutes=20), timedelta(minutes=20))
    assert [o["value"] for o in inputs(form.build(only))[Field.WINDOW]["element"]["options"]] == ["20m"]


# -- parse ------------------------------------------------------------------------------------------------


def test_a_filled_in_form_is_the_draft_the_command_would_make() -> None:
    draft = submit()
    assert draft == Draft(login_id="jane@acme.com", duration=timedelta(hours=1),
                          reason="checking invoice SUP-123", tenant="acme-eu")
    assert parse("jane@acme.com 1h --tenant acme-eu checking invoice SUP-123", POLICY) == Submit(draft)


def test_no_window_empty_tenant_and_a_multi_line_reason() -> None:
    answers = {k: v for k, v in VALID.items() if k != ids.FORM_WINDOW}  # the window left empty
    built = form.build(POLICY)
    result = form.parse(submitted(built, view_state(built, {**answers, ids.FORM_TENANT: None,
                                                            ids.FORM_LOGIN_ID: "  jane@acme.com ",
                                                            ids.FORM_REASON: "SUP-123\nthe invoice is wrong\n"})),
                        POLICY)
    assert result == Draft(login_id="jane@acme.com", duration=None, reason="SUP-123\nthe invoice is wrong",
                           tenant=None)


def test_a_submission_without_a_window_takes_the_deciding_rules_default() -> None:
    result = submit(**{ids.FORM_WINDOW: None})
    assert isinstance(result, Draft) and result.duration is None  # as the command without a duration
    assert parse("jane@acme.com checking", POLICY) == Submit(Draft("jane@acme.com", None, "checking"))


@pytest.mark.parametrize(("answers", "field", "says"), [
    ({ids.FORM_LOGIN_ID: None}, Field.LOGIN_ID, "Give the Descope login ID of the user to impersonate"),
    ({ids.FORM_LOGIN_ID: "   "}, Field.LOGIN_ID, "Give the Descope login ID of the user to impersonate"),
    ({ids.FORM_LOGIN_ID: "30m"}, Field.LOGIN_ID, "Give the Descope login ID of the user to impersonate"),
    ({ids.FORM_LOGIN_ID: "j" * 257}, Field.LOGIN_ID, "The login ID is too long (more than 256 characters)."),
    ({ids.FORM_TENANT: "t" * 129}, Field.TENANT, "The tenant ID is too long (more than 128 characters)."),
    ({ids.FORM_WINDOW: "5h"}, Field.WINDOW, "That window is out of policy: the longest window allowed is 4h."),
    ({ids.FORM_WINDOW: "30s"}, Field.WINDOW, "That window is out of policy: the shortest window allowed is 1m."),
    ({ids.FORM_WINDOW: "forever"}, Field.WINDOW, "Choose one of the windows offered."),
    ({ids.FORM_WINDOW: "0m"}, Field.WINDOW, "Choose one of the windows offered."),
    ({ids.FORM_REASON: None}, Field.REASON, "A reason is required"),
    ({ids.FORM_REASON: " \n\t "}, Field.REASON, "A reason is required"),
    ({ids.FORM_REASON: "x" * 501}, Field.REASON, "The reason is 501 characters long; keep it under 500"),
])
def test_each_bad_field_is_reported_on_that_field_alone(answers: dict[str, str | None], field: Field,
                                                        says: str) -> None:
    found = problems(submit(**answers))
    assert list(found) == [field]
    assert found[field].startswith(says)
    assert "`" not in found[field]  # a field error is plain text: no code spans


def test_every_bad_field_is_reported_at_once_on_the_forms_own_blocks() -> None:
    result = submit(**{ids.FORM_LOGIN_ID: None, ids.FORM_TENANT: "t" * 200, ids.FORM_WINDOW: "9h",
                       ids.FORM_REASON: ""})
    assert isinstance(result, Invalid)
    errors = form.errors(result)
    assert set(errors) == {Field.LOGIN_ID, Field.TENANT, Field.WINDOW, Field.REASON}
    assert set(errors) <= set(inputs(form.build(POLICY)))  # Slack shows errors only on input blocks


@pytest.mark.parametrize(("login_id", "reason"), [
    ("--tenant", "checking"), ("1h30m", "checking"), ("j" * 257, "checking"), ("jane@acme.com", "x" * 501)])
def test_the_command_and_the_form_refuse_the_same_fields_for_the_same_reason(login_id: str, reason: str) -> None:
    with pytest.raises(UsageError) as typed:
        parse(f"{login_id} 30m {reason}", POLICY)
    [(_, problem)] = problems(submit(**{ids.FORM_LOGIN_ID: login_id, ids.FORM_REASON: reason})).items()
    assert problem == field_problem(typed.value)


def test_a_crafted_submission_missing_its_values_is_refused_not_crashed() -> None:
    built = form.build(POLICY)
    assert set(problems(form.parse(submitted(built, {}), POLICY))) == {Field.LOGIN_ID, Field.REASON}
    assert set(problems(form.parse(submitted(built, {"values": {Field.LOGIN_ID: "x", Field.REASON: [1]}}), POLICY))) \
        == {Field.LOGIN_ID, Field.REASON}


# -- the emergency choice (break-glass, issue 26) --------------------------------------------------------


def test_where_a_rule_allows_break_glass_the_form_offers_the_emergency_checkbox() -> None:
    built = form.build(POLICY, emergency=True)
    valid_block_kit(built)
    fields = inputs(built)
    assert list(fields) == [Field.LOGIN_ID, Field.TENANT, Field.WINDOW, Field.REASON, Field.EMERGENCY]
    emergency = fields[Field.EMERGENCY]
    assert emergency["optional"] is True  # an ordinary request leaves it unticked
    element = emergency["element"]
    assert (element["type"], element["action_id"]) == ("checkboxes", ids.FORM_EMERGENCY)
    [choice] = element["options"]
    assert choice["value"] == form.EMERGENCY and "emergency" in choice["text"]["text"]


def test_otherwise_the_form_has_no_emergency_checkbox() -> None:
    assert Field.EMERGENCY not in inputs(form.build(POLICY))
    assert Field.EMERGENCY not in inputs(form.build(POLICY, emergency=False))


def _emergency_submission(ticked: bool) -> Draft | Invalid:
    built = form.build(POLICY, emergency=True)
    answers = {**VALID, ids.FORM_EMERGENCY: form.EMERGENCY if ticked else None}
    return form.parse(submitted(built, view_state(built, answers)), POLICY)


def test_a_submission_with_the_emergency_ticked_asks_for_break_glass() -> None:
    assert _emergency_submission(True) == Draft(login_id="jane@acme.com", duration=timedelta(hours=1),
                                                reason="checking invoice SUP-123", tenant="acme-eu", break_glass=True)


def test_a_submission_with_the_emergency_unticked_or_absent_asks_for_an_ordinary_request() -> None:
    unticked = _emergency_submission(False)
    assert isinstance(unticked, Draft) and not unticked.break_glass
    absent = submit()
    assert isinstance(absent, Draft) and not absent.break_glass


def test_an_emergency_submission_is_checked_field_by_field_as_any() -> None:
    built = form.build(POLICY, emergency=True)
    answers = {**VALID, ids.FORM_EMERGENCY: form.EMERGENCY, ids.FORM_REASON: None}
    assert list(problems(form.parse(submitted(built, view_state(built, answers)), POLICY))) == [Field.REASON]


# -- the rules' refusals, the views a submission turns into ----------------------------------------------


@pytest.mark.parametrize(("refusal", "field", "says"), [
    (UnknownTarget("ghost@acme.com"), Field.LOGIN_ID, "There is no Descope user with login ID ghost@acme.com"),
    (TargetDisabled("off@acme.com"), Field.LOGIN_ID, "The Descope user off@acme.com is disabled"),
    (NotInTenant("jane@acme.com", "acme-us"), Field.TENANT,
     "The Descope user jane@acme.com is not a member of tenant acme-us: nothing was sent to the approvers. Leave the "
     "tenant empty"),
    (WindowOutOfPolicy(timedelta(hours=5), timedelta(minutes=1), timedelta(hours=4)), Field.WINDOW,
     "That window is out of policy: the longest window allowed is 4h."),
    (AlreadyOpen(view()), Field.LOGIN_ID, "You already have request K7M2QX9A (pending) for jane@acme.com"),
    (TooManyPending(3), Field.LOGIN_ID, "You already have 3 requests waiting for approval"),
    (NotARequester("UOUT"), Field.LOGIN_ID, "You are not allowed to request impersonation."),
])
def test_a_refusal_is_shown_on_the_field_that_fixes_it(refusal: DomainError, field: Field, says: str) -> None:
    [(block_id, text)] = form.refused(refusal).items()
    assert block_id == field
    assert text.startswith(says) and "`" not in text


def test_the_sent_view_says_what_the_command_answers() -> None:
    sent = form.sent(view())
    valid_block_kit(sent)
    assert "submit" not in sent  # nothing more to send
    [block] = sent["blocks"]
    assert block["text"]["text"] == replies.submitted(view())
    assert "Home tab" in block["text"]["text"]


def test_the_sent_view_escapes_what_was_typed() -> None:
    text = form.sent(hostile(view().state))["blocks"][0]["text"]["text"]
    assert HOSTILE_LOGIN not in text and "<!channel>" not in text
    assert HOSTILE_REASON not in text


def test_the_failed_view_goes_back_to_the_form() -> None:
    failed = form.failed(replies.unexpected("abcd1234", "sending your request"))
    valid_block_kit(failed)
    assert "abcd1234" in failed["blocks"][0]["text"]["text"]
    assert failed["close"]["text"] == "Back to the form" and "submit" not in failed


def test_the_manifest_declares_the_global_shortcut_the_bot_listens_for() -> None:
    manifest = (Path(__file__).resolve().parents[4] / "slack-app-manifest.yml").read_text()
    shortcut = manifest.split("  shortcuts:\n", 1)[1].split("\noauth_config:", 1)[0]
    assert "type: global" in shortcut
    assert f"callback_id: {ids.REQUEST_SHORTCUT}\n" in shortcut
    assert "name: Request impersonation" in shortcut
