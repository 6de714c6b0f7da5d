"""Checks against Exchange Online: settings, a token from Entra ID, the role, the owner bypass."""

from __future__ import annotations

import base64
import json
import re
import ssl
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509

from bot.doctor.core import CheckResult, DoctorContext, fail, ok, one_line, skip, warn
from bot.doctor.deployment import is_guid
from bot.doctor.probes import (
    ADD_MEMBER,
    BOT_CMDLETS,
    MEMBERSHIP_CMDLETS,
    NEW_GROUP,
    READ_CMDLETS,
    REMOVE_MEMBER,
    Bypass,
    Verdict,
    probe_role,
)
from exchange.auth import load_certificate_credential
from exchange.config import ExchangeConfig
from exchange.errors import ExchangeAuthError, ExchangeConfigError

MANAGE_AS_APP = "Exchange.ManageAsApp"
# Doctor answers in seconds: a throttled or unreachable Exchange is reported, not waited out.
DOCTOR_MAX_RETRIES = 2
DOCTOR_TIMEOUT_SECONDS = 30.0  # every probe reads at most one object
CERTIFICATE_WARNING_DAYS = 30
_TENANT_DOMAIN = re.compile(r"(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}")

ROLE_FIX = (
    "Assign the Exchange Recipient Administrator role to the app's service principal (Entra ID > "
    "Roles and administrators), or add these cmdlets to the custom Exchange role group assigned "
    "to it (New-ManagementRoleAssignment -App <service principal id> -Role <role>); role changes "
    "can take up to an hour to apply."
)


# --- 3. settings --------------------------------------------------------------------------------


async def check_exchange_settings(context: DoctorContext) -> CheckResult:
    settings = context.settings
    try:
        config = settings.exchange()
    except ExchangeConfigError as exc:
        return fail(
            one_line(exc.message),
            "Set them in the environment or .env (see .env.example): the Exchange app "
            "registration's Directory (tenant) ID, Application (client) ID, and a client secret "
            "or a certificate.",
        )
    problems: list[str] = []
    fixes: list[str] = []
    if not is_guid(config.client_id):
        problems.append(
            f"DLBOT_EXCHANGE_CLIENT_ID is not a GUID ({len(config.client_id)} characters)"
        )
        fixes.append(
            "Copy the Application (client) ID from Entra ID > App registrations > your dlbot "
            "app > Overview."
        )
    if not (is_guid(config.tenant) or _TENANT_DOMAIN.fullmatch(config.tenant)):
        problems.append("DLBOT_EXCHANGE_TENANT is neither a GUID nor a domain name")
        fixes.append(
            "Set it to the Directory (tenant) ID (Entra ID > Overview) or the initial domain "
            "(contoso.onmicrosoft.com)."
        )
    for variable, path in (
        ("DLBOT_EXCHANGE_CERTIFICATE_PATH", config.certificate_path),
        ("DLBOT_EXCHANGE_CA_FILE", config.ca_file),
    ):
        if path is not None and not path.is_file():
            problems.append(f"{variable} {str(path)!r} does not exist or is not a file")
            fixes.append(f"Point {variable} at the file (an absolute path is safest).")
    for variable, url in (
        ("DLBOT_EXCHANGE_BASE_URL", config.base_url),
        ("DLBOT_EXCHANGE_AUTHORITY", config.authority_host),
    ):
        if not url.lower().startswith("https://"):
            problems.append(f"{variable} {url!r} is not an https URL")
            fixes.append(f"Set {variable} to its https default (see .env.example) or your cloud's.")
    if problems:
        return fail("; ".join(problems), " ".join(fixes))
    context.exchange_config = config.model_copy(
        update={
            "max_retries": min(config.max_retries, DOCTOR_MAX_RETRIES),
            "timeout_seconds": min(config.timeout_seconds, DOCTOR_TIMEOUT_SECONDS),
        }
    )
    credential = (
        "a client secret"
        if config.client_secret is not None
        else f"the certificate {str(config.certificate_path)!r}"
    )
    return ok(
        f"tenant {config.tenant}, app {config.client_id}, {credential}, Exchange at "
        f"{config.base_url}"
    )


