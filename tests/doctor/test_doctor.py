"""`dlbot doctor`: a passing deployment, then each failure it names, each made real."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path

import pytest

from bot.doctor import CHECKS, Check, Status, run_doctor
from bot.doctor.core import CheckResult, DoctorContext, fail, ok, run_checks
from bot.doctor.probes import ADD_MEMBER, BOT_CMDLETS, NEW_GROUP, REMOVE_MEMBER
from exchange.client import ExchangeClient
from exchange.config import ExchangeConfig
from exchange.models import MembershipChange, MembershipOutcome
from exchange.sandbox.faults import Fault
from exchange.sandbox.server import SandboxServer
from exchange.sandbox.tls import PFX_PASSWORD
from tests.certs import app_certificate, write_pem
from tests.doctor.conftest import (
    PUBLIC_URL,
    SettingsFactory,
    assert_no_secret,
    free_port,
    membership,
    redis_server,
    run_doctor_on,
)
from tests.exchange.conftest import DEMO_APP_ID

EVERY_CHECK = [check.name for check in CHECKS]


# --- a deployment that passes ------------------------------------------------------------------


async def test_a_complete_configuration_passes_every_check_and_changes_nothing(
    sandbox: SandboxServer, make_settings: SettingsFactory
) -> None:
    before = membership(sandbox.tenant)
    out = io.StringIO()

    code = await run_doctor(make_settings(), out=out)

    text = out.getvalue()
    lines = text.splitlines()
    assert code == 0
    assert [line.split()[0] for line in lines[:-1]] == ["ok"] * len(CHECKS)
    assert f"{PUBLIC_URL}/api/messages" in lines[1]
    assert "all 8 cmdlets dlbot uses are allowed" in lines[4]
    assert lines[-1].startswith("dlbot doctor: 7 ok")
    assert membership(sandbox.tenant) == before
    writes = [r for r in sandbox.requests if r.cmdlet in (ADD_MEMBER, REMOVE_MEMBER)]
    assert len(writes) == 2
    assert all((r.parameters or {}).get("BypassSecurityGroupManagerCheck") is True for r in writes)
    assert all(r.status == 400 for r in sandbox.requests if r.cmdlet == NEW_GROUP)
    assert_no_secret(text)


async def test_a_certificate_close_to_expiry_passes_with_a_warning(
    sandbox: SandboxServer, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    path = _certificate_file(sandbox, tmp_path, days_valid=10)

    report = await run_doctor_on(
        make_settings(exchange_client_secret=None, exchange_certificate_path=path)
    )

    assert report.code == 0
    assert report.status("exchange-token") is Status.WARN
    assert "the certificate expires on" in report.line("exchange-token")
    assert "DLBOT_EXCHANGE_CERTIFICATE_PATH" in report.line("exchange-token")


# --- Exchange: the token -----------------------------------------------------------------------


async def test_a_wrong_client_secret_is_named_with_where_to_make_a_new_one(
    sandbox: SandboxServer, make_settings: SettingsFactory
) -> None:
    wrong = "Wr0ng-secret-left-over-from-the-old-deployment"

    report = await run_doctor_on(make_settings(exchange_client_secret=wrong))

    assert report.code == 1
    assert report.failed() == ["exchange-token"]
    line = report.line("exchange-token")
    assert "refused the client secret (AADSTS7000215" in line
    assert "Certificates & secrets" in line and "DLBOT_EXCHANGE_CLIENT_SECRET" in line
    assert report.status("exchange-role") is Status.SKIP
    assert report.status("group-manager-bypass") is Status.SKIP
    assert "Exchange token check failed" in report.line("exchange-role")
    assert sandbox.requests == []
    assert_no_secret(report.text, wrong)


async def test_an_unknown_app_is_named_with_where_its_client_id_is(
    make_settings: SettingsFactory,
) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"

    report = await run_doctor_on(make_settings(exchange_client_id=unknown))

    assert report.code == 1
    assert report.failed() == ["exchange-token"]
    line = report.line("exchange-token")
    assert f"knows no app {unknown}" in line and "AADSTS700016" in line
    assert "DLBOT_EXCHANGE_CLIENT_ID" in line and "Application (client) ID" in line
    assert_no_secret(report.text)


async def test_a_wrong_tenant_is_named_with_what_to_set_instead(
    sandbox: SandboxServer, make_settings: SettingsFactory
) -> None:
    report = await run_doctor_on(make_settings(exchange_tenant="fabrikam.onmicrosoft.com"))

    assert report.code == 1
    assert report.failed() == ["exchange-token"]
    line = report.line("exchange-token")
    assert "knows no tenant 'fabrikam.onmicrosoft.com'" in line and "AADSTS90002" in line
    assert "DLBOT_EXCHANGE_TENANT" in line and "Directory (tenant) ID" in line
    assert_no_secret(report.text)


async def test_an_expired_certificate_is_named_with_its_date(
    sandbox: SandboxServer, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    path = _certificate_file(sandbox, tmp_path, days_valid=-1)
    expired_on = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%d")

    report = await run_doctor_on(
        make_settings(exchange_client_secret=None, exchange_certificate_path=path)
    )

    assert report.code == 1
    assert report.failed() == ["exchange-token"]
    line = report.line("exchange-token")
    assert f"expired on {expired_on}" in line
    assert "upload its public part" in line and "DLBOT_EXCHANGE_CERTIFICATE_PATH" in line
    assert sandbox.requests == [] and sandbox.tokens_issued == 0
    assert_no_secret(report.text)


async def test_a_pfx_that_cannot_be_read_names_the_password_setting(
    sandbox: SandboxServer, make_settings: SettingsFactory
) -> None:
    wrong_password = "not-the-pfx-password-9c1d"
    settings = make_settings(
        exchange_client_secret=None,
        exchange_certificate_path=sandbox.keys.client_pfx_file,
        exchange_certificate_password=wrong_password,
    )

    report = await run_doctor_on(settings)

    assert report.code == 1
    assert report.failed() == ["exchange-token"]
    line = report.line("exchange-token")
    assert "cannot read the certificate" in line and "client-cert.pfx" in line
    assert "DLBOT_EXCHANGE_CERTIFICATE_PASSWORD" in line
    assert_no_secret(report.text, wrong_password)


async def test_the_same_pfx_with_its_password_passes(
    sandbox: SandboxServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(
        exchange_client_secret=None,
        exchange_certificate_path=sandbox.keys.client_pfx_file,
        exchange_certificate_password=PFX_PASSWORD,
    )

    report = await run_doctor_on(settings)

    assert report.code == 0, report.text
    assert_no_secret(report.text, PFX_PASSWORD)


async def test_an_unreachable_authority_is_named(make_settings: SettingsFactory) -> None:
    closed = f"https://127.0.0.1:{free_port()}"

    report = await run_doctor_on(make_settings(exchange_authority=closed))

    assert report.code == 1
    assert report.failed() == ["exchange-token"]
    line = report.line("exchange-token")
    assert f"can't reach Entra ID at {closed}: the connection was refused" in line
    assert "DLBOT_EXCHANGE_AUTHORITY" in line


async def test_a_token_without_exchange_manage_as_app_names_the_api_permission(
    sandbox: SandboxServer, make_settings: SettingsFactory
) -> None:
    # What Entra ID issues when the permission was never added or never consented to.
    token, _ = sandbox.tokens.mint(DEMO_APP_ID, overrides={"roles": []})

    def client_with_that_token(config: ExchangeConfig) -> ExchangeClient:
        return ExchangeClient(config, tokens=_FixedToken(token))

    report = await run_doctor_on(make_settings(), exchange_client=client_with_that_token)

    assert report.code == 1
    assert report.failed() == ["exchange-token"]
    line = report.line("exchange-token")
    assert "without the Exchange.ManageAsApp permission" in line
    assert "API permissions" in line and "Grant admin consent" in line
    assert token not in report.text


# --- Exchange: the role ------------------------------------------------------------------------


async def test_a_role_without_add_member_names_the_cmdlet_and_the_role_to_assign(
    sandbox: SandboxServer, make_settings: SettingsFactory
) -> None:
    sandbox.tenant.apps[DEMO_APP_ID].granted_cmdlets = set(BOT_CMDLETS) - {ADD_MEMBER}
    before = membership(sandbox.tenant)

    report = await run_doctor_on(make_settings())

    assert report.code == 1
    assert report.failed() == ["exchange-role"]
    line = report.line("exchange-role")
    assert f"the app's role doesn't allow {ADD_MEMBER} (HTTP 403" in line
    assert "User is not allowed to call Add-DistributionGroupMember" in line
    assert "Exchange Recipient Administrator" in line and "custom Exchange role group" in line
    # Remove-DistributionGroupMember still proves the bypass switch works.
    assert report.status("group-manager-bypass") is Status.OK
    assert membership(sandbox.tenant) == before
    assert_no_secret(report.text)


async def test_an_empty_403_on_every_cmdlet_is_read_from_its_diagnostics_header(
    sandbox: SandboxServer, make_settings: SettingsFactory
) -> None:
    sandbox.inject(Fault("empty_403"))
    before = membership(sandbox.tenant)

    report = await run_doctor_on(make_settings())

    assert report.code == 1
    assert report.failed() == ["exchange-role"]
    line = report.line("exchange-role")
    assert "the app may call none of the cmdlets dlbot uses (HTTP 403" in line
    assert "isn't supported in this scenario" in line
    assert "Exchange Recipient Administrator" in line
    assert report.status("group-manager-bypass") is Status.SKIP
    assert membership(sandbox.tenant) == before
    assert_no_secret(report.text)


async def test_a_role_that_cannot_bypass_the_group_manager_check_says_which_permission(
    sandbox: SandboxServer, make_settings: SettingsFactory
) -> None:
    before = membership(sandbox.tenant)

    report = await run_doctor_on(make_settings(), exchange_client=_ClientIgnoringBypass)

    assert report.code == 1
    assert report.failed() == ["group-manager-bypass"]
    line = report.line("group-manager-bypass")
    assert "OperationRequiresGroupManagerException" in line
    assert "Security Group Creation and Membership" in line
    assert membership(sandbox.tenant) == before


async def test_an_exchange_that_does_not_answer_is_named_with_the_base_url(
    make_settings: SettingsFactory,
) -> None:
    closed = f"https://127.0.0.1:{free_port()}"

    report = await run_doctor_on(make_settings(exchange_base_url=closed))

    assert report.code == 1
    assert report.failed() == ["exchange-role"]
    line = report.line("exchange-role")
    assert f"Exchange at {closed} didn't answer" in line and "DLBOT_EXCHANGE_BASE_URL" in line
    assert report.status("group-manager-bypass") is Status.SKIP


# --- the bot's own settings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public_url", "named", "fixed"),
    [
        ("", "DLBOT_PUBLIC_URL is not set", "Azure Bot's messaging endpoint"),
        ("http://dlbot.contoso.com", "is not https", "https://"),
        ("https://localhost:3978", "points at localhost, which Teams can't reach", "public"),
        ("https://127.0.0.1", "points at 127.0.0.1", "not a local or private address"),
        ("https://dlbot.contoso.com/api/messages", "already ends in /api/messages", "Drop"),
    ],
)
async def test_a_messaging_endpoint_teams_cannot_use_is_named(
    make_settings: SettingsFactory, public_url: str, named: str, fixed: str
) -> None:
    report = await run_doctor_on(make_settings(public_url=public_url))

    assert report.code == 1
    assert report.failed() == ["messaging-endpoint"]
    assert named in report.line("messaging-endpoint")
    assert fixed in report.results["messaging-endpoint"].fix
    assert_no_secret(report.text)


async def test_a_missing_bot_app_id_is_a_failure_because_the_bot_would_be_open(
    make_settings: SettingsFactory,
) -> None:
    report = await run_doctor_on(make_settings(bot_app_id=""))

    assert report.code == 1
    assert report.failed() == ["bot-credentials"]
    line = report.line("bot-credentials")
    assert "DLBOT_BOT_APP_ID is not set, so the bot would run unauthenticated" in line
    assert "Azure Bot > Configuration" in line
    assert_no_secret(report.text)


async def test_no_bot_credentials_at_all_says_the_bot_would_accept_anyone(
    make_settings: SettingsFactory,
) -> None:
    report = await run_doctor_on(make_settings(bot_app_id="", bot_app_password=None))

    assert report.code == 1
    line = report.line("bot-credentials")
    assert "unauthenticated activities from anyone" in line
    assert "DLBOT_BOT_APP_PASSWORD" in line


async def test_a_tenant_given_as_a_domain_name_is_named_because_it_never_matches(
    make_settings: SettingsFactory,
) -> None:
    report = await run_doctor_on(make_settings(allowed_tenants="contoso.onmicrosoft.com"))

    assert report.code == 1
    assert report.failed() == ["bot-credentials"]
    line = report.line("bot-credentials")
    assert "'contoso.onmicrosoft.com', which never matches" in line
    assert "Tenant ID" in line


async def test_a_password_pasted_as_the_app_id_is_not_echoed(
    make_settings: SettingsFactory,
) -> None:
    pasted = "Q8x~s3cr3t.value-that-belongs-in-the-password"

    report = await run_doctor_on(make_settings(bot_app_id=pasted))

    assert report.code == 1
    assert "DLBOT_BOT_APP_ID is not a GUID" in report.line("bot-credentials")
    assert_no_secret(report.text, pasted)


async def test_missing_exchange_settings_are_named_and_the_exchange_checks_skipped(
    make_settings: SettingsFactory,
) -> None:
    report = await run_doctor_on(make_settings(exchange_client_id="", exchange_client_secret=None))

    assert report.code == 1
    assert report.failed() == ["exchange-settings"]
    line = report.line("exchange-settings")
    assert "DLBOT_EXCHANGE_CLIENT_ID" in line
    assert "DLBOT_EXCHANGE_CLIENT_SECRET or DLBOT_EXCHANGE_CERTIFICATE_PATH" in line
    skipped = ["exchange-token", "exchange-role", "group-manager-bypass"]
    assert [report.status(name) for name in skipped] == [Status.SKIP] * 3
    assert report.status("redis") is Status.OK


# --- Redis -------------------------------------------------------------------------------------


async def test_an_unreachable_redis_is_named_with_its_address(
    make_settings: SettingsFactory,
) -> None:
    port = free_port()  # closed again: nothing listens there

    report = await run_doctor_on(make_settings(redis_url=f"redis://127.0.0.1:{port}/0"))

    assert report.code == 1
    assert report.failed() == ["redis"]
    line = report.line("redis")
    assert f"can't reach Redis at 127.0.0.1:{port} db 0: connection refused" in line
    assert "DLBOT_REDIS_URL" in line


async def test_a_redis_without_persistence_fails_and_its_password_stays_hidden(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    password = "redis-password-never-shown-4f7e"
    with redis_server(
        tmp_path, "--appendonly", "no", "--save", "", "--requirepass", password
    ) as address:
        report = await run_doctor_on(make_settings(redis_url=f"redis://:{password}@{address}/2"))

    assert report.code == 1
    assert report.failed() == ["redis"]
    line = report.line("redis")
    assert f"at {address} db 2 answers but persists nothing" in line
    assert "appendonly yes" in line
    assert_no_secret(report.text, password)


async def test_a_redis_that_refuses_config_is_a_warning_with_where_to_look(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    # Azure Cache for Redis refuses CONFIG; an ACL that denies it is the same answer.
    with redis_server(
        tmp_path, "--appendonly", "no", "--user", "default", "on", "nopass", "~*", "&*", "+@all",
        "-config",
    ) as address:  # fmt: skip
        report = await run_doctor_on(make_settings(redis_url=f"redis://{address}/0"))

    assert report.code == 0
    assert report.status("redis") is Status.WARN
    line = report.line("redis")
    assert "persistence couldn't be checked" in line and "Data persistence" in line


async def test_a_redis_with_snapshots_only_is_a_warning(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    with redis_server(tmp_path, "--appendonly", "no", "--save", "3600 1") as address:
        report = await run_doctor_on(make_settings(redis_url=f"redis://{address}/0"))

    assert report.code == 0
    assert report.status("redis") is Status.WARN
    assert "RDB snapshots only" in report.line("redis")


async def test_a_redis_url_that_is_not_one_is_named_without_echoing_it(
    make_settings: SettingsFactory,
) -> None:
    url = "https://:hunter2-redis-password@cache.contoso.com:6380/0"

    report = await run_doctor_on(make_settings(redis_url=url))

    assert report.code == 1
    assert report.failed() == ["redis"]
    assert "DLBOT_REDIS_URL is not a Redis URL" in report.line("redis")
    assert_no_secret(report.text, "hunter2-redis-password")


async def test_no_redis_url_fails_because_production_needs_a_real_redis(
    make_settings: SettingsFactory,
) -> None:
    report = await run_doctor_on(make_settings(redis_url=""))

    assert report.code == 1
    assert report.failed() == ["redis"]
    line = report.line("redis")
    assert "dlbot serve would start a local redis-server" in line
    assert "production needs a real Redis" in line


# --- the runner --------------------------------------------------------------------------------


async def test_a_check_that_breaks_is_one_failure_and_the_rest_still_run(
    make_settings: SettingsFactory,
) -> None:
    async def broken(context: DoctorContext) -> CheckResult:
        raise RuntimeError(f"boom {BOT_PASSWORD_VALUE}")

    async def fine(context: DoctorContext) -> CheckResult:
        return ok("fine")

    async def dependent(context: DoctorContext) -> CheckResult:
        return fail("never run", "")

    context = DoctorContext(
        make_settings(bot_app_password=BOT_PASSWORD_VALUE),
        exchange_client=ExchangeClient,
        redis_client=lambda url: None,
    )
    checks = (
        Check("broken", "broken", broken),
        Check("after", "after", dependent, needs=("broken",)),
        Check("fine", "fine", fine),
    )

    results = await run_checks(context, checks)

    assert [r.status for r in results] == [Status.FAIL, Status.SKIP, Status.OK]
    assert "RuntimeError: boom ***" in results[0].summary
    assert "because the broken check failed" in results[1].summary


BOT_PASSWORD_VALUE = "a-bot-password-in-an-exception-message"


# --- helpers -----------------------------------------------------------------------------------


class _FixedToken:
    def __init__(self, token: str) -> None:
        self._token = token

    async def token(self) -> str:
        return self._token

    async def renew(self, stale: str) -> str:
        return self._token

    def close(self) -> None:
        pass


class _ClientIgnoringBypass(ExchangeClient):
    """Sends the membership cmdlets without BypassSecurityGroupManagerCheck.

    The sandbox answers OperationRequiresGroupManagerException exactly when the switch is
    missing; that is also Exchange's answer when the role cannot use the switch.
    """

    async def add_distribution_group_member(self, group: str, member: str) -> MembershipChange:
        await self.call_cmdlet(ADD_MEMBER, {"Identity": group, "Member": member})
        return MembershipChange(MembershipOutcome.ADDED, str(uuid.uuid4()))

    async def remove_distribution_group_member(self, group: str, member: str) -> MembershipChange:
        parameters = {"Identity": group, "Member": member, "Confirm": False}
        await self.call_cmdlet(REMOVE_MEMBER, parameters)
        return MembershipChange(MembershipOutcome.REMOVED, str(uuid.uuid4()))


def _certificate_file(sandbox: SandboxServer, directory: Path, *, days_valid: int) -> Path:
    """A PEM (key + certificate) registered with the demo app, valid for `days_valid` more days."""
    key, cert = app_certificate(days_valid=days_valid)
    sandbox.tokens.register_certificate(DEMO_APP_ID, cert)
    return write_pem(directory / "app.pem", key, cert)
