"""A Descope user as the management API's ``user.load`` answers it, read once into what the bot uses of it: the name,
the status and the tenants. The text is Descope's as it stands (a person chooses their own name): whoever shows it
makes it safe to show (``bot.domain.text.visible``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: A login ID no one has: looking it up, Descope answers "user not found" (E112102) to a management key it accepts, and
#: refuses one it does not (``serve``'s start and ``check`` ask so).
NOBODY = "impersonation-bot-check@example.invalid"


@dataclass(frozen=True)
class User:
    user_id: str
    name: str | None  # the name, else the given and family names; None when Descope has none
    status: str  # enabled | disabled | invited | expired
    tenants: tuple[tuple[str, str | None], ...]  # (tenant ID, its name) of each tenant the user is in

    @property
    def disabled(self) -> bool:
        return self.status == "disabled"


def user_of(found: Mapping[str, Any]) -> User:
    """The ``user`` object of a ``user.load`` answer, read (fields missing or of another type are left out)."""
    name = found.get("name") or " ".join(str(found[k]) for k in ("givenName", "familyName") if found.get(k))
    tenants = tuple(
        (str(entry["tenantId"]), str(entry["tenantName"]) if entry.get("tenantName") else None)
        for entry in found.get("userTenants") or [] if isinstance(entry, dict) and entry.get("tenantId"))
    return User(user_id=str(found.get("userId") or ""), name=str(name) if name else None,
                status=str(found.get("status") or "enabled"), tenants=tenants)
