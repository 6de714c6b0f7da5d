"""Names, aliases and distinguished names: deriving an alias from a Name, and the DN syntax
Active Directory writes (escaping and splitting RDNs).

Pure string rules with no directory behind them, so apart: the tenant builds its DNs with them,
the loader and New-DistributionGroup derive aliases, and -Filter splits DN values.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

_ALIAS_ATOM: Final = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+"
ALIAS_PATTERN: Final = re.compile(rf"{_ALIAS_ATOM}(?:\.{_ALIAS_ATOM})*")
_NOT_ALIAS_CHAR: Final = re.compile(r"[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]")
_DN_SPECIAL: Final = frozenset(',+"\\<>;=')


def derive_alias(name: str, *, max_length: int = 64) -> str:
    """The alias Exchange derives from a Name: accents folded, invalid characters dropped."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    alias = _NOT_ALIAS_CHAR.sub("", folded)
    alias = re.sub(r"\.{2,}", ".", alias).strip(".")
    return alias[:max_length].rstrip(".")


def escape_rdn(value: str) -> str:
    """Escape one RDN value the way Active Directory writes it (RFC 4514 specials)."""
    out = []
    for i, ch in enumerate(value):
        special = ch in _DN_SPECIAL or (ch == "#" and i == 0)
        edge_space = ch == " " and (i == 0 or i == len(value) - 1)
        out.append("\\" + ch if special or edge_space else ch)
    return "".join(out)


def split_dn(dn: str) -> list[tuple[str, str]] | None:
    """Split a DN into (attribute, unescaped value) pairs; None when it is not a DN at all."""
    parts: list[tuple[str, str]] = []
    attr: str | None = None
    buf: list[str] = []
    i = 0
    while i <= len(dn):
        ch = dn[i] if i < len(dn) else ","
        if ch == "\\" and i + 1 < len(dn):
            pair = dn[i + 1 : i + 3]
            if re.fullmatch(r"[0-9A-Fa-f]{2}", pair):
                buf.append(chr(int(pair, 16)))
                i += 3
                continue
            buf.append(dn[i + 1])
            i += 2
            continue
        if ch == "=" and attr is None:
            attr = "".join(buf).strip()
            buf = []
        elif ch == ",":
            if attr is None or not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", attr):
                return None
            parts.append((attr, "".join(buf).strip()))
            attr, buf = None, []
        else:
            buf.append(ch)
        i += 1
    return parts or None
