"""Fake Slack and Descope HTTP servers, and a fake SIEM intake, for end-to-end tests, the demo and the benchmark
(loopback only)."""

from .descope_api import DescopeCall, DescopeUser, FakeDescope, decode_claims
from .siem import FakeIntake, IntakeCall
from .slack_api import FakeSlack, SlackCall

__all__ = [
    "DescopeCall",
    "DescopeUser",
    "FakeDescope",
    "FakeIntake",
    "FakeSlack",
    "IntakeCall",
    "SlackCall",
    "decode_claims",
]
