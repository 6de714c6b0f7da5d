"""The Teams app package: build it from manifest/ and check one, offline.

    data = build_package(PackageValues(teams_app_id, bot_app_id, public_url, version))
    report = check_package(data)      # report.problems == [] when Teams should accept it

A package is a zip with manifest.json and the two icons it names at its root. The manifest is
checked against the official JSON schema its $schema names, as bundled by the npm package
@microsoft/app-manifest (tools/validate-manifest.js; it never downloads one). The schema says
nothing about the icons, so they are checked here: PNG, 192x192 colour, 32x32 outline that is
white on a transparent background.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
MANIFEST_DIR = ROOT / "manifest"
TEMPLATE_NAME = "manifest.template.json"
VALIDATOR = ROOT / "tools" / "validate-manifest.js"
VALIDATOR_PACKAGE = ROOT / "node_modules" / "@microsoft" / "app-manifest"

ICON_SIZES = {"color": 192, "outline": 32}
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
# Teams refuses an app version that is not three dot-separated numbers.
_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
# A fixed timestamp makes the same inputs give the same zip, byte for byte.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class PackageError(Exception):
    """The package cannot be built (a template or icon problem); the message says which."""


class ValidatorUnavailable(RuntimeError):
    """The schema check cannot run here (no Node, no node_modules): nothing was checked."""


@dataclass(frozen=True)
class PackageValues:
    """What the template's placeholders become; the caller has checked them."""

    teams_app_id: str
    bot_app_id: str
    public_url: str
    version: str

    @property
    def bot_domain(self) -> str:
        return urlsplit(self.public_url).hostname or ""

    def placeholders(self) -> dict[str, str]:
        return {
            "TEAMS_APP_ID": self.teams_app_id,
            "BOT_APP_ID": self.bot_app_id,
            "BOT_DOMAIN": self.bot_domain,
            "PUBLIC_URL": self.public_url.rstrip("/"),
            "VERSION": self.version,
        }


# Building -------------------------------------------------------------------------------------


def fill_template(node: Any, values: Mapping[str, str]) -> Any:
    """The template with every {{NAME}} in its strings replaced; unknown names stay as they are.

    Filled value by value in the parsed JSON, so no value can break the JSON around it.
    """
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), node)
    if isinstance(node, list):
        return [fill_template(item, values) for item in node]
    if isinstance(node, dict):
        return {key: fill_template(value, values) for key, value in node.items()}
    return node


def _unfilled(node: Any) -> set[str]:
    if isinstance(node, str):
        return set(_PLACEHOLDER.findall(node))
    if isinstance(node, list):
        return {name for item in node for name in _unfilled(item)}
    if isinstance(node, dict):
        return {name for value in node.values() for name in _unfilled(value)}
    return set()


def build_manifest(values: PackageValues, source: Path = MANIFEST_DIR) -> dict[str, Any]:
    path = source / TEMPLATE_NAME
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PackageError(f"cannot read the manifest template {path}: {exc}") from exc
    manifest = fill_template(template, values.placeholders())
    if left := _unfilled(manifest):
        names = ", ".join("{{" + name + "}}" for name in sorted(left))
        raise PackageError(f"{path} has placeholders dlbot does not fill: {names}")
    if not isinstance(manifest, dict):
        raise PackageError(f"{path} is not a JSON object")
    return manifest