# --- 4. token -----------------------------------------------------------------------------------


async def check_exchange_token(context: DoctorContext) -> CheckResult:
    config = context.exchange_config
    if config is None:
        return skip("not checked: the Exchange settings are not usable")
    try:
        client = context.exchange_client(config)
    except ExchangeAuthError as exc:
        return _token_refused(exc, config)
    except ExchangeConfigError as exc:
        return _certificate_unreadable(exc)
    except (OSError, ssl.SSLError) as exc:
        return fail(
            f"can't read the CA file DLBOT_EXCHANGE_CA_FILE: {type(exc).__name__}",
            "Point DLBOT_EXCHANGE_CA_FILE at a readable PEM bundle, or leave it empty to trust "
            "the system's certificate authorities.",
        )
    context.stack.push_async_callback(client.aclose)
    try:
        token = await client.tokens.token()
    except ExchangeAuthError as exc:
        return _token_refused(exc, config)
    context.client = client
    roles = _token_roles(token)
    if roles is not None and MANAGE_AS_APP not in roles:
        return fail(
            f"Entra ID issued a token, but without the {MANAGE_AS_APP} permission, so Exchange "
            "will refuse every call",
            f"In Entra ID > App registrations > your dlbot app ({config.client_id}) > API "
            f"permissions, add Office 365 Exchange Online > Application permissions > "
            f"{MANAGE_AS_APP}, then Grant admin consent.",
        )
    summary = (
        f"Entra ID issued a token with {MANAGE_AS_APP} to app {config.client_id} in tenant "
        f"{config.tenant}"
    )
    expiry = _certificate_expiry(config)
    if expiry is not None and expiry - datetime.now(UTC) < timedelta(days=CERTIFICATE_WARNING_DAYS):
        return warn(
            f"{summary}; but the certificate expires on {expiry:%Y-%m-%d}",
            "Create a new certificate now, upload its public part to the app registration "
            "(Certificates & secrets > Certificates) and point DLBOT_EXCHANGE_CERTIFICATE_PATH "
            "at it.",
        )
    return ok(summary)


