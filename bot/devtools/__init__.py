"""Fake Slack and Descope HTTP servers for end-to-end tests, the demo and the benchmark (loopback only)."""

from .descope_api import DescopeCall, DescopeUser, FakeDescope, decode_claims
from .slack_api import FakeSlack, SlackCall

__all__ = ["DescopeCall", "DescopeUser", "FakeDescope", "FakeSlack", "SlackCall", "decode_claims"]
