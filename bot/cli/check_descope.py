"""``check``'s items about Descope beyond the management key: for the second factors the rules ask (``APPROVAL_MFA``,
``REVEAL_MFA``, a rule's ``approval_mfa`` / ``reveal_mfa``), Descope's key set, which the bot checks every step-up
session against, and, for each method in use, whether Descope answers its verification (a code for a login no one
has: refused as "no such user" when the method is on; no email is sent); and, with the watch on
(``RECONCILE_INTERVAL``), whether the management key may search Descope's audit (``check_watch``: a search of the
last minute)."""

from __future__ import annotations

from bot.cli import check_words as m
from bot.cli.ready import Check
from bot.config import Settings
from bot.domain.proof import Mfa

#: What Descope calls each method in its console (where it is turned on).
CONSOLE_NAMES = {Mfa.TOTP: "Authenticator Apps (TOTP)", Mfa.EMAIL: "OTP by email"}
#: Words of a refusal that mean the method is off in the project, not that the login is unknown.
_OFF = ("disabled", "not enabled", "not allowed", "not configured", "not supported")


def check_mfa(settings: Settings) -> list[Check]:
    from bot.descope import DescopeClient
    from bot.descope.errors import DescopeError
    from bot.descope.session_jwt import KeySetMalformed

    methods = sorted(settings.mfa_in_use(), key=lambda method: method.strength)
    if not methods:
        return []
    checks: list[Check] = []
    with DescopeClient(settings.descope_project_id, settings.descope_management_key.get(),
                       settings.descope_base_uri, keep_alive=not settings.proxied) as client:
        try:
            count = client.stepup.keys.count()
            checks.append(Check("descope.keys", True, m.KEYS_OK.format(count=count)) if count else
                          Check("descope.keys", False, m.KEYS_NONE, m.KEYS_FIX))
        except (DescopeError, KeySetMalformed) as exc:
            checks.append(Check("descope.keys", False, m.KEYS_FAILED.format(error=exc), m.KEYS_FIX, certain=False))
        for method in methods:
            name = f"descope.mfa.{method.value}"
            console = CONSOLE_NAMES[method]
            try:
                refused = client.stepup.probe(method.value)
            except DescopeError as exc:
                checks.append(Check(name, False, m.MFA_SILENT.format(method=console, error=exc), m.DESCOPE_SILENT_FIX,
                                    certain=False))
                continue
            said = " ".join(p for p in (refused.description, refused.message) if p).lower() if refused else ""
            if refused is not None and refused.status == 401 and not refused.user_not_found and "user" not in said:
                checks.append(Check(name, False, m.MFA_REFUSED.format(method=console, error=refused),
                                    m.DESCOPE_ODD_FIX))
            elif any(word in said for word in _OFF):
                checks.append(Check(name, False, m.MFA_OFF.format(method=console, error=refused),
                                    m.MFA_OFF_FIX.format(method=console)))
            else:
                checks.append(Check(name, True, m.MFA_OK.format(method=console)))
    return checks


def check_watch(settings: Settings) -> list[Check]:
    """Whether the management key may search Descope's audit (nothing when the watch is off)."""
    from datetime import UTC, datetime, timedelta

    from bot.descope import DescopeClient
    from bot.descope.audit import LOGIN_SUCCEED
    from bot.descope.errors import DescopeError, DescopeRefused, DescopeUnavailable

    if not settings.reconcile_interval:
        return []
    now = datetime.now(UTC)
    with DescopeClient(settings.descope_project_id, settings.descope_management_key.get(),
                       settings.descope_base_uri, keep_alive=not settings.proxied) as client:
        try:
            client.search_audit([LOGIN_SUCCEED], now - timedelta(minutes=1), now)
        except DescopeRefused as exc:
            return [Check("descope.audit", False, m.AUDIT_REFUSED.format(error=exc), m.AUDIT_REFUSED_FIX)]
        except DescopeUnavailable as exc:
            return [Check("descope.audit", False, m.AUDIT_SILENT.format(error=exc), m.DESCOPE_SILENT_FIX,
                          certain=False)]
        except DescopeError as exc:
            return [Check("descope.audit", False, m.AUDIT_REFUSED.format(error=exc), m.AUDIT_REFUSED_FIX)]
    return [Check("descope.audit", True, m.AUDIT_OK)]

