"""Draw the Teams app icons: color.png (192x192) and outline.png (32x32, white on transparent).

    python manifest/make_icons.py            # writes both next to this script
    python manifest/make_icons.py OUT_DIR    # writes them into OUT_DIR

Pure Python (zlib + struct), so it runs anywhere Python does. The glyph is an envelope; the
colour icon adds a "+" badge (join a list). Shapes are signed-distance functions, sampled 4x4 per
pixel for smooth edges. The committed PNGs are this script's output; a test checks they match.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

Point = tuple[float, float]
Shape = Callable[[float, float], bool]  # is the point (x, y) inside the shape?
RGB = tuple[int, int, int]

ACCENT: RGB = (0x2B, 0x57, 0x9A)  # the manifest's accentColor
WHITE: RGB = (0xFF, 0xFF, 0xFF)
SAMPLES = 4  # per axis, per pixel


def encode_png(width: int, height: int, rgba: bytes) -> bytes:
    """An 8-bit RGBA PNG (colour type 6) of the given pixels, rows top to bottom."""
    if len(rgba) != width * height * 4:
        raise ValueError("rgba must hold width * height * 4 bytes")
    stride = width * 4
    raw = b"".join(b"\x00" + rgba[y * stride : (y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


# Shapes ---------------------------------------------------------------------------------------


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def stroke_polyline(points: list[Point], width: float) -> Shape:
    pairs = list(zip(points, points[1:], strict=False))
    return lambda x, y: any(_segment_distance((x, y), a, b) <= width / 2 for a, b in pairs)


def stroke_rounded_rect(
    left: float, top: float, right: float, bottom: float, radius: float, width: float
) -> Shape:
    cx, cy = (left + right) / 2, (top + bottom) / 2
    half_w, half_h = (right - left) / 2 - radius, (bottom - top) / 2 - radius

    def inside(x: float, y: float) -> bool:
        qx, qy = abs(x - cx) - half_w, abs(y - cy) - half_h
        outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
        distance = outside + min(max(qx, qy), 0.0) - radius
        return abs(distance) <= width / 2

    return inside


def disc(cx: float, cy: float, radius: float) -> Shape:
    return lambda x, y: math.hypot(x - cx, y - cy) <= radius


def envelope(
    left: float, top: float, right: float, bottom: float, radius: float, width: float
) -> list[Shape]:
    """The body and the flap, which meets in the middle a little above the bottom edge."""
    inset = width / 2 + radius / 3
    middle = ((left + right) / 2, top + (bottom - top) * 0.55)
    flap = [(left + inset, top + inset), middle, (right - inset, top + inset)]
    return [
        stroke_rounded_rect(left, top, right, bottom, radius, width),
        stroke_polyline(flap, width),
    ]


# Rendering ------------------------------------------------------------------------------------

Layer = tuple[list[Shape], RGB]


def render(size: int, background: RGB | None, layers: list[Layer]) -> bytes:
    """RGBA pixels: each later layer painted over the earlier ones, with anti-aliased edges.

    Without a background the pixels are transparent where no layer covers them, and the
    coverage becomes the alpha, so the colour of every visible pixel is its layer's colour.
    """
    pixels = bytearray()
    offsets = [(i + 0.5) / SAMPLES for i in range(SAMPLES)]
    for py in range(size):
        for px in range(size):
            counts = [0] * len(layers)
            for oy in offsets:
                for ox in offsets:
                    x, y = px + ox, py + oy
                    top_layer = None
                    for index, (shapes, _) in enumerate(layers):
                        if any(shape(x, y) for shape in shapes):
                            top_layer = index
                    if top_layer is not None:
                        counts[top_layer] += 1
            total = SAMPLES * SAMPLES
            if background is None:
                covered = sum(counts)
                # Only one colour is allowed on a transparent icon: the top layer's.
                colour = layers[-1][1] if covered else (0, 0, 0)
                alpha = round(255 * covered / total)
                pixels += bytes((*colour, alpha)) if alpha else bytes(4)
                continue
            mixed = [background[c] * (total - sum(counts)) for c in range(3)]
            for (_, layer_colour), count in zip(layers, counts, strict=True):
                for c in range(3):
                    mixed[c] += layer_colour[c] * count
            pixels += bytes((*(round(m / total) for m in mixed), 255))
    return bytes(pixels)


def color_icon() -> bytes:
    """192x192: a white envelope with a "+" badge on the accent colour, edge to edge."""
    body = envelope(34, 47, 134, 123, radius=11, width=9)
    badge_gap = [disc(134, 121, 31)]
    badge = [disc(134, 121, 24)]
    plus = [
        stroke_polyline([(134, 108), (134, 134)], 7),
        stroke_polyline([(121, 121), (147, 121)], 7),
    ]
    layers: list[Layer] = [(body, WHITE), (badge_gap, ACCENT), (badge, WHITE), (plus, ACCENT)]
    return encode_png(192, 192, render(192, ACCENT, layers))


def outline_icon() -> bytes:
    """32x32: the envelope alone, white on transparent, filling the square as Teams asks."""
    body = envelope(2, 6, 30, 26, radius=2.5, width=2)
    return encode_png(32, 32, render(32, None, [(body, WHITE)]))


def write_icons(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in (("color.png", color_icon()), ("outline.png", outline_icon())):
        path = directory / name
        path.write_bytes(data)
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else Path(__file__).resolve().parent
    for path in write_icons(directory):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
