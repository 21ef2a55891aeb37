"""Probing with the ffmpeg binary alone: header and progress parsing (pure, on captured
text) and the validity rules for a compressed output, then one real probe."""

from __future__ import annotations

import pytest

from tvrkit.media.ffmpeg import ffmpeg_exe
from tvrkit.media.probe import (
    MediaInfo,
    duration_tolerance,
    error_lines,
    output_problem,
    parse_header,
    parse_progress,
    probe,
    strip_level,
)
from tvrkit.media.testsrc import make_video

HEADER = """\
[info] Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/tmp/in.mp4':
[info]   Metadata:
[info]     encoder         : Lavf63.1.102
[info]   Duration: 00:01:02.50, start: 0.000000, bitrate: 140 kb/s
[info]   Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), \
720x480 [SAR 32:27 DAR 16:9], 277 kb/s, 29.97 fps, 29.97 tbr, 30k tbn (default)
[info]   Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp, 69 kb/s (default)
[info] Stream mapping:
[info]   Stream #0:0 -> #0:0 (h264 (native) -> wrapped_avframe (native))
[info] Output #0, null, to 'pipe:':
[info]   Stream #0:0(und): Video: wrapped_avframe, yuv420p, 999x999, q=2-31, 200 kb/s, 3 fps, 3 tbn (default)
[h264 @ 0x5650] [error] Invalid NAL unit size (1213 > 448).
[in#0/mov @ 0x5650] [warning] corrupt input packet in stream 0
"""


def test_parse_header_reads_only_the_input_section():
    info = parse_header(HEADER)
    assert info.duration == pytest.approx(62.5)
    assert (info.width, info.height) == (720, 480)  # not the output's 999x999, not the 0x3163 codec tag
    assert info.codec == "h264"
    assert info.sar == pytest.approx(32 / 27)
    assert info.fps == pytest.approx(29.97)
    assert info.has_audio and info.has_video


def test_parse_header_of_audio_only_and_garbage():
    audio = parse_header("[info] Input #0, mov, from 'a.mp4':\n[info]   Duration: N/A, bitrate: N/A\n"
                         "[info]   Stream #0:0: Audio: aac, 44100 Hz\n")
    assert not audio.has_video and audio.has_audio and audio.duration is None
    assert parse_header("[error] moov atom not found\n") == MediaInfo()


def test_error_lines_and_progress():
    assert error_lines(HEADER) == ("[h264 @ 0x5650] [error] Invalid NAL unit size (1213 > 448).",)
    assert error_lines("[fatal] At least one output file must be specified\n") == ()
    progress = parse_progress("frame=3\nfps=0.0\nprogress=continue\nframe=6\nout_time_us=2000000\nprogress=end\n")
    assert progress["frame"] == "6" and progress["progress"] == "end"


GOOD = MediaInfo(duration=2.0, fps=3.0, width=298, height=224, codec="h264", frames=6)


@pytest.mark.parametrize(
    ("change", "source_duration", "fragment"),
    [
        ({}, 2.0, None),
        ({"errors": ("[error] bad",)}, None, "decoding the output failed"),
        ({"codec": None, "width": None, "height": None}, None, "no video stream"),
        ({"codec": "mpeg4"}, None, "not h264"),
        ({"width": 300, "height": 226}, None, "short side 224"),
        ({"width": 299}, None, "even sides"),
        ({"has_audio": True}, None, "audio"),
        ({"fps": 25.0}, None, "fps"),
        ({"frames": 0}, None, "no frame"),
        ({"frames": 3}, None, "decodes to 3 frames"),
        ({}, 4.0, "truncated"),  # half of the source is missing
    ],
)
def test_output_problem(change, source_duration, fragment):
    import dataclasses

    problem = output_problem(dataclasses.replace(GOOD, **change), 3.0, 224, source_duration)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem


def test_duration_tolerance_allows_audio_overhang_but_not_truncation():
    assert duration_tolerance(10.0, 3.0) == pytest.approx(1.0 + 1 / 3)
    assert duration_tolerance(100.0, 3.0) == pytest.approx(10.0 + 1 / 3)
    assert output_problem(GOOD, 3.0, 224, 2.9) is None  # 0.9 s of trailing audio


def test_probe_real_file(tmp_path):
    path = make_video(tmp_path / "a b é.mp4", 64, 48, duration=1.0, fps=10, audio=True)
    exe = ffmpeg_exe()
    head = probe(path, exe, "header")
    assert (head.width, head.height, head.fps, head.codec, head.has_audio) == (64, 48, 10.0, "h264", True)
    assert head.frames is None
    for depth in ("packets", "frames"):
        full = probe(path, exe, depth)
        assert full.frames == 10 and full.errors == (), depth
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    bad = probe(broken, exe, "frames")
    assert not bad.has_video and bad.errors


def test_decoding_finds_damage_inside_the_frames(tmp_path):
    """Garbage in the middle of the frame data: the container still opens, the header
    still looks right, but decoding reports errors and the output is rejected."""
    path = make_video(tmp_path / "v.mp4", 160, 120, duration=2.0, fps=10)
    data = bytearray(path.read_bytes())
    start = data.index(b"mdat") + 2000
    data[start:start + 3000] = bytes(range(256)) * 11 + bytes(184)
    path.write_bytes(bytes(data))
    exe = ffmpeg_exe()
    assert probe(path, exe, "header").errors == ()
    decoded = probe(path, exe, "frames")
    assert decoded.errors and output_problem(decoded, 10.0, 120) is not None


def test_strip_level():
    assert strip_level("[h264 @ 0x1] [error] bad NAL [x] y") == "bad NAL [x] y"


def test_stderr_tail_drops_object_addresses() -> None:
    from tvrkit.media.probe import stderr_tail

    text = "[fc#0 @ 0x561294111380] [fatal] Stream specifier ':v' matches no streams\n[in#0/mov @ 0x5650] ok"
    assert stderr_tail(text) == "[fc#0] [fatal] Stream specifier ':v' matches no streams\n[in#0/mov] ok"
    assert stderr_tail(text, lines=1) == "[in#0/mov] ok"
