"""Settings come from DLBOT_ variables; .env.example documents every one of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bot.settings import Settings
from exchange.errors import ExchangeConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_lists_exactly_the_settings_there_are() -> None:
    documented = set(re.findall(r"^(DLBOT_[A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    fields = {f"DLBOT_{name.upper()}" for name in Settings.model_fields}
    assert documented == fields


def test_a_copy_of_env_example_with_a_secret_filled_in_configures_the_client(
    tmp_path: Path,
) -> None:
    """Its empty lines (a certificate path, a CA file) mean "not set", not the working
    directory, so a secret alone is one credential, not two."""
    filled = re.sub(
        r"^(DLBOT_EXCHANGE_(TENANT|CLIENT_ID|CLIENT_SECRET))=.*$",
        r"\1=value",
        (ROOT / ".env.example").read_text(),
        flags=re.M,
    )
    (tmp_path / ".env").write_text(filled)

    settings = Settings(_env_file=tmp_path / ".env")
    config = settings.exchange()

    assert settings.exchange_certificate_path is None and settings.exchange_ca_file is None
    assert config.client_secret is not None


def test_missing_exchange_settings_are_named() -> None:
    with pytest.raises(ExchangeConfigError) as caught:
        Settings(_env_file=None).exchange()
    assert "DLBOT_EXCHANGE_TENANT" in caught.value.message
    assert "DLBOT_EXCHANGE_CLIENT_SECRET or DLBOT_EXCHANGE_CERTIFICATE_PATH" in caught.value.message


def test_two_credentials_at_once_are_refused(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        exchange_tenant="t",
        exchange_client_id="c",
        exchange_client_secret=SecretStr("s"),
        exchange_certificate_path=tmp_path / "x.pem",
    )
    with pytest.raises(ExchangeConfigError, match="only one"):
        settings.exchange()


def test_the_environment_configures_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLBOT_EXCHANGE_TENANT", "contoso.onmicrosoft.com")
    monkeypatch.setenv("DLBOT_EXCHANGE_CLIENT_ID", "app")
    monkeypatch.setenv("DLBOT_EXCHANGE_CLIENT_SECRET", "hunter2")
    monkeypatch.setenv("DLBOT_EXCHANGE_BASE_URL", "https://outlook.office365.us")

    config = Settings(_env_file=None).exchange()

    assert config.invoke_url == (
        "https://outlook.office365.us/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
    )
    assert config.authority == "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    assert "hunter2" not in repr(config)


@pytest.mark.parametrize("hours", [-1, 5, 7, 25])
def test_a_sync_interval_that_does_not_divide_the_day_is_refused(hours: int) -> None:
    with pytest.raises(ValidationError, match="divide 24"):
        Settings(_env_file=None, sync_lists_hours=hours)


def test_syncs_run_every_12_hours_for_lists_and_every_4_for_people_by_default() -> None:
    settings = Settings(_env_file=None)

    assert (settings.sync_lists_hours, settings.sync_people_hours) == (12, 4)
