"""Settings precedence: environment > TOML file > defaults."""

import pytest

from stackyard.rates.config import ConfigError, Settings, load_settings


def test_defaults():
    s = load_settings({})
    assert s == Settings()
    assert (s.db_port, s.max_range_days, s.max_batch_rows) == (5432, 366, 200_000)
    assert s.max_body_bytes == 64 * 1024 * 1024
    assert s.bind == "0.0.0.0:3000"


def test_env_beats_toml_beats_default(tmp_path):
    toml = tmp_path / "rates.toml"
    toml.write_text('db_host = "toml-host"\ndb_port = 6000\n[db]\nname = "from_toml"\n')
    s = load_settings({"RATES_CONFIG": str(toml), "RATES_DB_PORT": "7000"})
    assert s.db_host == "toml-host"  # TOML over default
    assert s.db_name == "from_toml"  # [db] table
    assert s.db_port == 7000  # environment over TOML
    assert s.db_user == "rates_api"  # default


def test_password_is_not_in_repr():
    s = load_settings({"RATES_DB_PASSWORD": "hunter2-secret"})
    assert s.db_password == "hunter2-secret"
    assert "hunter2-secret" not in repr(s)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"RATES_DB_PORT": "abc"}, "RATES_DB_PORT"),
        ({"RATES_DB_PORT": "70000"}, "RATES_DB_PORT"),
        ({"RATES_DB_POOL_MAX": "0"}, "RATES_DB_POOL_MAX"),
        ({"RATES_MAX_RANGE_DAYS": "1.5"}, "RATES_MAX_RANGE_DAYS"),
        ({"RATES_LOG_LEVEL": "LOUD"}, "RATES_LOG_LEVEL"),
        ({"RATES_DB_POOL_MIN": "9", "RATES_DB_POOL_MAX": "2"}, "RATES_DB_POOL_MIN"),
    ],
)
def test_invalid_value_names_the_variable(env, name):
    with pytest.raises(ConfigError, match=name):
        load_settings(env)


def test_bad_toml_file(tmp_path):
    with pytest.raises(ConfigError, match="RATES_CONFIG"):
        load_settings({"RATES_CONFIG": str(tmp_path / "missing.toml")})
    bad = tmp_path / "bad.toml"
    bad.write_text("db_port = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"RATES_CONFIG": str(bad)})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="colour"):
        load_settings({"RATES_CONFIG": str(unknown)})
    typed = tmp_path / "typed.toml"
    typed.write_text("db_port = 'x'\n")
    with pytest.raises(ConfigError, match="db_port"):
        load_settings({"RATES_CONFIG": str(typed)})


def test_create_app_reads_environment_and_fails_clearly(clean_env):
    from stackyard.rates.app import create_app

    clean_env.setenv("RATES_MAX_RANGE_DAYS", "10")
    clean_env.setenv("RATES_LOG_LEVEL", "warning")
    app = create_app()
    assert app.extensions["stackyard.rates.settings"].max_range_days == 10
    clean_env.setenv("RATES_DB_PORT", "abc")
    with pytest.raises(ConfigError, match="RATES_DB_PORT"):
        create_app()