def build_package(values: PackageValues, source: Path = MANIFEST_DIR) -> bytes:
    """The zip: manifest.json and the icons the manifest names, all at the root."""
    manifest = build_manifest(values, source)
    files = {"manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()}
    icons = manifest.get("icons", {})
    for role in ICON_SIZES:
        name = icons.get(role) if isinstance(icons, dict) else None
        if not isinstance(name, str) or not (source / name).is_file():
            raise PackageError(f"the template's icons.{role} names no file in {source}")
        files[name] = (source / name).read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


# Checking -------------------------------------------------------------------------------------


@dataclass
class PackageReport:
    """problems: one line each, empty when the package is fine. schema: the bundled schema used."""

    problems: list[str] = field(default_factory=list)
    schema: str | None = None
    manifest: dict[str, Any] | None = None


def check_package(data: bytes) -> PackageReport:
    """Everything wrong with a package; raises ValidatorUnavailable if the schema can't be run."""
    report = PackageReport()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        report.problems.append("the package is not a zip file")
        return report
    with archive:
        names = set(archive.namelist())
        if "manifest.json" not in names:
            nested = sorted(n for n in names if n.endswith("/manifest.json"))
            hint = f" (it is at {nested[0]}: zip the files, not their folder)" if nested else ""
            report.problems.append(f"manifest.json is not at the root of the package{hint}")
            return report
        text = archive.read("manifest.json").decode("utf-8-sig", errors="replace")
        try:
            manifest = json.loads(text)
        except ValueError as exc:
            report.problems.append(f"manifest.json is not valid JSON: {exc}")
            return report
        if not isinstance(manifest, dict):
            report.problems.append("manifest.json is not a JSON object")
            return report
        report.manifest = manifest
        report.schema, schema_problems = check_schema(text)
        report.problems += schema_problems
        report.problems += _version_problems(manifest)
        report.problems += _icon_file_problems(manifest, archive)
    return report


def check_schema(manifest_text: str) -> tuple[str | None, list[str]]:
    """(the bundled schema file used, the schema's messages as "manifest.json /path message")."""
    node = shutil.which("node")
    if node is None:
        raise ValidatorUnavailable("node is not installed: the manifest check needs Node 20+")
    if not VALIDATOR_PACKAGE.is_dir():
        raise ValidatorUnavailable(
            "node_modules/@microsoft/app-manifest is missing: run `npm ci --ignore-scripts` "
            f"in {ROOT}"
        )
    try:
        completed = subprocess.run(
            [node, str(VALIDATOR)],
            input=manifest_text,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ValidatorUnavailable("validate-manifest.js did not finish in 120 s") from exc
    if completed.returncode == 2:
        reason = completed.stderr.strip().removeprefix("validate-manifest: ")
        return None, [f"manifest.json: {reason}"]
    if completed.returncode not in (0, 1):
        raise ValidatorUnavailable(
            f"validate-manifest.js failed ({completed.returncode}): {completed.stderr.strip()}"
        )
    result = json.loads(completed.stdout)
    # The library's messages start with the JSON pointer of the offending value ("" = the root).
    errors = [f"manifest.json {error.strip()}" for error in result["errors"]]
    return str(result["schema"]), errors


def _version_problems(manifest: dict[str, Any]) -> list[str]:
    version = manifest.get("version")
    # The schema's own type error covers a version that is not a string.
    if isinstance(version, str) and not _SEMVER.fullmatch(version):
        return [
            f"manifest.json /version must be three numbers like 1.0.0 (Teams refuses {version!r})"
        ]
    return []


def _icon_file_problems(manifest: dict[str, Any], archive: zipfile.ZipFile) -> list[str]:
    icons = manifest.get("icons")
    if not isinstance(icons, dict):
        return []  # the schema has said so
    problems = []
    names = set(archive.namelist())
    for role, size in ICON_SIZES.items():
        name = icons.get(role)
        if not isinstance(name, str):
            continue  # the schema has said so
        if name not in names:
            problems.append(
                f"manifest.json /icons/{role} names {name}, which is not in the package"
            )
            continue
        problems += icon_problems(name, archive.read(name), size, outline=role == "outline")
    return problems


def icon_problems(name: str, data: bytes, size: int, *, outline: bool) -> list[str]:
    """What Teams would reject about an icon: not a PNG, wrong size, an outline that isn't
    white on transparent."""
    try:
        png = parse_png(data)
    except PngError as exc:
        return [f"{name} {exc}"]
    problems = []
    if (png.width, png.height) != (size, size):
        problems.append(f"{name} is {png.width}x{png.height}; Teams needs {size}x{size}")
    if not outline:
        return problems
    if not png.has_alpha:
        problems.append(
            f"{name} has no alpha channel (PNG colour type {png.color_type}); the outline icon "
            "must be white on a transparent background"
        )
        return problems
    if png.width * png.height > _MAX_PIXELS_CHECKED:
        return problems  # far off the size anyway; said above
    try:
        pixels = list(png.rgba())
    except PngError as exc:
        return [*problems, f"{name} {exc}"]
    wrong = [
        (index, pixel)
        for index, pixel in enumerate(pixels)
        if pixel[3] != 0 and pixel[:3] != (255, 255, 255)
    ]
    if wrong:
        index, (r, g, b, a) = wrong[0]
        x, y = index % png.width, index // png.width
        problems.append(
            f"{name} has {len(wrong)} pixels that are neither white nor transparent "
            f"(the first at x={x}, y={y} is rgba({r}, {g}, {b}, {a})); the outline icon must be "
            "white on a transparent background"
        )
    elif all(pixel[3] == 0 for pixel in pixels):
        problems.append(f"{name} is fully transparent: Teams would show nothing")
    return problems


# PNG reading (just enough for the icon checks) -------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_BIT_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_MAX_PIXELS_CHECKED = 1024 * 1024


class PngError(ValueError):
    """Says what is wrong, completing a sentence that starts with the file's name."""


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    bit_depth: int
    color_type: int
    interlaced: bool
    image_data: bytes
    palette: bytes = b""
    transparency: bytes | None = None

    @property
    def has_alpha(self) -> bool:
        return self.color_type in (4, 6) or (self.color_type == 3 and self.transparency is not None)

    def rgba(self) -> Iterator[tuple[int, int, int, int]]:
        """Every pixel as 8-bit (r, g, b, a), row by row."""
        if self.interlaced:
            raise PngError("is interlaced, so its pixels cannot be checked: save it without")
        channels = _CHANNELS[self.color_type]
        depth = self.bit_depth
        row_bytes = (self.width * channels * depth + 7) // 8
        for row in _unfiltered_rows(self.image_data, self.height, row_bytes, channels, depth):
            samples = _samples(row, self.width * channels, depth)
            yield from self._pixels(samples, depth)

    def _pixels(self, samples: list[int], depth: int) -> Iterator[tuple[int, int, int, int]]:
        match self.color_type:
            case 3:
                alphas = self.transparency or b""
                for index in samples:
                    if 3 * index + 3 > len(self.palette):
                        raise PngError("uses a colour its palette does not have")
                    r, g, b = self.palette[3 * index : 3 * index + 3]
                    yield r, g, b, alphas[index] if index < len(alphas) else 255
            case 0:
                for gray in samples:
                    value = _to_8_bits(gray, depth)
                    yield value, value, value, 255
            case 4:
                for i in range(0, len(samples), 2):
                    value = _to_8_bits(samples[i], depth)
                    yield value, value, value, _to_8_bits(samples[i + 1], depth)
            case 2:
                for i in range(0, len(samples), 3):
                    r, g, b = (_to_8_bits(s, depth) for s in samples[i : i + 3])
                    yield r, g, b, 255
            case _:
                for i in range(0, len(samples), 4):
                    r, g, b, a = (_to_8_bits(s, depth) for s in samples[i : i + 4])
                    yield r, g, b, a


def parse_png(data: bytes) -> Png:
    if not data.startswith(_PNG_SIGNATURE):
        raise PngError("is not a PNG file")
    position = len(_PNG_SIGNATURE)
    header: tuple[int, ...] | None = None
    image_data = bytearray()
    palette = b""
    transparency: bytes | None = None
    while True:
        if position + 8 > len(data):
            raise PngError("is not a valid PNG: it ends before its IEND chunk")
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        crc = data[position + 8 + length : position + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise PngError("is not a valid PNG: a chunk is cut short")
        if zlib.crc32(kind + body) & 0xFFFFFFFF != struct.unpack(">I", crc)[0]:
            raise PngError(f"is not a valid PNG: the {kind.decode('latin-1')} chunk is corrupt")
        position += 12 + length
        if header is None and kind != b"IHDR":
            raise PngError("is not a valid PNG: it does not start with IHDR")
        if kind == b"IHDR":
            if length != 13:
                raise PngError("is not a valid PNG: its IHDR is malformed")
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"tRNS":
            transparency = body
        elif kind == b"IDAT":
            image_data += body
        elif kind == b"IEND":
            break
    assert header is not None
    width, height, depth, color_type, _, _, interlace = header
    if color_type not in _CHANNELS or depth not in _BIT_DEPTHS[color_type]:
        raise PngError(f"is not a valid PNG: colour type {color_type} with bit depth {depth}")
    if width == 0 or height == 0:
        raise PngError("is not a valid PNG: it has no pixels")
    if color_type == 3 and not palette:
        raise PngError("is not a valid PNG: a palette image without a palette")
    return Png(
        width, height, depth, color_type, interlace == 1, bytes(image_data), palette, transparency
    )


def _unfiltered_rows(
    compressed: bytes, height: int, row_bytes: int, channels: int, depth: int
) -> Iterator[bytes]:
    expected = height * (row_bytes + 1)
    try:
        raw = zlib.decompressobj().decompress(compressed, expected)
    except zlib.error as exc:
        raise PngError(f"is not a valid PNG: its image data is corrupt ({exc})") from exc
    if len(raw) < expected:
        raise PngError("is not a valid PNG: its image data is cut short")
    step = max(1, channels * depth // 8)  # bytes per pixel, for the filters
    previous = bytearray(row_bytes)
    for y in range(height):
        start = y * (row_bytes + 1)
        kind, row = raw[start], bytearray(raw[start + 1 : start + 1 + row_bytes])
        for i in range(row_bytes):
            left = row[i - step] if i >= step else 0
            up = previous[i]
            upper_left = previous[i - step] if i >= step else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                row[i] = (row[i] + _paeth(left, up, upper_left)) & 0xFF
            elif kind != 0:
                raise PngError(f"is not a valid PNG: unknown row filter {kind}")
        yield bytes(row)
        previous = row


def _paeth(left: int, up: int, upper_left: int) -> int:
    estimate = left + up - upper_left
    distances = (abs(estimate - left), abs(estimate - up), abs(estimate - upper_left))
    if distances[0] <= distances[1] and distances[0] <= distances[2]:
        return left
    return up if distances[1] <= distances[2] else upper_left


def _samples(row: bytes, count: int, depth: int) -> list[int]:
    if depth == 8:
        return list(row[:count])
    if depth == 16:
        return [int.from_bytes(row[2 * i : 2 * i + 2], "big") for i in range(count)]
    per_byte = 8 // depth
    mask = (1 << depth) - 1
    return [(row[i // per_byte] >> (8 - depth * (i % per_byte + 1))) & mask for i in range(count)]


def _to_8_bits(sample: int, depth: int) -> int:
    if depth == 8:
        return sample
    if depth == 16:
        return sample >> 8
    return sample * 255 // ((1 << depth) - 1)
