"""The user to impersonate, as Descope knows it: looked up before a request reaches the approvers.

``Target.verified`` is false when Descope could not be asked in time: the request still goes to the
approvers (an outage must not block an urgent request), marked as not verified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    verified: bool
    name: str | None = None
    tenants: tuple[tuple[str, str | None], ...] = ()  # (tenant ID, tenant name)


UNVERIFIED = Target(verified=False)


def encode_target(target: Target) -> dict[str, str | None]:
    """The ``requests`` columns that hold a target."""
    return {
        "target_checked": "verified" if target.verified else "unverified",
        "target_name": target.name,
        "target_tenants": json.dumps([list(t) for t in target.tenants]) if target.verified else None,
    }


def decode_target(checked: str | None, name: str | None, tenants: str | None) -> Target | None:
    """``None`` for requests stored before the pre-flight existed."""
    if checked is None:
        return None
    if checked != "verified":
        return UNVERIFIED
    try:
        pairs = tuple((str(t[0]), None if t[1] is None else str(t[1])) for t in json.loads(tenants or "[]"))
    except (ValueError, TypeError, IndexError, KeyError):
        return UNVERIFIED  # tenants that cannot be read are unknown, never none: the rules fail closed on them
    return Target(verified=True, name=name, tenants=pairs)