def _token_refused(exc: ExchangeAuthError, config: ExchangeConfig) -> CheckResult:
    app = f"Entra ID > App registrations > your dlbot app ({config.client_id})"
    code = exc.code
    if code == "certificate_expired":
        # The message names the file and the date; what follows the ';' is our own advice.
        return fail(
            one_line(exc.message.split(";", 1)[0]),
            f"Create a new certificate, upload its public part in {app} > Certificates & "
            "secrets > Certificates, and point DLBOT_EXCHANGE_CERTIFICATE_PATH at the new file.",
        )
    if code == "AADSTS7000215":
        return fail(
            "Entra ID refused the client secret (AADSTS7000215: invalid client secret)",
            f"Create a new client secret in {app} > Certificates & secrets and set "
            "DLBOT_EXCHANGE_CLIENT_SECRET to its Value (not its Secret ID).",
        )
    if code == "AADSTS7000222":
        return fail(
            "the client secret has expired (AADSTS7000222)",
            f"Create a new client secret in {app} > Certificates & secrets and set "
            "DLBOT_EXCHANGE_CLIENT_SECRET to its Value.",
        )
    if code == "AADSTS700016":
        return fail(
            f"Entra ID knows no app {config.client_id} in tenant {config.tenant} (AADSTS700016)",
            "Set DLBOT_EXCHANGE_CLIENT_ID to the Application (client) ID on the app "
            "registration's Overview page, and DLBOT_EXCHANGE_TENANT to the tenant it is "
            "registered in.",
        )
    if code in ("AADSTS90002", "AADSTS900023") or exc.error in ("invalid_authority",):
        return fail(
            f"Entra ID at {config.authority_host} knows no tenant {config.tenant!r} "
            f"({code or exc.error})",
            "Set DLBOT_EXCHANGE_TENANT to the Directory (tenant) ID (Entra ID > Overview) or the "
            "initial domain (contoso.onmicrosoft.com), and DLBOT_EXCHANGE_AUTHORITY to "
            "https://login.microsoftonline.com (https://login.microsoftonline.us for US "
            "Government).",
        )
    if code == "AADSTS700027":
        return fail(
            "Entra ID doesn't accept the certificate: it is not registered with the app "
            "(AADSTS700027)",
            f"Upload the certificate's public part in {app} > Certificates & secrets > "
            "Certificates, or point DLBOT_EXCHANGE_CERTIFICATE_PATH at the one registered there.",
        )
    if code == "AADSTS7000229":
        return fail(
            "the app has no service principal in the tenant (AADSTS7000229)",
            f"Grant admin consent in {app} > API permissions, which creates it.",
        )
    if code == "AADSTS700024":
        return fail(
            "Entra ID says the certificate's signed assertion is outside its valid time "
            "(AADSTS700024)",
            "Set this machine's clock right (NTP); the assertion is stamped with it.",
        )
    if exc.error == "authority_unreachable":
        reason = _connection_reason(exc.message)
        fix = (
            "Check DLBOT_EXCHANGE_AUTHORITY (https://login.microsoftonline.com; "
            "https://login.microsoftonline.us for US Government) and that this machine reaches it "
            "over HTTPS (proxy, firewall)."
        )
        if reason == "its TLS certificate isn't trusted":
            fix = (
                "Trust the certificate: a TLS-inspecting proxy's CA goes in "
                "DLBOT_EXCHANGE_CA_FILE. " + fix
            )
        return fail(f"can't reach Entra ID at {config.authority_host}: {reason}", fix)
    described = code or exc.error or "no error code"
    digits = code.removeprefix("AADSTS")
    lookup = (
        f"Look up the code at https://login.microsoftonline.com/error?code={digits} and"
        if digits.isdigit()
        else "Read Entra ID's reason and"
    )
    return fail(
        f"Entra ID refused the token request ({described}): {one_line(exc.message)}",
        f"{lookup} correct the app registration or the DLBOT_EXCHANGE_* setting it names.",
    )


def _certificate_unreadable(exc: ExchangeConfigError) -> CheckResult:
    return fail(
        one_line(exc.message),
        "Check DLBOT_EXCHANGE_CERTIFICATE_PASSWORD is the file's password, and that the file is "
        "a PFX/P12, or a PEM holding both the private key and the certificate.",
    )


def _connection_reason(message: str) -> str:
    text = message.lower()
    if "certificate verify failed" in text or "sslerror" in text:
        return "its TLS certificate isn't trusted"
    if (
        "name or service not known" in text
        or "nodename nor servname" in text
        or ("name resolution" in text)
    ):
        return "its host name doesn't resolve"
    if "refused" in text:
        return "the connection was refused"
    if "timed out" in text or "timeout" in text:
        return "the connection timed out"
    return "the connection failed"


def _token_roles(token: str) -> list[str] | None:
    """The `roles` claim of a JWT access token, or None when the token can't be read."""
    try:
        payload = token.split(".")[1]
        claims: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    roles = claims.get("roles")
    return [str(r) for r in roles] if isinstance(roles, list) else []


def _certificate_expiry(config: ExchangeConfig) -> datetime | None:
    if config.certificate_path is None:
        return None
    password = config.certificate_password
    try:
        credential = load_certificate_credential(
            config.certificate_path, password.get_secret_value() if password else None
        )
        certificate = x509.load_pem_x509_certificate(credential["public_certificate"].encode())
    except (ExchangeConfigError, ExchangeAuthError, OSError, ValueError):
        return None
    return certificate.not_valid_after_utc


# --- 5. the role --------------------------------------------------------------------------------


