"""Benchmarks: ``python -m bench`` (or ``make bench``) measures the running bot and writes docs/BENCHMARKS.md.

The bot runs as a real process (``bot.devtools.harness.BotProcess``) against the fake Slack and Descope servers
of the end-to-end tests. Not a test: CI times nothing. See ``bench/__main__.py``.
"""
