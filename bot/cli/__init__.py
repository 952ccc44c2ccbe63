"""The command line (``impersonation-bot``, alias ``python -m bot``): ``main`` parses it and runs one subcommand, each
in a module of its own with its output.

    main     the parser and the dispatch; ``serve`` (the default: the bot itself, ``bot.server``) and ``migrate``
    check    the setup doctor: Slack, Descope and the database, read only (its sentences in ``check_words``)
    policy   which rules decide a request, and what they allow
    audit    the audit trail as JSON lines or CSV
    demo     the whole flow against the stand-ins (``bot.devtools``), narrated
"""
