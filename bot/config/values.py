"""Reading one variable at a time (``Values``, what ``config.reader.Reader`` is made of): each parsed and checked, a
problem remembered (``problems``, by the variable's name) instead of raising, so one start names all that is wrong.
A value in error reads as its default, or ``None``."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bot.config.settings import (
    _CHANNEL_ID,
    _DATABASE_EXAMPLES,
    _FALSE,
    _TRUE,
    DATABASE_DEFAULT,
    MFA_CHOICES,
    is_group_id,
    is_user_id,
)
from bot.config.words import duration_problem
from bot.domain.durations import BadDuration, parse_duration
from bot.domain.proof import Mfa


class Values:
    """Reads each variable, remembering every problem instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []
        self.unset: list[str] = []  # the problems that are a required variable left unset

    def raw(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def required(self, name: str, hint: str) -> str:
        value = self.raw(name)
        if value is None:
            self.problems.append(f"{name} is not set: {hint}")
            self.unset.append(self.problems[-1])
            return ""
        return value

    def duration(self, name: str, default: timedelta) -> timedelta:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse_duration(value)
        except BadDuration as exc:
            self.problems.append(f"{name}: {duration_problem(exc)}")
            return default

    def duration_or_off(self, name: str, default: timedelta) -> timedelta:
        """A duration, or ``0`` for off (``timedelta(0)``)."""
        value = self.raw(name)
        if value is not None and value.strip() == "0":
            return timedelta(0)
        try:
            return parse_duration(value) if value is not None else default
        except BadDuration as exc:
            self.problems.append(f"{name}: {duration_problem(exc)} (or 0 to turn it off)")
            return default

    def retention(self) -> timedelta | None:
        """``RETENTION``: a duration, or unset for none (everything kept)."""
        value = self.raw("RETENTION")
        if value is None:
            return None
        try:
            return parse_duration(value)
        except BadDuration as exc:
            self.problems.append(f"RETENTION: {duration_problem(exc)} (or leave it unset to keep everything)")
            return None

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        found = self.optional_integer(name, low, high)
        return default if found is None else found

    def optional_integer(self, name: str, low: int, high: int) -> int | None:
        """A whole number from ``low`` to ``high``, or ``None`` when unset (or wrong: a problem)."""
        value = self.raw(name)
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
            self.problems.append(f"{name} must be a whole number from {low} to {high}, not `{value}`")
            return None
        return int(value)

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        """One of ``choices`` (any case), returned as spelled there."""
        value = self.raw(name) or default
        found = next((c for c in choices if c.lower() == value.lower()), None)
        if found is None:
            self.problems.append(f"{name} must be one of {', '.join(choices)}, not `{value}`")
            return default
        return found

    def mfa(self, name: str, default: Mfa) -> Mfa:
        """A second factor (``APPROVAL_MFA``, ``REVEAL_MFA``): ``none``, ``totp`` or ``email``, any case."""
        return Mfa(self.choice(name, default, MFA_CHOICES))

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        self.problems.append(f"{name} must be true or false, not `{value}`")
        return default

    def http_url(self, name: str, example: str) -> str | None:
        """An https base URL with a host, or a problem (the value is an endpoint, not a secret: shown).
        Plain http only to this machine (local fakes, a sidecar proxy): the bot sends its tokens there."""
        value = self.raw(name)
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            _ = parts.port  # raises ValueError for a port that is not a number
            local = parts.hostname == "localhost" or _loopback(parts.hostname or "")
            ok = (parts.scheme == "https" or (parts.scheme == "http" and local)) and bool(parts.hostname) \
                and not any(c.isspace() for c in value)
        except ValueError:
            ok = False
        if not ok:  # shown as written only where it can hold no credential (the audit's may: its path, its query)
            shown = f"`{value}`" if name != "AUDIT_WEBHOOK_URL" else "what is set (not shown: it may hold a secret)"
            self.problems.append(f"{name} must be an https:// URL like {example} (http:// only to localhost), "
                                 f"not {shown}")
        return value

    def database_url(self) -> str:
        """A SQLite or PostgreSQL URL whose driver is installed. Problems never show the URL itself,
        which may hold the database password."""
        value = self.raw("DATABASE_URL") or DATABASE_DEFAULT
        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            self.problems.append(f"DATABASE_URL is not a URL SQLAlchemy can read: use e.g. {_DATABASE_EXAMPLES}")
            return value
        backend, _, driver = url.drivername.partition("+")
        if backend == "postgres":
            backend = "postgresql"  # Heroku's spelling; bot.store.make_engine accepts it
        if backend not in ("sqlite", "postgresql"):
            self.problems.append(
                f"DATABASE_URL must be a SQLite or PostgreSQL URL ({_DATABASE_EXAMPLES}), not `{url.drivername}://…`"
            )
            return value
        if backend == "postgresql" and not driver:
            driver = "psycopg"  # what bot.store.make_engine uses for postgres:// and postgresql://
        name = f"{backend}+{driver}" if driver else backend
        try:
            dialect = url.set(drivername=name).get_dialect()
            if getattr(dialect, "is_async", False):
                self.problems.append(f"DATABASE_URL: `{name}` is an asyncio driver; use e.g. {_DATABASE_EXAMPLES}")
                return value
            dialect.import_dbapi()
        except (NoSuchModuleError, ImportError):
            hint = " (PostgreSQL: pip install 'impersonation-bot[postgres]')" if backend == "postgresql" else ""
            self.problems.append(f"DATABASE_URL: the database driver `{name}` is unknown or not installed{hint}")
        return value

    def principals(self, name: str, value: str | None) -> tuple[str, ...]:
        if value is None:
            return ()
        entries = tuple(e.strip() for e in value.split(",") if e.strip())
        if not entries:
            self.problems.append(f"{name} lists nobody: give at least one user (U…) or user-group (S…) ID")
        for entry in entries:
            if not (is_user_id(entry) or is_group_id(entry)):
                self.problems.append(
                    f"{name}: `{entry}` is not a Slack user ID (U…/W…) or user-group ID (S…)"
                )
        return entries

    def channel(self, name: str, value: str | None) -> str | None:
        """A channel ID (``C…``, or ``G…`` for an old private channel), or ``None`` when unset; a name is a problem."""
        if value and not _CHANNEL_ID.fullmatch(value):
            self.problems.append(f"{name} must be a channel ID like C0123ABCD (not a name): got `{value}`")
        return value


def _loopback(host: str) -> bool:
    """Whether ``host`` is an address of this machine (127.0.0.0/8, ::1): a name that merely starts with 127. is not."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
