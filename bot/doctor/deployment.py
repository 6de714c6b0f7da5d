"""Checks of the settings alone: the bot's credentials and the messaging endpoint (no network)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from bot.doctor.core import CheckResult, DoctorContext, fail, ok

GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# A value that looks like a domain name is worth echoing; anything else might be a pasted secret.
_DOMAIN = re.compile(r"(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}")
MESSAGES_PATH = "/api/messages"


def is_guid(value: str) -> bool:
    return GUID.fullmatch(value.strip()) is not None


async def check_bot_credentials(context: DoctorContext) -> CheckResult:
    settings = context.settings
    problems: list[str] = []
    fixes: list[str] = []
    app_id = settings.bot_app_id.strip()
    password = settings.bot_app_password
    has_password = password is not None and bool(password.get_secret_value())
    if not app_id and not has_password:
        problems.append(
            "DLBOT_BOT_APP_ID and DLBOT_BOT_APP_PASSWORD are not set, so the bot would accept "
            "unauthenticated activities from anyone (a local demo only)"
        )
        fixes.append(
            "Set DLBOT_BOT_APP_ID to the Azure Bot's Microsoft App ID (Azure Bot > Configuration) "
            "and DLBOT_BOT_APP_PASSWORD to a client secret of that app registration."
        )
    else:
        if not app_id:
            problems.append("DLBOT_BOT_APP_ID is not set, so the bot would run unauthenticated")
            fixes.append(
                "Set DLBOT_BOT_APP_ID to the Azure Bot's Microsoft App ID (Azure Bot > "
                "Configuration)."
            )
        elif not is_guid(app_id):
            # Not echoed: a value in the wrong variable could be a secret.
            problems.append(f"DLBOT_BOT_APP_ID is not a GUID ({len(app_id)} characters)")
            fixes.append(
                "Copy the Microsoft App ID from Azure Bot > Configuration; it looks like "
                "00000000-0000-0000-0000-000000000000."
            )
        if not has_password:
            problems.append(
                "DLBOT_BOT_APP_PASSWORD is not set, so the bot can't prove itself to the Bot "
                "Connector and its replies would be refused"
            )
            fixes.append(
                "Create a client secret for the bot's app registration (Entra ID > App "
                "registrations > the bot's app > Certificates & secrets) and set "
                "DLBOT_BOT_APP_PASSWORD to its Value."
            )
    tenant_id = settings.bot_app_tenant_id.strip()
    if tenant_id and not is_guid(tenant_id):
        problems.append(f"DLBOT_BOT_APP_TENANT_ID is not a GUID ({_shown(tenant_id)})")
        fixes.append(
            "Set DLBOT_BOT_APP_TENANT_ID to the Directory (tenant) ID of the bot's app "
            "registration, or leave it empty for a multi-tenant bot."
        )
    tenants = sorted(settings.allowed_tenant_ids())
    source = "DLBOT_ALLOWED_TENANTS" if settings.allowed_tenants else "DLBOT_EXCHANGE_TENANT"
    if not tenants:
        problems.append(
            "neither DLBOT_ALLOWED_TENANTS nor DLBOT_EXCHANGE_TENANT is set, so the bot would "
            "refuse every tenant"
        )
        fixes.append(
            "Set DLBOT_ALLOWED_TENANTS to your tenant's ID (Entra ID > Overview > Tenant ID)."
        )
    elif not all(is_guid(t) for t in tenants):
        wrong = ", ".join(_shown(t) for t in tenants if not is_guid(t))
        problems.append(
            f"{source} lists {wrong}, which never matches: Teams names a tenant by its GUID"
        )
        fixes.append(
            "Set DLBOT_ALLOWED_TENANTS to the tenant ID GUID (Entra ID > Overview > Tenant ID), "
            "comma-separated when there are several."
        )
    if problems:
        return fail("; ".join(problems), " ".join(fixes))
    listed = ", ".join(tenants)
    return ok(
        f"app id {app_id}, password set, activities accepted from tenant(s) {listed} ({source})"
    )


def _shown(value: str) -> str:
    value = value.strip()
    if is_guid(value) or _DOMAIN.fullmatch(value):
        return repr(value)
    return f"a value of {len(value)} characters"


async def check_messaging_endpoint(context: DoctorContext) -> CheckResult:
    raw = context.settings.public_url.strip()
    set_endpoint = (
        "and set the Azure Bot's messaging endpoint (Azure Bot > Configuration) to that URL "
        f"followed by {MESSAGES_PATH}."
    )
    if not raw:
        return fail(
            "DLBOT_PUBLIC_URL is not set, so there is no messaging endpoint for Teams to post to",
            "Set DLBOT_PUBLIC_URL to the bot's public https base URL (https://dlbot.contoso.com) "
            + set_endpoint,
        )
    try:
        parts = urlsplit(raw)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return fail(
            "DLBOT_PUBLIC_URL is not a URL",
            "Set it to the bot's public https base URL (https://dlbot.contoso.com) " + set_endpoint,
        )
    if parts.username is not None or parts.password is not None:
        # Not echoed: it carries credentials.
        return fail(
            "DLBOT_PUBLIC_URL carries a user name or password",
            "Remove the credentials from DLBOT_PUBLIC_URL: Teams authenticates with a token, "
            "never with credentials in the URL.",
        )
    shown = f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else raw
    if parts.scheme.lower() != "https":
        return fail(
            f"DLBOT_PUBLIC_URL {shown!r} is not https: Teams only posts to https endpoints",
            "Serve the bot behind TLS (a reverse proxy, Azure App Service, a tunnel) and set "
            "DLBOT_PUBLIC_URL to its https:// address.",
        )
    if not host:
        return fail(
            f"DLBOT_PUBLIC_URL {shown!r} names no host",
            "Set it to the bot's public https base URL (https://dlbot.contoso.com).",
        )
    if _local_only(host):
        return fail(
            f"DLBOT_PUBLIC_URL points at {host}, which Teams can't reach: it posts from the "
            "internet",
            "Set DLBOT_PUBLIC_URL to the public https address in front of this bot (reverse "
            "proxy, App Service or tunnel), not a local or private address.",
        )
    if parts.query or parts.fragment:
        return fail(
            "DLBOT_PUBLIC_URL has a query or fragment",
            "Set it to the base URL alone (https://dlbot.contoso.com).",
        )
    path = parts.path.rstrip("/")
    if path.lower().endswith(MESSAGES_PATH):
        return fail(
            f"DLBOT_PUBLIC_URL {shown!r} already ends in {MESSAGES_PATH}; it is the base URL",
            f"Drop {MESSAGES_PATH} from DLBOT_PUBLIC_URL; the bot adds it.",
        )
    netloc = host if port is None else f"{host}:{port}"
    endpoint = f"https://{netloc}{path}{MESSAGES_PATH}"
    return ok(
        f"set the Azure Bot's messaging endpoint (Azure Bot > Configuration) to {endpoint} "
        "(not called from here)"
    )


def _local_only(host: str) -> bool:
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return (
        address.is_loopback
        or address.is_private
        or address.is_unspecified
        or address.is_link_local
        or address.is_reserved
    )
