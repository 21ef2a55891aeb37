"""Pure ffmpeg argv builders: aspect ratio for landscape and portrait, even sides,
thread budget, and the flags that make outputs reproducible."""

from __future__ import annotations

import pytest

from tvrkit.media.argv import compress_argv, decode_null_argv, probe_argv, scale_expressions, scaled_size, thread_budget


@pytest.mark.parametrize(
    ("width", "height", "sar", "expected"),
    [
        (320, 240, 1.0, (298, 224)),  # 4:3 landscape: 224 * 4/3 = 298.67 -> nearest even 298
        (240, 320, 1.0, (224, 298)),  # portrait keeps its shape (CLIP4Clip's ow*a bug squashed it)
        (1920, 1080, 1.0, (398, 224)),
        (1080, 1920, 1.0, (224, 398)),
        (500, 500, 1.0, (224, 224)),
        (64, 48, 1.0, (298, 224)),  # small sources are scaled up to the same short side
        (720, 480, 32 / 27, (398, 224)),  # anamorphic 16:9 DVD: display aspect, not storage aspect
    ],
)
def test_scaled_size_keeps_display_aspect_with_even_sides(width, height, sar, expected):
    w, h = scaled_size(width, height, 224, sar)
    assert (w, h) == expected
    assert w % 2 == 0 and h % 2 == 0
    assert min(w, h) == 224


def test_scaled_size_rounds_to_the_nearest_even_side():
    # 224 * 16/9 = 398.2 -> 398; 100 * 3 = 300 exactly; 112 * 1.5 = 168 -> even already
    assert scaled_size(1600, 900, 224) == (398, 224)
    assert scaled_size(300, 100, 100) == (300, 100)
    assert scaled_size(99, 150, 112) == (112, 170)  # 112 * 150/99 = 169.7 -> 170


def test_scaled_size_rejects_nonsense():
    with pytest.raises(ValueError):
        scaled_size(0, 10, 224)


def test_scale_expressions_pick_the_short_side_by_display_aspect():
    w, h = scale_expressions(224)
    assert w.startswith("if(gte(dar,1),") and w.endswith(",224)")
    assert h.startswith("if(gte(dar,1),224,")
    assert "ow*a" not in w + h


@pytest.mark.parametrize(("workers", "cores", "threads"), [(1, 8, 8), (2, 8, 4), (3, 8, 2), (8, 8, 1), (16, 8, 1)])
def test_thread_budget_never_oversubscribes(workers, cores, threads):
    assert thread_budget(workers, cores) == threads
    assert workers * thread_budget(workers, cores) <= max(cores, workers)


def test_thread_budget_rejects_zero():
    with pytest.raises(ValueError):
        thread_budget(0, 4)


def test_compress_argv_shape():
    argv = compress_argv("ffmpeg", "-odd name:é.mp4", "/out/x.mp4", fps=3, size=224, crf=23, preset="veryfast",
                         threads=4)
    assert argv[0] == "ffmpeg"
    # inputs and outputs are absolute file: URLs, so "-odd" is not an option and ":" not a protocol
    src = argv[argv.index("-i") + 1]
    assert src.startswith("file:/") and src.endswith("-odd name:é.mp4")
    assert argv[-1] == "file:/out/x.mp4"
    assert argv[argv.index("-i") - 1] == "4"  # decoder threads come before -i
    enc = argv.index("-vcodec")
    assert argv[enc + 1] == "libx264"
    assert argv[argv.index("-threads", argv.index("-i")) + 1] == "1"  # single-threaded x264: reproducible
    graph = argv[argv.index("-filter_complex") + 1]
    assert graph.startswith("[0:v]fps=fps=3") and "setsar=1" in graph
    assert argv[argv.index("-pix_fmt") + 1] == "yuv420p"
    assert "+bitexact" in argv and argv[argv.index("-map_metadata") + 1] == "-1"
    assert "-an" not in argv and "0:a" not in " ".join(argv)  # only the filtered video is mapped


def test_probe_and_decode_argv():
    assert probe_argv("ff", "/a b.mp4", "header")[-2:] == ["-i", "file:/a b.mp4"]
    frames = probe_argv("ff", "/a.mp4", "frames")
    assert frames[frames.index("-map") + 1] == "0:v:0" and "-progress" in frames and frames[-1] == "-"
    assert "copy" not in frames and probe_argv("ff", "/a.mp4", "packets")[frames.index("-map") + 2:][:2] == [
        "-c", "copy"]
    with pytest.raises(ValueError):
        probe_argv("ff", "/a.mp4", "deep")
    null = decode_null_argv("ff", "/a.mp4", 2)
    assert null[-3:] == ["-f", "null", "-"] and null[null.index("-threads") + 1] == "2"
