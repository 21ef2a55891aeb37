"""The terminal stays quiet by default: tvrkit's own INFO lines and every library's warnings; other
libraries' INFO lines only with ``-v``; open_clip's "initialized randomly" never shows when a
checkpoint's weights load right after it."""

from __future__ import annotations

import logging

import pytest

from tvrkit.cli import main


@pytest.mark.parametrize(("flags", "shown"), [
    ((), ["INFO tvrkit.quiet_test: ours", "WARNING some_library: a real warning"]),
    (("-v",), ["INFO tvrkit.quiet_test: ours", "INFO some_library: chatter", "WARNING some_library: a real warning"]),
    (("-q",), ["WARNING some_library: a real warning"]),
])
def test_library_info_lines_show_only_with_verbose(flags, shown, capsys):
    main([*flags, "config", "list"])
    capsys.readouterr()
    logging.getLogger("tvrkit.quiet_test").info("ours")
    logging.getLogger("some_library").info("chatter")
    logging.getLogger("some_library").warning("a real warning")
    assert capsys.readouterr().err.splitlines() == shown


@pytest.mark.slow
def test_search_with_a_checkpoint_says_nothing_untrue(tmp_path, capfd):
    from search_testdata import small_library

    _, _, index = small_library(tmp_path)
    capfd.readouterr()
    main(["search", str(index), "a clip", "--k", "2"])
    out, err = capfd.readouterr()
    assert out.strip() and "initialized randomly" not in err and "INFO root" not in err, err
    main(["-v", "search", str(index), "a clip", "--k", "2"])
    err = capfd.readouterr().err
    assert "INFO root:" in err and "initialized randomly" not in err, err  # open_clip's INFO lines with -v
