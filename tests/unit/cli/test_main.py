"""The command line's shape: every subcommand answers ``--help``, an unknown one and bad arguments get the usage and
exit 2 (never a traceback), and no command means ``serve``."""

from __future__ import annotations

import pytest

from bot.cli.main import COMMANDS, main, parser


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: impersonation-bot {command}") and len(out.splitlines()) > 2


def test_the_top_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)


@pytest.mark.parametrize("argv", [["nonsense"], ["policy"], ["audit", "--since", "yesterday"], ["manifest", "--host"],
                                  ["audit", "--format", "xml"], ["serve", "--port", "80"]])
def test_an_unknown_command_or_bad_arguments_get_the_usage_and_exit_2(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: impersonation-bot") and "error:" in err and "Traceback" not in err


def test_no_command_is_serve() -> None:
    assert parser().parse_args([]).command is None  # main() runs COMMANDS["serve"] for it
    assert "serve" in COMMANDS


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("impersonation-bot ")
