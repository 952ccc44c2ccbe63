"""Block Kit builders, one module per surface; the wording comes from ``bot.slack.messages``.

    ids        every action, block and callback ID (and the legacy ones still accepted)
    blocks     Message and the text/section primitives
    approval   the approvals-channel message: build() and parse() of its clicks
    dm         the requester's token and outcome DMs
    thread     the approval message's thread lines
    form       the request form (a modal): build(), parse() of its submissions, field errors
    home       the App Home: build() and parse() of its clicks
"""
