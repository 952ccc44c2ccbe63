"""Bolt listeners, one module per surface, each with ``register(app, deps)``.

A listener reads the payload, ``ack()``s within Slack's 3 seconds, calls one workflow, and renders the
answer with ``bot.slack.views`` / ``bot.slack.messages``. Dependencies come in through ``Deps`` (``base``): no globals.
Work that may take longer than the ack (a decision, a modal to open) is registered with ``after_ack``: the
click is acked at once and the work runs on the app's listener executor.

    command     /impersonate (answered in the ack itself: parse, one insert, one ephemeral reply)
    approvals   Approve / Deny on the approval message (ack at once; the decision runs after it)
    token       Show token on the requester's session DM (ack at once; the modal opens after it)
    form        the request form: /impersonate alone or the shortcut opens it; its submission is answered in the ack
    home        the App Home: published when opened; its buttons (ack at once; the work runs after it)
    session     a running session's Extend (the extension form) and Stop now, from the warning DM or the Home
    break_glass Looks right / Stop and flag on a break-glass alert (ack at once; the review runs after it)
    proof       the code modal: a second factor before an Approve or a Show token counts (``open_modal`` opens it
                for the others' clicks; its submission is checked at Descope after the ack)
"""
