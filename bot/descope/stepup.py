"""The step-up: a person proves themselves at Descope with a second factor typed into a Slack modal.

    send_email_code   POST /v1/auth/otp/signin/email  {"loginId"}          Descope mails a code -> the masked address
    prove             GET  /v1/mgmt/user?loginId=…                           the login's Descope user ID
                      POST /v1/auth/totp/verify or /v1/auth/otp/verify/email  {"loginId", "code"} -> a session
                      the session JWT checked here (``session_jwt``: RS256 by Descope's keys, exp, iss, sub, amr)
                      POST /v1/auth/logout                                  that session closed (its refresh JWT)

Authentication calls carry ``Authorization: Bearer <project ID>`` (no management key), as the SDKs send them. A code
Descope does not accept (its 401) is ``CodeRejected``; any other refusal (no authenticator enrolled …) is Descope's
own; an answer that fails a check is ``session_jwt.SessionRejected``; an outage is ``DescopeUnavailable``. Whatever
fails once Descope accepted the code, the session it opened is closed all the same. The login ID is always the one the
bot derived (the person's Slack email), never anything typed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Final, Protocol

from bot.descope.errors import DescopeError, DescopeRefused, _json_object
from bot.descope.sending import Sender
from bot.descope.session_jwt import KeySet, SessionRejected, verify_session
from bot.descope.users import NOBODY, User

log = logging.getLogger("bot.descope")

TOTP_VERIFY_PATH: Final = "/v1/auth/totp/verify"
OTP_SIGNIN_EMAIL_PATH: Final = "/v1/auth/otp/signin/email"
OTP_VERIFY_EMAIL_PATH: Final = "/v1/auth/otp/verify/email"
KEYS_PATH: Final = "/v2/keys/{project_id}"
#: Where each method's code is verified.
VERIFY_PATHS: Final = {"totp": TOTP_VERIFY_PATH, "email": OTP_VERIFY_EMAIL_PATH}
#: A step-up's session is the one Descope opened for this code: issued at most this long before it is checked.
FRESH: Final = 120.0
#: Seconds by which this machine's clock and Descope's may differ.
CLOCK_LEEWAY: Final = 30.0
#: The cookie a project that keeps refresh JWTs out of the body sets instead.
REFRESH_COOKIE: Final = "DSR"


class CodeRejected(DescopeRefused):
    """Descope did not accept the code (wrong, stale or already used): the person may type another."""

    label = "Descope did not accept the code"


class Client(Protocol):
    """What the step-up uses of ``DescopeClient``."""

    project_id: str

    def load_user(self, login_id: str, *, timeout: float | None = None) -> User: ...
    def logout(self, refresh_jwt: str) -> None: ...
    def _counted(self, call: str) -> AbstractContextManager[None]: ...
    @property
    def sender(self) -> Sender: ...


class StepUp:
    """The step-up calls of one Descope project, and the key set its sessions are checked with (cached)."""

    def __init__(self, client: Client, *, wall: Callable[[], float] = time.time) -> None:
        self._client = client
        self._wall = wall
        self._auth = {"Authorization": f"Bearer {client.project_id}"}
        self.keys = KeySet(self._fetch_keys)

    def send_email_code(self, login_id: str) -> str:
        """Have Descope mail a one-time code to ``login_id``'s address; the address as Descope masks it. Raises
        ``DescopeRefused`` (``user_not_found`` when no user has that login), ``DescopeUnavailable``."""
        self._client.load_user(login_id)  # no such user: the management API says so in words of its own
        with self._client._counted("otp_signin"):
            response = self._client.sender.send("POST", OTP_SIGNIN_EMAIL_PATH, json={"loginId": login_id},
                                                headers=self._auth, idempotent=False)
        masked = _json_object(response, ()).get("maskedEmail")
        return str(masked) if masked else ""

    def prove(self, method: str, login_id: str, code: str) -> None:
        """Return once ``login_id`` proved themselves with ``code`` by ``method`` ("totp" or "email"): Descope
        accepted the code, its session passed every check, and it is closed. Raises ``CodeRejected``,
        ``SessionRejected``, ``DescopeRefused`` (e.g. no such user), ``DescopeUnavailable``."""
        user = self._client.load_user(login_id)
        with self._client._counted(f"{method}_verify"):
            try:
                response = self._client.sender.send("POST", VERIFY_PATHS[method],
                                                    json={"loginId": login_id, "code": code},
                                                    headers=self._auth, secrets=(code,), idempotent=False)
            except DescopeRefused as exc:
                if exc.status != 401:  # not the code: no such user, no authenticator enrolled, a bad request
                    raise
                raise CodeRejected(exc.description, status=exc.status, code=exc.code, message=exc.message) from None
        answer = _json_object(response, (code,))
        session, refresh = answer.get("sessionJwt"), answer.get("refreshJwt") or response.cookies.get(REFRESH_COOKIE)
        try:
            if not isinstance(session, str) or not session:
                raise SessionRejected("the answer holds no session JWT")
            verify_session(session, keys=self.keys, project_id=self._client.project_id, subject=user.user_id,
                           method=method, now=self._wall(), leeway=CLOCK_LEEWAY, max_age=FRESH)
        except Exception:  # rejected, or the key set out of reach: a session Descope opened must not outlive it
            try:
                self._close(refresh)
            except DescopeError as exc:
                log.warning("a step-up's session that proved nothing could not be closed: %s", exc)
            raise
        self._close(refresh)

    def probe(self, method: str) -> DescopeRefused | None:
        """Whether Descope answers ``method``'s verification (the setup doctor): a code for a login no one has
        (``users.NOBODY``) is refused as Descope refuses it, and that refusal is answered (``None``: it was not
        refused, which should not happen). Sends no email, counts against nobody. Raises ``DescopeUnavailable``."""
        try:
            self._client.sender.send("POST", VERIFY_PATHS[method], json={"loginId": NOBODY, "code": "000000"},
                                     headers=self._auth, idempotent=False)
        except DescopeRefused as exc:
            return exc
        return None

    def _close(self, refresh: object) -> None:
        """Log the step-up's session out: it was only ever a proof."""
        if not isinstance(refresh, str) or not refresh:
            raise DescopeError("the step-up answered without a refresh JWT: its session cannot be closed", status=200)
        self._client.logout(refresh)

    def _fetch_keys(self) -> dict[str, Any]:
        with self._client._counted("keys"):
            response = self._client.sender.send("GET", KEYS_PATH.format(project_id=self._client.project_id),
                                                headers=self._auth)
        return _json_object(response, ())