async def check_exchange_role(context: DoctorContext) -> CheckResult:
    client, config = context.client, context.exchange_config
    if client is None or config is None:
        return skip("not checked: no Exchange token")
    report = await probe_role(client)
    context.probes = report
    changed = report.changed()
    if changed:
        what = "; ".join(p.changed for p in changed)
        return fail(
            f"a probe changed the directory, which Exchange should never have allowed: {what}",
            "Undo that change in the Exchange admin center, and report it: the probes are built "
            "to be refused.",
        )
    unknown = report.unknown()
    if unknown:
        first = unknown[0]
        return fail(
            f"Exchange at {config.base_url} didn't answer {first.cmdlet}: "
            f"{one_line(first.evidence)}",
            "Check DLBOT_EXCHANGE_BASE_URL (https://outlook.office365.com; outlook.office365.us "
            "for GCC High) and that this machine reaches it over HTTPS; if Exchange was "
            "throttling, run dlbot doctor again in a few minutes.",
        )
    denied = report.denied()
    if len(denied) == len(BOT_CMDLETS):
        return fail(
            f"the app may call none of the cmdlets dlbot uses ({one_line(denied[0].evidence)})",
            ROLE_FIX,
        )
    if denied:
        names = ", ".join(p.cmdlet for p in denied)
        reason = one_line(denied[0].evidence)
        return fail(f"the app's role doesn't allow {names} ({reason})", ROLE_FIX)
    add, remove = report.probes[ADD_MEMBER], report.probes[REMOVE_MEMBER]
    where = f" on {report.list_probed}" if report.list_probed else ""
    return ok(
        f"all {len(BOT_CMDLETS)} cmdlets dlbot uses are allowed: {len(READ_CMDLETS)} reads with "
        f"ResultSize 1; {ADD_MEMBER} {add.evidence} and {REMOVE_MEMBER} {remove.evidence}{where}; "
        f"{NEW_GROUP} {report.probes[NEW_GROUP].evidence}; nothing was changed"
    )


# --- 6. BypassSecurityGroupManagerCheck ---------------------------------------------------------


async def check_group_manager_bypass(context: DoctorContext) -> CheckResult:
    report = context.probes
    if report is None:
        return skip("not checked: the role check didn't run")
    probes = [report.probes[c] for c in MEMBERSHIP_CMDLETS if c in report.probes]
    refused = [p for p in probes if p.bypass is Bypass.REFUSED]
    if refused:
        names = " and ".join(p.cmdlet for p in refused)
        return fail(
            f"{names} answered OperationRequiresGroupManagerException although "
            "BypassSecurityGroupManagerCheck was sent: the role lacks the Security Group "
            "Creation and Membership permissions, so the bot could change only lists it owns",
            "Give the app's service principal the Exchange Recipient Administrator role, or add "
            'the "Security Group Creation and Membership" role to its custom role group.',
        )
    proven = [p for p in probes if p.bypass is Bypass.PROVEN]
    if proven:
        names = " and ".join(p.cmdlet for p in proven)
        return ok(
            f"BypassSecurityGroupManagerCheck accepted by {names} on {report.list_probed}, a "
            "list the app doesn't manage"
        )
    if probes and all(p.verdict is not Verdict.ALLOWED for p in probes):
        return skip(
            f"not checked: {ADD_MEMBER} and {REMOVE_MEMBER} were not allowed or didn't answer "
            "(see the Exchange role line)"
        )
    if not report.list_probed:
        return warn(
            "couldn't prove it: the tenant has no distribution list (not synced from "
            "on-premises) to probe",
            "Run dlbot doctor again once the tenant has a cloud distribution list.",
        )
    answers = "; ".join(f"{p.cmdlet} {one_line(p.evidence, 120)}" for p in probes)
    return warn(
        f"couldn't prove it on {report.list_probed}: {answers}",
        "Try it by hand, which changes nothing: dlbot exchange call Remove-DistributionGroupMember "
        f"Identity={report.list_probed} Member={report.list_probed} "
        'BypassSecurityGroupManagerCheck:=true Confirm:=false (expect "isn\'t a member").',
    )
