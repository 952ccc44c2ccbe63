"""The test fakes work with the real clients (slack_sdk WebClient, httpx, Bolt's signature check)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.devtools import FakeDescope, FakeSlack, decode_claims
from bot.devtools.descope_api import IMPERSONATE, STOP_IMPERSONATION, USER_LOAD
from bot.devtools.signing import block_action_body, sign, slash_command_body

TOKEN = "xoxb-test-token"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def descope() -> Iterator[FakeDescope]:
    with FakeDescope() as fake:
        fake.add_user("bo@corp.com", email="bo@corp.com", can_impersonate=True)
        fake.add_user("jane@acme.com", user_id="U_JANE", tenants=["acme-eu"])
        yield fake


def client(slack: FakeSlack, token: str = TOKEN) -> WebClient:
    return WebClient(token=token, base_url=slack.url)


# -- Slack ---------------------------------------------------------------------------------------


def test_auth_test_and_bad_token(slack: FakeSlack) -> None:
    assert slack.url.endswith("/api/")
    resp = client(slack).auth_test()
    assert resp["user_id"] == "UBOT" and resp["team_id"] == "T0001" and resp["bot_id"] == "BBOT"

    with pytest.raises(SlackApiError) as err:
        client(slack, token="xoxb-wrong").auth_test()
    assert err.value.response["error"] == "invalid_auth"
    assert [c.params.get("_failed", False) for c in slack.calls_of("auth.test")] == [False, True]


def test_post_update_delete_with_blocks(slack: FakeSlack) -> None:
    web = client(slack)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "token: *secret-jwt*"}},
        {
            "type": "actions",
            "block_id": "decision",
            "elements": [
                {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}},
            ],
        },
    ]
    first = web.chat_postMessage(channel="C_APPROVALS", text="fallback", blocks=blocks)
    second = web.chat_postMessage(channel="U_REQ", text="hello")  # to a user: lands in the DM
    assert first["ts"] == "1700000000.000100" and second["ts"] == "1700000000.000200"
    assert second["channel"] == "DU_REQ"

    call = slack.wait_for_call("chat.postMessage", where=lambda c: c.params["channel"] == "C_APPROVALS")
    assert call.params["blocks"] == blocks  # a list, not a JSON string
    text = slack.message_text("C_APPROVALS", first["ts"])
    assert "fallback" in text and "secret-jwt" in text and "Approve" in text and "approve" not in text

    web.chat_update(channel="C_APPROVALS", ts=first["ts"], text="redacted")
    assert slack.message_text("C_APPROVALS", first["ts"]) == "redacted"  # text without blocks drops them
    with pytest.raises(SlackApiError) as err:
        web.chat_update(channel="U_REQ", ts=second["ts"], text="x")  # user ID instead of the D channel
    assert err.value.response["error"] == "message_not_found"
    web.chat_delete(channel="DU_REQ", ts=second["ts"])
    assert ("DU_REQ", second["ts"]) not in slack.messages

    outside_dms = slack.all_text_sent(exclude_channels_starting_with="D")
    assert [m for m, _, _ in outside_dms] == ["chat.postMessage", "chat.update"]
    assert any("secret-jwt" in t for _, _, t in outside_dms)


def test_form_encoded_calls_and_registries(slack: FakeSlack) -> None:
    slack.add_user("U_REQ", "req@corp.com")
    slack.add_user("U_NOMAIL", None)
    slack.add_group("S_ADMINS", ["U_A", "U_B"])
    web = client(slack)

    user = web.users_info(user="U_REQ")["user"]
    assert user["profile"]["email"] == "req@corp.com" and user["deleted"] is False
    assert "email" not in web.users_info(user="U_NOMAIL")["user"]["profile"]
    with pytest.raises(SlackApiError) as err:
        web.users_info(user="U_GHOST")
    assert err.value.response["error"] == "user_not_found"

    assert web.conversations_open(users="U_REQ")["channel"]["id"] == "DU_REQ"
    assert web.usergroups_users_list(usergroup="S_ADMINS")["users"] == ["U_A", "U_B"]
    with pytest.raises(SlackApiError) as err:
        web.usergroups_users_list(usergroup="S_NONE")
    assert err.value.response["error"] == "no_such_subteam"

    # blocks sent form-encoded arrive as a JSON string and are decoded
    web.api_call(
        "chat.postEphemeral",
        params={
            "channel": "C1",
            "user": "U_REQ",
            "blocks": json.dumps([{"type": "section", "text": {"type": "plain_text", "text": "only you"}}]),
        },
    )
    assert slack.calls_of("chat.postEphemeral")[0].params["blocks"][0]["text"]["text"] == "only you"
    assert web.views_publish(user_id="U_REQ", view={"type": "home", "blocks": []})["view"]["id"] == "V1"


def test_rate_limit_and_latency(slack: FakeSlack) -> None:
    web = client(slack)
    slack.fail_next("chat.postMessage", retry_after=3)
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C1", text="hi")
    assert err.value.response.status_code == 429
    assert err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] == "3"
    assert web.chat_postMessage(channel="C1", text="hi")["ok"]
    assert [c.params.get("_failed", False) for c in slack.calls_of("chat.postMessage")] == [True, False]

    slack.fail_next("conversations.open", status=200, error="cannot_dm_bot")
    with pytest.raises(SlackApiError) as err:
        web.conversations_open(users="U1")
    assert err.value.response.status_code == 200 and err.value.response["error"] == "cannot_dm_bot"

    slack.set_latency("auth.test", 0.2)
    started = time.monotonic()
    web.auth_test()
    assert time.monotonic() - started >= 0.2


def test_response_url_sink(slack: FakeSlack) -> None:
    posted = client(slack).chat_postMessage(channel="C_APPROVALS", text="approve?")
    url = slack.response_url("click-1", channel="C_APPROVALS", message_ts=posted["ts"])
    assert WebhookClient(url).send_dict({"replace_original": True, "text": "approved by bo"}).status_code == 200
    call = slack.wait_for_call("response_url")
    assert call.params["key"] == "click-1" and call.params["text"] == "approved by bo"
    assert slack.message_text("C_APPROVALS", posted["ts"]) == "approved by bo"
    assert ("response_url", "C_APPROVALS", "approved by bo") in slack.all_text_sent()


def test_wait_for_timeout_lists_calls(slack: FakeSlack) -> None:
    client(slack).auth_test()
    with pytest.raises(AssertionError, match=r"chat\.update.*auth\.test"):
        slack.wait_for_call("chat.update", timeout=0.05)


# -- Descope -------------------------------------------------------------------------------------


def impersonate(descope: FakeDescope, **overrides: object) -> httpx.Response:
    body = {
        "loginId": "jane@acme.com",
        "impersonatorId": "bo@corp.com",
        "validateConsent": True,
        "customClaims": None,
        "selectedTenant": None,
        "refreshDuration": 1800,
        "stepup": None,
    }
    body.update(overrides)
    return httpx.post(descope.url + IMPERSONATE, json=body, headers=descope.auth_headers)


def test_impersonate_and_stop(descope: FakeDescope) -> None:
    resp = impersonate(descope, selectedTenant="acme-eu", customClaims={"reason": "SUP-1"})
    assert resp.status_code == 200, resp.text
    jwt = resp.json()["jwt"]
    claims = decode_claims(jwt)
    bo = descope.users["bo@corp.com"]
    assert claims["sub"] == "U_JANE" and claims["iss"] == "P2test"
    assert claims["act"] == {"sub": bo.user_id, "loginId": "bo@corp.com"}
    assert claims["exp"] - claims["iat"] == 1800
    assert claims["dct"] == "acme-eu" and claims["nsec"] == {"reason": "SUP-1"}
    assert descope.verify(jwt) == claims and descope.active_tokens() == [jwt]

    for _ in range(2):  # idempotent
        stop = httpx.post(descope.url + STOP_IMPERSONATION, json={"jwt": jwt}, headers=descope.auth_headers)
        assert stop.status_code == 200 and decode_claims(stop.json()["jwt"])["sub"] == bo.user_id
    assert descope.is_stopped(jwt) and descope.active_tokens() == []
    bad = httpx.post(descope.url + STOP_IMPERSONATION, json={"jwt": "not.a.jwt"}, headers=descope.auth_headers)
    assert bad.status_code == 400 and bad.json()["errorCode"] == "E011004"


def test_impersonate_refusals(descope: FakeDescope) -> None:
    descope.add_user("shy@acme.com", consented=False)
    descope.add_user("eve@corp.com", email="eve@corp.com")

    unauth = httpx.post(descope.url + IMPERSONATE, json={}, headers={"Authorization": "Bearer P2test:wrong"})
    assert unauth.status_code == 401 and unauth.json()["errorCode"] == "E011003"
    cases = [
        ({"loginId": ""}, 400, "E011002"),
        ({"loginId": "ghost@acme.com"}, 400, "E112102"),
        ({"impersonatorId": "eve@corp.com"}, 403, "E011004"),
        ({"impersonatorId": "nobody@corp.com"}, 403, "E011004"),
        ({"loginId": "shy@acme.com"}, 400, "E011004"),
        ({"selectedTenant": "other"}, 400, "E011004"),
    ]
    for overrides, status, code in cases:
        resp = impersonate(descope, **overrides)
        assert (resp.status_code, resp.json()["errorCode"]) == (status, code), overrides
    assert impersonate(descope, loginId="shy@acme.com", validateConsent=False).status_code == 200
    # impersonator found by user ID too
    assert impersonate(descope, impersonatorId=descope.users["bo@corp.com"].user_id).status_code == 200
    assert descope.calls[0].failed and not descope.calls[1].failed


def test_descope_faults_and_user_lookup(descope: FakeDescope) -> None:
    descope.fail_next(IMPERSONATE, status=429, retry_after=2)
    resp = impersonate(descope)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
    assert resp.json()["errorCode"] == "E130429"
    descope.fail_next(IMPERSONATE, status=503)
    assert impersonate(descope).status_code == 503
    descope.drop_next(IMPERSONATE)
    with pytest.raises(httpx.TransportError):
        impersonate(descope)
    assert impersonate(descope).status_code == 200
    assert [c.failed for c in descope.calls_to(IMPERSONATE)] == [True, True, True, False]
    assert len(descope.minted) == 1

    user = httpx.get(descope.url + USER_LOAD, params={"loginId": "jane@acme.com"}, headers=descope.auth_headers)
    assert user.json()["user"]["userTenants"] == [{"tenantId": "acme-eu", "tenantName": "Acme Eu", "roleNames": []}]
    missing = httpx.get(descope.url + USER_LOAD, params={"loginId": "x"}, headers=descope.auth_headers)
    assert missing.status_code == 400 and missing.json()["errorCode"] == "E112102"


# -- signing -------------------------------------------------------------------------------------


def test_signing_matches_slack_sdk() -> None:
    body = slash_command_body("jane@acme.com 30m checking SUP-1 & more")
    headers = sign("shh", body)
    verifier = SignatureVerifier("shh")
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    fields = parse_qs(body)
    assert fields["text"] == ["jane@acme.com 30m checking SUP-1 & more"]
    assert fields["command"] == ["/impersonate"] and fields["user_id"] == ["U_REQ"]

    click = block_action_body(
        "approve",
        "42",
        user_id="U_BO",
        channel_id="C_APPROVALS",
        message_ts="1700000000.000100",
        response_url="http://x/response/k",
    )
    payload = json.loads(parse_qs(click)["payload"][0])
    assert payload["type"] == "block_actions" and payload["actions"][0]["value"] == "42"
    assert payload["container"]["message_ts"] == "1700000000.000100"
    signed = sign("shh", click.encode(), timestamp=int(time.time()) - 10)  # bytes bodies too
    assert verifier.is_valid(click, signed["X-Slack-Request-Timestamp"], signed["X-Slack-Signature"])


def test_stop_and_restart_keep_the_url(slack: FakeSlack) -> None:
    url, web = slack.url, WebClient(token=TOKEN, base_url=slack.url, retry_handlers=[])
    web.auth_test()
    slack.stop()
    with pytest.raises(OSError):  # urllib's URLError is an OSError
        web.auth_test()
    slack.start()
    assert slack.url == url and web.auth_test()["ok"]
    assert len(slack.calls_of("auth.test")) == 2  # the log survives a restart
