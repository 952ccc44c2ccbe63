"""``bot.server.logs.RedactingFilter``: secrets out of every log line."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Callable, Iterator

import pytest
from slack_sdk import WebClient

from bot.devtools import FakeSlack
from bot.server.logs import REDACTED, SLACK_SDK_CALLS, JsonFormatter, RedactingFilter, configure

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMSIsImV4cCI6MX0.c2lnbmF0dXJlLXNlY3JldA"
SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp"
APP_TOKEN = "xapp-1-A012345-678901-abcdef"
CONFIGURED = "K2mgmt-key-very-secret-0123456789"


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter([CONFIGURED, "abc"]))
    logger = logging.Logger("test-redaction", level=logging.DEBUG)  # not registered: no global state
    logger.propagate = False
    logger.addHandler(handler)
    yield logger, stream
    handler.close()


SENSITIVE = [JWT, SLACK_TOKEN, APP_TOKEN, CONFIGURED, "xoxp-1111111-2222222-user"]


def assert_clean(output: str) -> None:
    for value in SENSITIVE:
        assert value not in output, value
    assert "eyJ" not in output
    assert "K2mgmt" not in output


@pytest.mark.parametrize("value", SENSITIVE)
def test_secret_in_message_is_redacted(log: tuple[logging.Logger, io.StringIO], value: str) -> None:
    logger, stream = log
    logger.info(f"calling with {value} now")
    output = stream.getvalue()
    assert_clean(output)
    assert f"calling with {REDACTED} now" in output


@pytest.mark.parametrize("value", SENSITIVE)
def test_secret_in_args_is_redacted(log: tuple[logging.Logger, io.StringIO], value: str) -> None:
    logger, stream = log
    logger.warning("token=%s for %s", value, "jane@acme.com")
    output = stream.getvalue()
    assert_clean(output)
    assert f"token={REDACTED} for jane@acme.com" in output


def test_rotating_refresh_token_secret_part_is_redacted(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    logger.info("refresh %s", "xoxe.xoxp-1-refreshing123")
    assert "refreshing123" not in stream.getvalue()


def test_secret_in_dict_args_is_redacted(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    logger.info("body %s", {"token": JWT, "auth": f"Bearer P2abc:{CONFIGURED}"})
    assert_clean(stream.getvalue())


def test_secret_in_traceback_is_redacted(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    try:
        try:
            raise KeyError(SLACK_TOKEN)
        except KeyError as inner:
            raise RuntimeError(f"Descope refused {JWT} with key {CONFIGURED}") from inner
    except RuntimeError:
        logger.exception("impersonate failed for %s", APP_TOKEN)
    output = stream.getvalue()
    assert_clean(output)
    assert "Traceback (most recent call last)" in output
    assert "RuntimeError: Descope refused [redacted] with key [redacted]" in output
    assert "KeyError" in output
    assert f"impersonate failed for {REDACTED}" in output


def test_secret_in_stack_info_is_redacted(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log

    def frame_with_secret_in_its_source_line() -> None:
        logger.info("here", stack_info=True)  # eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJVMSJ9.c2lnbmF0dXJl

    frame_with_secret_in_its_source_line()
    output = stream.getvalue()
    assert "Stack (most recent call last)" in output
    assert "eyJ" not in output


def test_clean_lines_pass_through_unchanged(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    logger.info("request %s approved by %s, %d%% done", "K7M2QX9A", "U0BBB", 50)
    assert stream.getvalue() == "INFO request K7M2QX9A approved by U0BBB, 50% done\n"


def test_short_secrets_are_not_used_for_redaction(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log
    logger.info("abc is too short to redact")  # "abc" was configured, but < 4 chars would mangle logs
    assert "abc is too short" in stream.getvalue()


def test_longer_secret_is_redacted_whole_when_one_contains_another() -> None:
    f = RedactingFilter(["secret-1", "secret-1-and-more"])
    assert f.redact("x secret-1-and-more y") == f"x {REDACTED} y"


def test_filter_keeps_every_record() -> None:
    f = RedactingFilter([CONFIGURED])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s", (CONFIGURED,), None)
    assert f.filter(record) is True
    assert record.getMessage() == f"key {REDACTED}"


def test_bad_format_args_do_not_raise_into_the_caller(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, _ = log
    logger.error("%d items", "not a number")


# --- LOG_FORMAT=json ---------------------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter([CONFIGURED]))
    logger = logging.Logger("bot.workflows", level=logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    yield logger, stream
    handler.close()


def test_json_lines_parse_carry_the_request_and_are_redacted(json_log: tuple[logging.Logger, io.StringIO]) -> None:
    import json

    from bot.workflows.about import about

    logger, stream = json_log
    logger.info("outside any request")
    with about("K7M2QX9A"):
        logger.warning("stop call failed with %s and key %s", JWT, CONFIGURED)
        try:
            raise RuntimeError(f"boom {JWT}")
        except RuntimeError:
            logger.exception("work on request failed")
    logger.info("submitted", extra={"request_id": "AB12CD34"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 4  # one object per line, tracebacks included in theirs
    assert set(lines[0]) == {"time", "level", "logger", "message"} and lines[0]["logger"] == "bot.workflows"
    assert lines[1]["request_id"] == "K7M2QX9A" and lines[1]["level"] == "WARNING"
    assert lines[1]["message"] == f"stop call failed with {REDACTED} and key {REDACTED}"
    assert "RuntimeError: boom [redacted]" in lines[2]["exception"] and lines[2]["request_id"] == "K7M2QX9A"
    assert lines[3]["request_id"] == "AB12CD34"
    assert_clean(stream.getvalue())


# -- configure: slack-sdk's debug lines, the records' fields ----------------------------------------------------------

class _Watched(str):
    """A message text that notes when something renders it for a log line (``repr``, as slack-sdk's f-strings do);
    it is sent as the plain string it is."""

    rendered = False

    def __repr__(self) -> str:
        _Watched.rendered = True
        return super().__repr__()


#: The loggers ``configure`` sets a level or a filter on (besides the root's handler).
_TOUCHED = ("", SLACK_SDK_CALLS, "httpx", "apscheduler", "alembic.runtime.plugins", "slack_bolt.App",
            "apscheduler.scheduler")


@pytest.fixture
def configured() -> Iterator[Callable[..., io.StringIO]]:
    """``logs.configure`` at a level and in a format, its lines caught; the logging set-up it changes given back."""
    loggers = [logging.getLogger(name or None) for name in _TOUCHED]
    saved = [(logger.level, logger.filters[:]) for logger in loggers]
    handlers = logging.getLogger().handlers[:]
    flags = (logging.logThreads, logging.logProcesses, logging.logMultiprocessing)
    stderr = sys.stderr

    def configured(level: str, fmt: str = "text") -> io.StringIO:
        sys.stderr = stream = io.StringIO()  # where configure's handler writes
        try:
            configure(level, [], fmt)
        finally:
            sys.stderr = stderr
        return stream

    yield configured
    for logger, (level, filters) in zip(loggers, saved, strict=True):
        logger.setLevel(level)
        logger.filters[:] = filters
    logging.getLogger().handlers[:] = handlers
    logging.logThreads, logging.logProcesses, logging.logMultiprocessing = flags


def _post(text: str) -> None:
    with FakeSlack() as slack:
        WebClient(token=slack.bot_token, base_url=slack.url + "/api/").chat_postMessage(channel="C1", text=text)


def test_above_debug_slack_sdk_does_not_render_the_calls_it_would_not_log(
        configured: Callable[..., io.StringIO]) -> None:
    stream = configured("INFO")
    _Watched.rendered = False
    _post(_Watched("hello"))
    assert not _Watched.rendered
    assert "Sending a request" not in stream.getvalue()


def test_at_debug_slack_sdk_logs_each_call(configured: Callable[..., io.StringIO]) -> None:
    stream = configured("DEBUG")
    _Watched.rendered = False
    _post(_Watched("hello"))
    assert _Watched.rendered
    assert "Sending a request - url: " in stream.getvalue() and "'text': 'hello'" in stream.getvalue()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_line_says_when_what_and_where_from(fmt: str, configured: Callable[..., io.StringIO]) -> None:
    stream = configured("INFO", fmt)
    logging.getLogger("bot.workflows").info("request %s submitted by %s", "K7M2QX9A", "U1")
    line = stream.getvalue().strip()
    assert "request K7M2QX9A submitted by U1" in line and "bot.workflows" in line and "INFO" in line
    assert line[:4].isdigit() or line.startswith('{"time": "2')
