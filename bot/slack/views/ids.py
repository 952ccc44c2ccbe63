"""Every action, block and callback ID the bot puts on a surface, defined once.

Buttons live on messages for as long as Slack keeps them, so an ID, once shipped, is accepted forever:
``LEGACY_*`` lists what earlier versions posted, and the listeners register those too.
"""

from __future__ import annotations

# The approval message in the approvals channel.
APPROVE = "approval.approve"
DENY = "approval.deny"
DECISION_BLOCK = "approval.decision:{request_id}"  # the actions block holding both buttons

# Action IDs of buttons posted by versions before these IDs were namespaced.
LEGACY_APPROVE = ("approve",)
LEGACY_DENY = ("deny",)

# The requester's "session ready" DM (TOKEN_DELIVERY=reveal) and the modal its button opens.
SHOW_TOKEN = "token.show"
TOKEN_BLOCK = "token:{request_id}"  # the actions block holding Show token
TOKEN_MODAL = "token.modal"

# The request form (a modal, ``views/form.py``): opened by ``/impersonate`` alone or the global shortcut.
REQUEST_SHORTCUT = "request.shortcut"  # the shortcut's callback_id, as in slack-app-manifest.yml
REQUEST_FORM = "request.form"  # the form's callback_id: its submissions come back under it
REQUEST_SENT = "request.sent"  # what the form turns into once the request is stored
REQUEST_FAILED = "request.failed"  # pushed over the form when something unexpected went wrong
# Each input's block_id (where a field error is shown) and its element's action_id (where its value is).
FORM_LOGIN_ID_BLOCK, FORM_LOGIN_ID = "request.login_id", "login_id"
FORM_TENANT_BLOCK, FORM_TENANT = "request.tenant", "tenant"
FORM_WINDOW_BLOCK, FORM_WINDOW = "request.window", "window"
FORM_REASON_BLOCK, FORM_REASON = "request.reason", "reason"
FORM_EMERGENCY_BLOCK, FORM_EMERGENCY = "request.emergency", "emergency"  # where a rule allows break-glass
# The App Home: each person's own view (callback ID), and its buttons (clicks count only from the bot's Home).
HOME_VIEW = "home"
HOME_APPROVE = "home.approve"
HOME_DENY = "home.deny"
HOME_DECISION_BLOCK = "home.decision:{request_id}"  # the actions block holding both buttons
HOME_STOP = "home.stop"
HOME_WITHDRAW = "home.withdraw"
HOME_EXTEND = "home.extend"  # on the requester's own running session: opens the extension form

# The expiry warning DM (``views/dm.warning``): Extend opens the extension form, Stop now ends the session.
EXTEND = "session.extend"
STOP_NOW = "session.stop_now"
WARNING_BLOCK = "session.warning:{request_id}"  # the actions block holding both buttons
# The extension form (a modal, ``views/extend.py``): the session's ID travels in its private_metadata.
EXTEND_FORM = "extend.form"
EXTEND_SENT = "extend.sent"
EXTEND_WINDOW_BLOCK, EXTEND_WINDOW = "extend.window", "window"
EXTEND_REASON_BLOCK, EXTEND_REASON = "extend.reason", "reason"
HOME_SESSION_BLOCK = "home.session:{request_id}"  # the actions block holding Extend on the requester's own session

# The code modal (``views/code_modal.py``): a second factor before an Approve or Show token counts. What it is for
# travels in its private_metadata.
CODE_MODAL = "proof.modal"
CODE_BLOCK, CODE_INPUT = "proof.code", "code"
CODE_RESEND = "proof.resend"  # email: Descope mails a new code
CODE_DONE = "proof.done"  # what the modal turns into once the code is checked (or cannot be)

# The break-glass alert (``views/approval.py`` for a break-glass request): the approvers' after-the-fact review.
BREAK_GLASS_REVIEW = "break_glass.review"  # "Looks right"
BREAK_GLASS_FLAG = "break_glass.flag"  # "Stop and flag"
BREAK_GLASS_BLOCK = "break_glass.review:{request_id}"  # the actions block holding both buttons
