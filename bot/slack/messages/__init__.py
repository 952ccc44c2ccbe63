"""Every sentence a person reads, in one place. Pure: data in (``RequestView``, domain errors and
outcomes, usage problems), mrkdwn or plain text out; ``bot.slack.views`` lays it out as Block Kit and
nothing else writes wording.

    replies   the usage and its problems, the rules' refusals, the command's answers
    status    where a request stands, who the target is, why it failed, how it ended, thread lines
    form      the request form (a modal): labels, the windows offered, field errors
    dms       the requester's DMs (session ready / token), the token modal's words, redaction, outcomes
    home      the App Home: headings, a line per request, empty lists, "+N more"

What a person typed goes through ``mrkdwn.code`` here, or into a ``plain_text`` element in the views.
"""
