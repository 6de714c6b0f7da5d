"""Deterministic generator of tenant files, from a handful of users to 100,000 lists.

    python -m exchange.sandbox.generate --lists 100000 --users 20000 --out big.json

Output is a tenant-file dict (TENANT-FORMAT.md). Everything comes from one seeded
random.Random, so the same arguments always give the same file. It produces plain dicts and
imports nothing from the tenant model, which uses synthetic_users() to expand
"synthetic_members" at load time.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import unicodedata
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

# The sandbox app dlbot is configured with; generated tenants accept it too.
SANDBOX_APP: Final[dict[str, Any]] = {
    "client_id": "913f363f-a3cf-4f31-9f81-0164ec18b77b",
    "display_name": "dlbot (sandbox)",
    "secrets": ["sandbox-client-secret-not-for-production"],
    "granted_cmdlets": None,
}

# A few non-ASCII names on purpose: they must round-trip through every layer.
FIRST_NAMES: Final = (
    "Aiko", "Amara", "Ben", "Carla", "Chen", "Dmitri", "Elif", "Fatima", "Grace", "Hamid",
    "Ines", "Jonas", "Kofi", "Lena", "Łukasz", "Maya", "Noah", "Olga", "Priya", "Quentin",
    "Rosa", "Søren", "Tariq", "Uma", "Victor", "Wei", "Ximena", "Yusuf", "Zoë", "José",
)  # fmt: skip
LAST_NAMES: Final = (
    "Adeyemi", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ito",
    "Jansen", "Kowalski", "Laurent", "Müller", "Nakamura", "O'Neill", "Patel", "Quinn",
    "Rossi", "Schmidt", "Tanaka", "Urban", "Varga", "Wójcik", "Xu", "Yilmaz", "Zhang",
)  # fmt: skip
DEPARTMENTS: Final = (
    "Finance", "Sales", "Marketing", "Engineering", "IT", "HR", "Legal", "Operations",
    "Support", "Research",
)  # fmt: skip
TITLES: Final = ("Analyst", "Engineer", "Manager", "Specialist", "Consultant", "Coordinator")
LIST_TOPICS: Final = (
    "finance", "sales", "marketing", "engineering", "support", "legal", "hr", "ops",
    "design", "research", "security", "data", "product", "facilities", "travel", "social",
    "alumni", "bookclub", "running", "chess", "wellbeing", "volunteers", "announcements",
)  # fmt: skip
REGIONS: Final = ("emea", "amer", "apac", "uk", "de", "fr", "nl", "us", "jp", "br", "in")
# Weighted like a real tenant: most lists are closed or need an owner's approval.
JOIN_RESTRICTIONS: Final = ("Closed",) * 5 + ("ApprovalRequired",) * 4 + ("Open",)


def ascii_fold(text: str) -> str:
    """Letters only, accents folded: 'Søren' -> 'soren', "O'Neill" -> 'oneill'."""
    folded = unicodedata.normalize("NFKD", text.replace("ø", "o").replace("Ł", "L"))
    return "".join(c for c in folded.encode("ascii", "ignore").decode() if c.isalnum()).lower()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _person(rng: random.Random, number: int, domain: str) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return {
        "id": _uuid(rng),
        "display_name": f"{first} {last}",
        "first_name": first,
        "last_name": last,
        "email": f"{ascii_fold(first)}.{ascii_fold(last)}{number}@{domain}",
        "department": rng.choice(DEPARTMENTS),
        "title": rng.choice(TITLES),
    }


def synthetic_users(
    key: str, count: int, domain: str, *, first_number: int = 1
) -> list[dict[str, Any]]:
    """`count` mailbox users for a group's "synthetic_members", the same for the same key.

    Addresses are numbered from first_number so that two synthetic groups never collide.
    Names are their object ids, as for any recipient created since late 2022.
    """
    # str seeds are hashed with SHA-512 by random.Random, so this ignores PYTHONHASHSEED.
    rng = random.Random(f"synthetic/{key}")
    return [_person(rng, first_number + i, domain) for i in range(count)]


def generate_tenant(
    lists: int,
    users: int,
    seed: int = 0,
    *,
    domain: str = "contoso.com",
    initial_domain: str = "contoso.onmicrosoft.com",
) -> dict[str, Any]:
    """A tenant-file dict with `users` people and `lists` distribution lists.

    Lists have 0-3 owners and 0-8 members drawn from the users (about 1% nest another list),
    a realistic mix of restrictions, and a sprinkling of security, hidden and dir-synced lists.
    About a third of users carry legacy human names; the rest are named by their object id.
    """
    if lists < 0 or users < 0:
        raise ValueError("lists and users must not be negative")
    rng = random.Random(seed)
    people: list[dict[str, Any]] = []
    for i in range(users):
        person = _person(rng, i + 1, domain)
        if rng.random() < 0.33:
            person["name"] = person["email"].split("@")[0].replace(".", "")
        if i and rng.random() < 0.7:
            person["manager"] = people[rng.randrange(i)]["id"]
        if rng.random() < 0.02:
            person["account_disabled"] = True
        people.append(person)
    ids = [p["id"] for p in people]
    groups: list[dict[str, Any]] = []
    for j in range(lists):
        topic, region = rng.choice(LIST_TOPICS), rng.choice(REGIONS)
        group: dict[str, Any] = {
            "id": _uuid(rng),
            "name": f"{topic}-{region}-{j}",
            "display_name": f"{topic.capitalize()} {region.upper()} {j}",
            "description": f"Generated list {j} for {topic} in {region.upper()}.",
            "member_join_restriction": rng.choice(JOIN_RESTRICTIONS),
        }
        if ids:
            group["managed_by"] = rng.sample(ids, min(len(ids), rng.randrange(4)))
            group["members"] = rng.sample(ids, min(len(ids), rng.randrange(9)))
        if j and rng.random() < 0.01:
            group.setdefault("members", []).append(groups[rng.randrange(j)]["id"])
        roll = rng.random()
        if roll < 0.03:
            group["type"] = "Security"
            group["member_join_restriction"] = "Closed"
            group["member_depart_restriction"] = "Closed"
        elif roll < 0.05:
            group["hidden_from_address_lists"] = True
        elif roll < 0.07:
            group["is_dir_synced"] = True
        groups.append(group)
    return {
        "format_version": 1,
        "tenant": {
            "id": _uuid(rng),
            "initial_domain": initial_domain,
            "display_name": f"Generated tenant (seed {seed})",
            "accepted_domains": [
                {"domain": domain, "default": True},
                {"domain": initial_domain},
            ],
            "naming_policy": {"blocked_words": ["ceo", "payroll-all", "everyone"]},
        },
        "apps": [dict(SANDBOX_APP)],
        "users": people,
        "groups": groups,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exchange.sandbox.generate",
        description="Write a deterministic sandbox tenant file.",
    )
    parser.add_argument("--lists", type=int, required=True, help="number of distribution lists")
    parser.add_argument("--users", type=int, required=True, help="number of users")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, help="tenant file to write (default: stdout)")
    args = parser.parse_args(argv)
    data = generate_tenant(args.lists, args.users, args.seed)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    if args.out is None:
        sys.stdout.write(text + "\n")
    else:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
