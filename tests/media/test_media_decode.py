"""The raw-video back-ends of ``tvrkit.media.decode.SAMPLED`` return the same frames, fall back in
order, and the default order needs no system library: torchcodec (FFmpeg's shared libraries) is
opt-in, and its test skips naming the missing library and the install command where they are absent."""

from __future__ import annotations

import numpy as np
import pytest
from shard_testdata import make_video

from tvrkit.errors import ConfigError, DataError
from tvrkit.media import decode


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("clips") / "c.mp4"
    make_video(path, 5, hue=90)  # 5 s at 3 fps: 15 frames of 64x48
    return str(path)


@pytest.mark.parametrize("name", sorted(decode.SAMPLED))
def test_every_back_end_returns_the_same_frames(clip, name):
    if name == "torchcodec" and (why := decode.torchcodec_unavailable()):
        pytest.skip(why)
    full = decode.decode_video(clip, order=("ffmpeg",)).frames

    def pick(n: int, fps: float) -> list[int]:
        assert (n, fps) == (15, 3.0)
        return [0, 4, 9, 14]

    indices, frames = decode.read_sampled(clip, pick, order=(name,))
    assert indices == [0, 4, 9, 14] and np.array_equal(frames, full[indices])


def test_read_sampled_falls_back_in_order_and_names_every_failure(clip, tmp_path, monkeypatch):
    def refuse(path: str, pick: decode.Pick) -> decode.Sampled:
        raise RuntimeError("refused")

    monkeypatch.delenv(decode.ORDER_ENV, raising=False)
    first, fallback = decode.sampled_order()
    monkeypatch.setitem(decode.SAMPLED, first, refuse)
    indices, frames = decode.read_sampled(clip, lambda n, fps: [1])
    assert indices == [1] and frames.shape == (1, 48, 64, 3)
    garbage = tmp_path / "bad.mp4"
    garbage.write_bytes(b"\x00not a video\x00" * 64)
    with pytest.raises(DataError, match=rf"{first}: RuntimeError: refused; {fallback}: \w+"):
        decode.read_sampled(garbage, lambda n, fps: [0])


def test_the_default_order_needs_no_system_library_and_torchcodec_is_opt_in(monkeypatch):
    monkeypatch.delenv(decode.ORDER_ENV, raising=False)
    assert decode.sampled_order() == ("pyav", "decord")  # both wheels carry their own FFmpeg
    monkeypatch.setenv(decode.ORDER_ENV, "torchcodec, pyav")
    assert decode.sampled_order() == ("torchcodec", "pyav")
    monkeypatch.setenv(decode.ORDER_ENV, "torchcodec,nope")
    with pytest.raises(ConfigError, match="unknown back-end nope; known: pyav, decord, torchcodec"):
        decode.read_sampled("any.mp4", lambda n, fps: [0])


def test_torchcodec_without_ffmpeg_names_the_library_and_the_install_command(monkeypatch):
    """torchcodec made unable to load, as on a machine without FFmpeg's shared libraries."""
    core = pytest.importorskip("torchcodec._core")

    class NoFFmpeg:
        _FFMPEG_AVAILABLE = False

        @staticmethod
        def load_core_libraries() -> None:
            raise RuntimeError("Could not load libtorchcodec. Likely causes: ...\n"
                               "OSError: libavutil.so.57: cannot open shared object file: No such file or directory\n"
                               "OSError: libavutil.so.56: cannot open shared object file: No such file or directory")

    monkeypatch.setattr(core, "ops", NoFFmpeg)
    decode._torchcodec_decoder.cache_clear()
    try:
        why = decode.torchcodec_unavailable()
        with pytest.raises(DataError, match="torchcodec: DataError: torchcodec cannot load"):
            decode.read_sampled("any.mp4", lambda n, fps: [0], order=("torchcodec",))
    finally:
        decode._torchcodec_decoder.cache_clear()
    assert why == ("torchcodec cannot load FFmpeg's shared libraries (libavutil.so.56, libavutil.so.57 not found); "
                   f"install them with: apt-get install {' '.join(decode.TORCHCODEC_LIBS)}")
