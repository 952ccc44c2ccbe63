"""``bot.domain.outcomes``: why a request failed and how a session ended, as data stored as JSON; rows
written before that hold plain text, which must still be shown as written (``Legacy``)."""

from __future__ import annotations

import json

import pytest

from bot.domain.outcomes import (
    Activated,
    Detail,
    Ending,
    EndReason,
    Failure,
    FailureKind,
    Legacy,
    StopFailing,
    TokenFate,
    decode_detail,
    decode_failure,
    encode,
)

FULL_FAILURE = Failure(FailureKind.NOT_IN_TENANT, login_id="jane@acme.com", tenant="acme-eu",
                       impersonator="bo@corp.example", status=400, code="E011002",
                       description="User not in tenant", error="Descope refused: User not in tenant (HTTP 400)")

DETAILS: list[Failure | Ending | StopFailing | Activated] = [
    *(Failure(kind) for kind in FailureKind),
    FULL_FAILURE,
    Failure(FailureKind.GAVE_UP, error="OperationalError"),
    *(Ending(reason) for reason in EndReason),
    *(Ending(reason, fate) for reason in EndReason for fate in TokenFate),
    Ending(EndReason.STOPPED_EARLY, TokenFate.UNKNOWN_TO_DESCOPE, "E061301"),
    StopFailing(3, "Descope unavailable: timed out"),
    Activated("bo@corp.example"),
]


@pytest.mark.parametrize("detail", DETAILS, ids=repr)
def test_every_detail_round_trips(detail: Failure | Ending | StopFailing | Activated) -> None:
    text = encode(detail)
    back = decode_detail(text)
    assert back == detail
    assert type(back) is type(detail)


@pytest.mark.parametrize("detail", DETAILS, ids=repr)
def test_enums_come_back_as_enums(detail: Failure | Ending | StopFailing | Activated) -> None:
    back = decode_detail(encode(detail))
    if isinstance(back, Failure):
        assert isinstance(back.kind, FailureKind)
    if isinstance(back, Ending):
        assert isinstance(back.reason, EndReason)
        assert back.token is None or isinstance(back.token, TokenFate)


def test_encoding_is_compact_json_naming_its_type_and_leaving_out_what_is_unknown() -> None:
    assert json.loads(encode(Failure(FailureKind.NO_EMAIL))) == {"type": "failure", "kind": "no_email"}
    assert json.loads(encode(Ending(EndReason.WINDOW_ENDED))) == {"type": "ending", "reason": "window_ended"}
    assert json.loads(encode(StopFailing(3, "boom"))) == {"type": "stop_failing", "attempts": 3, "error": "boom",
                                                         "call": "stop"}
    assert json.loads(encode(Activated("bo@corp.example"))) == {"type": "activated", "impersonator": "bo@corp.example"}
    assert " " not in encode(Ending(EndReason.WINDOW_ENDED))


@pytest.mark.parametrize("detail", [d for d in DETAILS if isinstance(d, Failure)], ids=repr)
def test_failures_round_trip_as_failures(detail: Failure) -> None:
    assert decode_failure(encode(detail)) == detail


@pytest.mark.parametrize("text", [
    "Descope refused: there is no Descope user with login ID jane@acme.com (Descope said: User not found; "
    "E112102 HTTP 400)",
    "window ended; the stored token could not be unsealed, so it expires on its own",
    "impersonating as bo@corp.example",
    "",
    "42",  # JSON, but not a detail
    "null",
    '"quoted"',
    "[1, 2]",
    "{not json",
    '{"kind": "no_email"}',  # no type
    '{"type": "someday", "x": 1}',  # a type this version does not know
    '{"type": "failure", "kind": "not_a_kind"}',
    '{"type": "ending", "reason": "window_ended", "token": "not_a_fate"}',
    '{"type": "stop_failing", "attempts": 3}',  # a field missing
])
def test_plain_text_comes_back_as_legacy(text: str) -> None:
    assert decode_detail(text) == Legacy(text)
    assert decode_failure(text) == Legacy(text)


def test_nothing_recorded_is_none() -> None:
    assert decode_detail(None) is None
    assert decode_failure(None) is None


@pytest.mark.parametrize("detail", [Ending(EndReason.WINDOW_ENDED), StopFailing(1, "x"), Activated("a@b")], ids=repr)
def test_a_failure_column_holding_another_detail_is_shown_as_written(detail: Detail) -> None:
    assert not isinstance(detail, Legacy)
    text = encode(detail)
    assert decode_failure(text) == Legacy(text)


def test_fields_a_later_version_adds_are_ignored() -> None:
    text = '{"type":"activated","impersonator":"bo@corp.example","via":"sso"}'
    assert decode_detail(text) == Activated("bo@corp.example")


def test_stored_values_are_the_stored_strings() -> None:
    assert [k.value for k in FailureKind] == [
        "management_key", "no_permission", "no_consent", "unknown_user", "not_in_tenant", "user_disabled",
        "bad_tenant", "refused", "unavailable", "maybe_minted", "no_email", "gave_up", "forbidden", "original_ended",
        "tenants_unknown", "window_out_of_policy", "not_a_requester", "break_glass_refused"]
    assert [r.value for r in EndReason] == ["window_ended", "stopped_early", "extended"]
    assert [t.value for t in TokenFate] == ["unsealable", "unknown_to_descope", "expired_after_failing",
                                            "already_revoked", "never_minted"]
