"""
A small, typed client for the parts of Descope's management API this bot needs.

It speaks the wire format of Descope's official SDKs (the Python SDK's ``descope/management`` and ``descope/auth``
modules are the reference).

* ``client``  ``DescopeClient``: the HTTP calls (impersonate, stop impersonation, logout, refresh, load user), base URL
* ``errors``  the exception tree (``DescopeError`` > ``DescopeRefused``, ``DescopeUnavailable``), secret scrubbing
* ``sending`` ``Sender``: one call, its turn at the rate-limit gate, its attempts and retries
* ``retry``   ``RetryPolicy``, which statuses are retried, ``Retry-After`` parsing
* ``users``   ``User``: a user as ``user.load`` answers it, read
"""

from bot.descope.client import DEFAULT_TIMEOUT, DescopeClient, default_base_url
from bot.descope.errors import USER_NOT_FOUND, DescopeError, DescopeRefused, DescopeUnavailable, Refusal
from bot.descope.retry import DEFAULT_RETRY, RETRY_STATUSES, RetryPolicy, parse_retry_after
from bot.descope.users import User

#: The most seconds an impersonate call of the bot's client can take, retries included: after that Descope mints
#: nothing more for it.
LONGEST_CALL = DEFAULT_RETRY.longest(DEFAULT_TIMEOUT)

__all__ = [
    "LONGEST_CALL",
    "RETRY_STATUSES",
    "USER_NOT_FOUND",
    "DescopeClient",
    "DescopeError",
    "DescopeRefused",
    "DescopeUnavailable",
    "Refusal",
    "RetryPolicy",
    "User",
    "default_base_url",
    "parse_retry_after",
]
