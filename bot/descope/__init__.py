"""
A small, typed client for the parts of Descope's management API this bot needs.

It speaks the wire format of Descope's official SDKs; see ``/work/shared/reference/descope.md``.

* ``client``  ``DescopeClient``: the HTTP calls (impersonate, stop impersonation, load user), base URL
* ``errors``  the exception tree (``DescopeError`` > ``DescopeRefused``, ``DescopeUnavailable``), secret scrubbing
* ``retry``   ``RetryPolicy``, which statuses are retried, ``Retry-After`` parsing
"""

from bot.descope.client import DescopeClient, default_base_url
from bot.descope.errors import DescopeError, DescopeRefused, DescopeUnavailable
from bot.descope.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after

__all__ = [
    "RETRY_STATUSES",
    "DescopeClient",
    "DescopeError",
    "DescopeRefused",
    "DescopeUnavailable",
    "RetryPolicy",
    "default_base_url",
    "parse_retry_after",
]
