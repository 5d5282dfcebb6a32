"""Finding 2: no usable default secret. A generated 0600 key in the data directory, reused on
the next start; production refuses to start without KESU_SECRET_KEY; the old development
secret signs nothing that works."""

from __future__ import annotations

import json
import stat
from base64 import b64encode
from pathlib import Path

import itsdangerous
import pytest
from typer.testing import CliRunner

from kesu.config import SECRET_FILE, ConfigError, Settings
from kesu.web.app import create_app

OLD_DEV_SECRET = "kesu-development-secret-change-me"


def test_a_fresh_data_directory_gets_a_private_secret_reused_on_the_next_start(tmp_path):
    data = tmp_path / "data"
    first = Settings(environment="development", data_dir=data).session_secret()
    path = data / SECRET_FILE
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32 and first != OLD_DEV_SECRET
    again = Settings(environment="development", data_dir=data).session_secret()
    assert again == first
    other = Settings(environment="development", data_dir=tmp_path / "other").session_secret()
    assert other != first


def test_the_secret_lives_beside_the_sqlite_database_by_default(tmp_path):
    settings = Settings(environment="development", database_url=f"sqlite:///{tmp_path}/kesu.db")
    key = settings.session_secret()
    assert (tmp_path / SECRET_FILE).read_text().strip() == key


def test_production_without_a_key_refuses_to_start(tmp_path):
    settings = Settings(environment="production", data_dir=tmp_path)
    with pytest.raises(ConfigError, match="KESU_SECRET_KEY"):
        settings.session_secret()
    with pytest.raises(ConfigError, match="KESU_SECRET_KEY"):
        create_app(settings)
    assert not (tmp_path / SECRET_FILE).exists()
    key = "x" * 40
    assert Settings(environment="production", secret_key=key).session_secret() == key


def test_the_old_development_secret_is_refused_even_when_set(tmp_path):
    with pytest.raises(ConfigError):
        Settings(environment="development", secret_key=OLD_DEV_SECRET).session_secret()


def test_kesu_serve_stops_with_a_clear_message_in_production(tmp_path, monkeypatch):
    from kesu import cli, config

    monkeypatch.setenv("KESU_ENVIRONMENT", "production")
    monkeypatch.delenv("KESU_SECRET_KEY", raising=False)
    monkeypatch.setenv("KESU_DATABASE_URL", f"sqlite:///{tmp_path}/kesu.db")
    config.get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["serve"])
    finally:
        config.get_settings.cache_clear()
    assert result.exit_code == 2
    assert "KESU_SECRET_KEY" in result.output
    assert not Path(tmp_path / "kesu.db").exists()


def _cookie(secret: str, data: dict[str, object]) -> str:
    """A session cookie as Starlette's SessionMiddleware signs it."""
    payload = b64encode(json.dumps(data).encode())
    return itsdangerous.TimestampSigner(secret).sign(payload).decode()


def test_a_cookie_signed_with_the_old_development_secret_is_no_session(client, make_user, settings):
    user, _ = make_user("boss", "admin", None)
    for forged in ({"user_id": user.id}, {"sid": "guessed"}):
        client.cookies.set("kesu", _cookie(OLD_DEV_SECRET, forged))
        assert client.get("/api/v1/me").status_code == 401
    # Even signed with the app's real key, a user id is not a session: only a live session
    # row (created by signing in) is.
    client.cookies.set("kesu", _cookie(settings.session_secret(), {"user_id": user.id}))
    assert client.get("/api/v1/me").status_code == 401
