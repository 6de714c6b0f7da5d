"""The icon checks the schema cannot make: PNG, 192x192 colour, 32x32 white on transparent."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from bot.teams_package import MANIFEST_DIR, icon_problems, parse_png
from tests.manifest.pngs import CLEAR, WHITE, outline_with, png, square


def _outline_problems(data: bytes) -> list[str]:
    return icon_problems("outline.png", data, 32, outline=True)


def _color_problems(data: bytes) -> list[str]:
    return icon_problems("color.png", data, 192, outline=False)


def _make_icons() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_icons", MANIFEST_DIR / "make_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_icons_pass_the_checks() -> None:
    assert _color_problems((MANIFEST_DIR / "color.png").read_bytes()) == []
    assert _outline_problems((MANIFEST_DIR / "outline.png").read_bytes()) == []


@pytest.mark.slow
def test_make_icons_draws_the_committed_icons(tmp_path: Path) -> None:
    """Compared pixel by pixel: another zlib may compress the same pixels differently."""
    _make_icons().write_icons(tmp_path)
    for name in ("color.png", "outline.png"):
        drawn = parse_png((tmp_path / name).read_bytes())
        committed = parse_png((MANIFEST_DIR / name).read_bytes())
        assert (drawn.width, drawn.height) == (committed.width, committed.height), name
        assert list(drawn.rgba()) == list(committed.rgba()), f"{name}: run manifest/make_icons.py"


def test_a_colour_icon_of_the_wrong_size_is_reported() -> None:
    assert _color_problems(square(96, (0, 0, 255, 255))) == [
        "color.png is 96x96; Teams needs 192x192"
    ]


def test_an_outline_icon_of_the_wrong_size_is_reported() -> None:
    assert _outline_problems(square(48, WHITE)) == ["outline.png is 48x48; Teams needs 32x32"]


def test_an_outline_without_an_alpha_channel_is_reported() -> None:
    problems = _outline_problems(square(32, (255, 255, 255), color_type=2))
    assert problems == [
        "outline.png has no alpha channel (PNG colour type 2); the outline icon must be white "
        "on a transparent background"
    ]


def test_an_outline_with_an_opaque_coloured_pixel_is_reported() -> None:
    problems = _outline_problems(outline_with(32, (0, 0, 0, 255)))
    assert problems == [
        "outline.png has 1 pixels that are neither white nor transparent (the first at x=31, "
        "y=31 is rgba(0, 0, 0, 255)); the outline icon must be white on a transparent background"
    ]


def test_an_outline_on_an_opaque_background_is_reported() -> None:
    problems = _outline_problems(square(32, (0, 120, 212, 255)))
    assert len(problems) == 1
    assert "1024 pixels that are neither white nor transparent" in problems[0]


def test_a_transparent_pixel_may_hold_any_colour_and_white_any_alpha() -> None:
    assert _outline_problems(outline_with(32, (12, 34, 56, 0))) == []
    assert _outline_problems(outline_with(32, (255, 255, 255, 90))) == []


def test_a_fully_transparent_outline_is_reported() -> None:
    assert _outline_problems(square(32, CLEAR)) == [
        "outline.png is fully transparent: Teams would show nothing"
    ]


@pytest.mark.parametrize(
    "data",
    [b"GIF89a\x20\x00\x20\x00", b"\xff\xd8\xff\xe0\x00\x10JFIF", b"", b"<svg/>"],
    ids=["gif", "jpeg", "empty", "svg"],
)
def test_a_file_that_is_not_a_png_is_reported(data: bytes) -> None:
    assert _color_problems(data) == ["color.png is not a PNG file"]


def test_a_png_with_a_corrupt_chunk_is_reported() -> None:
    data = bytearray(square(192, (0, 0, 255, 255)))
    data[20] ^= 0xFF  # inside IHDR's data, so its checksum no longer matches
    assert _color_problems(bytes(data)) == [
        "color.png is not a valid PNG: the IHDR chunk is corrupt"
    ]


def test_a_png_cut_short_is_reported() -> None:
    data = square(32, WHITE)
    assert _outline_problems(data[: len(data) // 2])[0].startswith("outline.png is not a valid PNG")


@pytest.mark.parametrize("row_filter", [0, 1, 2, 3, 4], ids=["none", "sub", "up", "avg", "paeth"])
def test_every_png_row_filter_decodes_to_the_same_pixels(row_filter: int) -> None:
    rows = [
        [(x * 40 % 256, y * 60 % 256, (x * y) % 256, 255 - x * 10) for x in range(5)]
        for y in range(4)
    ]
    decoded = list(parse_png(png(5, 4, rows, row_filter=row_filter)).rgba())
    assert decoded == [pixel for row in rows for pixel in row]


def test_a_palette_outline_with_transparency_is_accepted() -> None:
    rows = [[(x % 2,) for x in range(32)] for _ in range(32)]
    palette = [(0, 0, 0), (255, 255, 255)]
    data = png(32, 32, rows, color_type=3, bit_depth=1, palette=palette, transparency=[0])
    assert _outline_problems(data) == []


def test_a_palette_outline_with_an_opaque_black_is_reported() -> None:
    rows = [[(x % 2,) for x in range(32)] for _ in range(32)]
    data = png(32, 32, rows, color_type=3, palette=[(0, 0, 0), (255, 255, 255)])
    assert "has no alpha channel (PNG colour type 3)" in _outline_problems(data)[0]


def test_a_grey_and_alpha_outline_is_checked_like_rgba() -> None:
    white_or_clear = [[(255, 255) if x % 2 else (0, 0) for x in range(32)] for _ in range(32)]
    assert _outline_problems(png(32, 32, white_or_clear, color_type=4)) == []
    grey = [[(128, 255)] * 32] * 32
    assert "1024 pixels" in _outline_problems(png(32, 32, grey, color_type=4))[0]


def test_sixteen_bit_pixels_are_read_by_their_high_byte() -> None:
    rows = [[(0xFFFF, 0xFFFF, 0xFFFF, 0x8000), (0x1234, 0, 0, 0xFFFF)]]
    assert list(parse_png(png(2, 1, rows, bit_depth=16)).rgba()) == [
        (255, 255, 255, 128),
        (0x12, 0, 0, 255),
    ]
