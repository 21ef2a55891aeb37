"""The CLI shell: every registered command has working --help, --version works, and
`tvrkit --help` stays fast because it imports no heavy library."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from tvrkit import __version__
from tvrkit.cli import COMMANDS, SUMMARIES, cli, main


def test_group_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output
    assert set(SUMMARIES) == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and name in result.output


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_unknown_command_is_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
    assert "No such command" in capsys.readouterr().err


def test_help_imports_nothing_heavy_and_is_fast():
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from tvrkit.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'pyarrow', 'open_clip', 'decord', 'numpy', 'lmdb') if m in sys.modules]\n"
        "print('HEAVY', heavy, 'SECONDS', time.perf_counter() - t)\n"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    assert "HEAVY [] " in out, out
    assert wall < 1.5, f"tvrkit --help took {wall:.2f}s including interpreter start"
