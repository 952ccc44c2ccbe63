"""The wording of ``python -m bot check``: one line per check (what passed, or what failed and its fix).

Operator-facing CLI text, not Slack's: plain characters, IDs as they are, never a secret or a database URL.
"""

from __future__ import annotations

PASS, FAIL, SKIP = "✓", "✗", "·"

CONFIG_OK = "Configuration read (every setting valid)"
CONFIG_FIX = "set it in the environment (see the README's Configuration table)"
CONFIG_VALUE_FIX = "write it as the line says (the README's Configuration table has every setting)"
SKIPPED = "{what} not checked: the configuration must be fixed first"

SLACK_OK = "Slack bot token accepted (team {team}, bot {user})"
SLACK_REFUSED = "Slack rejected SLACK_BOT_TOKEN (auth.test answered {error})"
SLACK_REFUSED_FIX = "copy the Bot User OAuth Token (xoxb-…) from the app's OAuth & Permissions page"
SLACK_SILENT = "Slack's Web API does not answer at {url} ({reason})"
SLACK_SILENT_FIX = "check SLACK_API_URL and the network"
SLACK_UNWELL = "Slack's Web API at {url} answered HTTP {status}, not Slack's own answer"
SLACK_REST_SKIPPED = ("The bot token's scopes, the approvals channel and the Slack IDs not checked: Slack must accept "
                      "the token first")
APP_TOKEN_OK = "Slack accepts SLACK_APP_TOKEN (Socket Mode)"
APP_TOKEN_REFUSED = "Slack rejected SLACK_APP_TOKEN (apps.connections.open answered {error})"
APP_TOKEN_REFUSED_FIX = ("turn Socket Mode on (Settings → Socket Mode) and copy an app-level token (xapp-…) with the "
                         "connections:write scope from Basic Information → App-Level Tokens")

SCOPES_OK = "Bot token has every scope the manifest asks for ({count})"
SCOPES_MISSING = "Bot token lacks the scope{s} {names}"
SCOPES_FIX = ("add them under OAuth & Permissions → Bot Token Scopes (or paste the output of `impersonation-bot "
              "manifest` on the app's App Manifest page) and reinstall the app")
SCOPES_UNKNOWN = "Slack did not say which scopes the bot token has (no x-oauth-scopes header)"
SCOPES_UNKNOWN_FIX = "check SLACK_API_URL points at Slack's Web API"

CHANNEL_OK = "Bot is a member of the approvals channel {channel} (#{name})"
CHANNEL_OUT = "Bot is not in the approvals channel {channel}"
CHANNEL_OUT_FIX = "invite it: /invite @{bot} in that channel"
CHANNEL_UNKNOWN = "The approvals channel {channel} was not found ({error})"
CHANNEL_UNKNOWN_FIX = ("check SLACK_APPROVAL_CHANNEL (a channel ID, C…); a private channel is visible only once "
                       "the bot is invited: /invite @{bot}")
CHANNEL_UNANSWERED = "The approvals channel {channel} could not be checked: Slack did not answer ({reason})"
CHANNEL_SCOPE_FIX = "add the scope {needed} (as `impersonation-bot manifest` asks) and reinstall the app"

USER_OK = "{setting}: user {id} is {name}"
USER_GONE = "{setting}: user {id} is deactivated"
USER_GONE_FIX = "remove {id} from {setting}"
USER_UNKNOWN = "{setting}: user {id} does not resolve (users.info answered {error})"
USER_UNKNOWN_FIX = "use the member ID from the person's profile (⋮ → Copy member ID) in {setting}"
PRINCIPAL_UNANSWERED = "{setting}: {id} could not be checked: Slack did not answer ({reason})"
GROUP_OK = "{setting}: user group {id} has {count} member{s}"
GROUP_EMPTY = "{setting}: user group {id} has no members"
GROUP_EMPTY_FIX = "add people to the group, or list user IDs in {setting}"
GROUP_UNKNOWN = "{setting}: user group {id} does not resolve (usergroups.users.list answered {error})"
GROUP_UNKNOWN_FIX = "use a user-group ID (S…) from usergroups.list in {setting}"

DESCOPE_OK = "Descope accepts the management key (project {project})"
DESCOPE_REFUSED = "Descope refused the management key ({status} {code})"
DESCOPE_REFUSED_FIX = ("check DESCOPE_PROJECT_ID and DESCOPE_MANAGEMENT_KEY (Company Settings → Management Keys; "
                       "see docs/DESCOPE.md)")
DESCOPE_ODD = "Descope answered the test read unexpectedly ({error})"
DESCOPE_ODD_FIX = "check DESCOPE_BASE_URI and DESCOPE_PROJECT_ID"
DESCOPE_SILENT = "Descope does not answer at {url} ({error})"
DESCOPE_SILENT_FIX = "check DESCOPE_BASE_URI (or unset it to use Descope's) and the network"

DATABASE_OK = "Database reachable and migrated (revision {revision})"
DATABASE_REACHABLE = "Database reachable"
DATABASE_NOT_YET = "The SQLite database file {path} is not made yet: the bot makes it when it first starts"
DATABASE_SILENT = "The database does not answer ({reason})"
DATABASE_SILENT_FIX = "check DATABASE_URL and that the database server is up"
DATABASE_NO_FILE = "The SQLite database file {path} does not exist"
DATABASE_UNMIGRATED = "The database is not at the bot's schema (revision {head})"
DATABASE_NO_FILE_FIX = "check DATABASE_URL (the bot makes the file when it first starts)"
DATABASE_BEHIND = "The database is not migrated (at {current}, head is {head})"
DATABASE_FIX = "run: impersonation-bot migrate"
DATABASE_NO_FOLDER = "The folder {folder} for the SQLite database does not exist"
DATABASE_FOLDER_READ_ONLY = "The folder {folder} for the SQLite database cannot be written"
DATABASE_FOLDER_FIX = "create it, or point DATABASE_URL somewhere the bot may write"

PORT_TAKEN = "Port {port} cannot be listened on ({reason})"
PORT_FIX = "stop what uses it, or set PORT to a free port"

SUMMARY_OK = "All {count} checks passed."
SUMMARY_FAIL = "{failed} of {count} checks failed."
SUMMARY_SKIPPED = " {skipped} not run until what they need is fixed."

KEYS_OK = "Descope's signing keys fetched ({count} RS256): the bot can check the session a code opens"
KEYS_NONE = "Descope's key set holds no RS256 signing key: no code could ever be checked"
KEYS_FAILED = "Descope's key set could not be fetched ({error})"
KEYS_FIX = "check DESCOPE_PROJECT_ID and DESCOPE_BASE_URI (the keys are at /v2/keys/<project ID>)"
MFA_OK = "Descope answers {method} verification (the rules ask approvers or requesters for it)"
MFA_SILENT = "Descope does not answer {method} verification ({error})"
MFA_REFUSED = "Descope refused the {method} verification call itself ({error})"
MFA_OFF = "{method} seems turned off in the Descope project ({error})"
MFA_OFF_FIX = "turn on {method} under Authentication Methods in the Descope console (see docs/DESCOPE.md)"
AUDIT_OK = "Descope lets the management key search its audit (the watch on impersonations outside the bot)"
AUDIT_REFUSED = "Descope refused the management key's search of its audit ({error})"
AUDIT_REFUSED_FIX = ("give the management key a role that may read the audit trail (Company Settings → Management "
                     "Keys), or set RECONCILE_INTERVAL=0 to turn the watch off")
AUDIT_SILENT = "Descope's audit search does not answer ({error})"
