"""The questions asked before the bot runs, each answered as a ``Check`` (what was found, and the fix when it is
wrong): does Slack accept the bot token (``auth.test``) and, in Socket Mode, the app-level token
(``apps.connections.open``, its one-time URL left unused); does Descope accept the management key; does the database
answer, or may its SQLite file be made where ``DATABASE_URL`` says.

``serve`` asks them before it makes anything (a database file, a port, a serving process) and says every problem at
once (``problems``); ``check`` prints them with the rest of its checklist. Each is asked once, without retries or log
lines of its own (``bot.slack.client.probe_client``): the first thing a person reads is what is wrong, not a
library's retries. An error page from a gateway (a 5xx, a body that is not Slack's JSON) is an outage, never blamed on
the token.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

from bot.cli import check_words as m
from bot.cli.exits import database_reason
from bot.config import Settings

if TYPE_CHECKING:
    from slack_sdk.errors import SlackApiError

log = logging.getLogger("bot.cli")



@dataclass(frozen=True)
class Check:
    name: str  # what was checked, e.g. "slack.token"
    ok: bool | None  # None: not run
    detail: str
    fix: str = ""
    certain: bool = True  # False: the service did not answer (an outage, not a wrong setting)

    @property
    def problem(self) -> str:
        return f"{self.detail}; {self.fix}" if self.fix else self.detail


def problems(settings: Settings) -> list[str]:
    """What keeps ``serve`` from starting: a token Slack refuses or cannot be asked about, a management key Descope
    refuses (Descope not answering only delays its calls, as an outage later would), the database."""
    found = [bot_token(settings)[0]]
    if settings.slack_app_token is not None:
        found.append(app_token(settings))
    found.append(database(settings.database_url, first_start=True))
    key = descope_key(settings)
    blocking = [check.problem for check in found if check.ok is False]
    if key.ok is False and (key.certain or blocking):  # a refused key; or Descope down too, said with the rest
        blocking.append(key.problem)
    elif key.ok is False:  # Descope down alone: its calls wait and retry, as they would in an outage later
        log.warning("%s; the bot starts anyway", key.problem)
    return blocking


def bot_token(settings: Settings) -> tuple[Check, Any]:
    """Whether Slack accepts ``SLACK_BOT_TOKEN``; with Slack's answer (``auth.test``) when it does."""
    from slack_sdk.errors import SlackApiError

    from bot.slack.client import probe_client

    try:
        auth = probe_client(settings).auth_test()
    except SlackApiError as exc:
        return slack_refused("slack.token", settings, exc, m.SLACK_REFUSED, m.SLACK_REFUSED_FIX), None
    except (URLError, OSError) as exc:  # refused, unreachable, timed out
        return slack_silent("slack.token", settings, exc), None
    return Check("slack.token", True, m.SLACK_OK.format(team=auth.get("team_id"), user=auth.get("user_id"))), auth


def app_token(settings: Settings) -> Check:
    """Whether Slack accepts ``SLACK_APP_TOKEN`` (Socket Mode)."""
    from slack_sdk.errors import SlackApiError

    from bot.slack.client import probe_client

    assert settings.slack_app_token is not None
    token = settings.slack_app_token.get()
    try:
        probe_client(settings, token).apps_connections_open(app_token=token)
    except SlackApiError as exc:
        return slack_refused("slack.app_token", settings, exc, m.APP_TOKEN_REFUSED, m.APP_TOKEN_REFUSED_FIX)
    except (URLError, OSError) as exc:
        return slack_silent("slack.app_token", settings, exc)
    return Check("slack.app_token", True, m.APP_TOKEN_OK)


def slack_refused(name: str, settings: Settings, exc: SlackApiError, refused: str, fix: str) -> Check:
    """Slack's own ``ok: false`` refuses the token; a gateway's error page (a 5xx, a 429 after the retries, a body
    that is not Slack's JSON) says nothing about it: Slack is not answering properly."""
    response = exc.response
    if response.status_code >= 500 or response.status_code == 429 or not isinstance(response.data, dict):
        return Check(name, False, m.SLACK_UNWELL.format(url=settings.slack_api_url, status=response.status_code),
                     m.SLACK_SILENT_FIX, certain=False)
    return Check(name, False, refused.format(error=response.get("error")), fix)


def slack_silent(name: str, settings: Settings, exc: OSError) -> Check:
    """A call that got no answer (refused, unreachable, timed out), named by the check it was for."""
    reason = getattr(exc, "reason", None) or exc
    return Check(name, False, m.SLACK_SILENT.format(url=settings.slack_api_url, reason=reason), m.SLACK_SILENT_FIX,
                 certain=False)


def descope_key(settings: Settings) -> Check:
    """Whether Descope accepts the management key: a look-up of a login ID no one has answers "user not found"."""
    from bot.descope import DescopeClient
    from bot.descope.errors import DescopeError, DescopeRefused, DescopeUnavailable
    from bot.descope.users import NOBODY

    with DescopeClient(settings.descope_project_id, settings.descope_management_key.get(),
                       settings.descope_base_uri, keep_alive=not settings.proxied) as client:
        try:
            client.load_user(NOBODY, timeout=10)
        except DescopeRefused as exc:
            if exc.refused_us:
                return Check("descope", False, m.DESCOPE_REFUSED.format(status=exc.status, code=exc.code or ""),
                             m.DESCOPE_REFUSED_FIX)
            if not exc.user_not_found:
                return Check("descope", False, m.DESCOPE_ODD.format(error=exc), m.DESCOPE_ODD_FIX)
        except DescopeUnavailable as exc:
            return Check("descope", False, m.DESCOPE_SILENT.format(url=client.base_url, error=exc),
                         m.DESCOPE_SILENT_FIX, certain=False)
        except DescopeError as exc:
            return Check("descope", False, m.DESCOPE_ODD.format(error=exc), m.DESCOPE_ODD_FIX)
    return Check("descope", True, m.DESCOPE_OK.format(project=settings.descope_project_id))


def database(url: str, *, first_start: bool) -> Check:
    """Whether the database answers. A SQLite file not made yet is made at the first start (``first_start``: that is
    about to happen; else it is said, as it is): its folder must exist and be writable."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from bot.store import make_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if not path or path == ":memory:" or os.path.exists(path):
            return Check("database", True, m.DATABASE_REACHABLE)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            return Check("database", False, m.DATABASE_NO_FOLDER.format(folder=folder), m.DATABASE_FOLDER_FIX)
        if not os.access(folder, os.W_OK):
            return Check("database", False, m.DATABASE_FOLDER_READ_ONLY.format(folder=folder), m.DATABASE_FOLDER_FIX)
        return Check("database", True, m.DATABASE_REACHABLE if first_start else m.DATABASE_NOT_YET.format(path=path))
    engine = make_engine(url)
    try:
        with engine.connect():
            return Check("database", True, m.DATABASE_REACHABLE)
    except SQLAlchemyError as exc:
        return Check("database", False, m.DATABASE_SILENT.format(reason=database_reason(exc)), m.DATABASE_SILENT_FIX)
    finally:
        engine.dispose()
