"""``lakecache login|logout`` and ``config show client`` against the real stack behind the gateway:
the login is checked before it is stored, kept private, used by later commands and the SDK below
options and the environment, never sent to another gateway, and never printed."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakecache.cli.main import app
from lakecache.core.errors import ConfigurationError
from lakecache.sdk.settings import ClientSettings
from lakecache.sdk.user_config import read_user_config, toml_string

runner = CliRunner()


def cli(*args: str, stdin: str | None = None):
    return runner.invoke(app, list(args), input=stdin)


def config_file() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "lakecache" / "config.toml"


@pytest.fixture
def logged_out(stack, monkeypatch):
    """Nothing from the environment: the commands rely on the login alone."""
    monkeypatch.delenv("LAKECACHE_TOKEN")
    monkeypatch.delenv("LAKECACHE_API_URL")
    return stack


def login(stack, token: str, *extra: str):
    return cli("login", "--gateway", stack.base_url + "/", "--token-stdin", *extra, stdin=token + "\n")


def test_login_stores_a_private_file_that_later_commands_and_the_sdk_use(logged_out, user_token):
    done = login(logged_out, user_token, "--project", "team")
    assert done.exit_code == 0, done.output
    assert "Logged in" in done.output and "user ada" in done.output
    assert user_token not in done.output

    path = config_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert tomllib.loads(path.read_text()) == {"api_url": logged_out.base_url, "token": user_token,
                                               "project": "team"}
    assert not [p for p in path.parent.iterdir() if p.name != "config.toml"]  # no temporary file left

    # A later command: ada's token, ada's project (no project given anywhere else).
    created = cli("data", "create", "ds", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["project"] == "team"
    mine = cli("token", "list", "--json")
    assert mine.exit_code == 0, mine.output
    assert {t["name"] for t in json.loads(mine.stdout)} == {"tests"}  # ada's, not the administrator's

    settings = ClientSettings()  # the SDK (lakecache.use, start_run) reads the same login
    assert (settings.api_url, settings.bearer_token(), settings.project) == (logged_out.base_url, user_token, "team")


def test_environment_overrides_the_login_and_options_override_the_environment(logged_out, user_token, monkeypatch):
    assert login(logged_out, user_token, "--project", "team").exit_code == 0
    assert cli("data", "create", "team/ds").exit_code == 0

    monkeypatch.setenv("LAKECACHE_PROJECT", "elsewhere")
    assert ClientSettings().project == "elsewhere"
    listed = cli("data", "list", "--json")  # ada has no role in 'elsewhere'
    assert listed.exit_code != 0
    listed = cli("data", "list", "--project", "team", "--json")  # the option wins over the environment
    assert listed.exit_code == 0, listed.output
    assert [d["name"] for d in json.loads(listed.stdout)] == ["ds"]

    monkeypatch.setenv("LAKECACHE_TOKEN", logged_out.token)
    assert ClientSettings().bearer_token() == logged_out.token
    shown = cli("config", "show", "client", "--json")
    assert shown.exit_code == 0, shown.output
    report = json.loads(shown.stdout)
    assert report["sources"]["token"] == "environment (LAKECACHE_TOKEN)"
    assert report["sources"]["project"] == "environment (LAKECACHE_PROJECT)"
    assert report["sources"]["api_url"] == f"login {config_file()}"
    assert report["settings"]["token"] == "********"
    assert logged_out.token not in shown.output and user_token not in shown.output


def test_the_stored_token_is_never_sent_to_another_gateway(logged_out, user_token, monkeypatch):
    assert login(logged_out, user_token).exit_code == 0
    monkeypatch.setenv("LAKECACHE_API_URL", "http://127.0.0.1:9")
    settings = ClientSettings(home=Path("no-home"))
    assert settings.api_url == "http://127.0.0.1:9" and settings.bearer_token() is None


def test_config_show_client_names_the_login_and_masks_its_token(logged_out, user_token):
    assert login(logged_out, user_token).exit_code == 0
    shown = cli("config", "show", "client")
    assert shown.exit_code == 0, shown.output
    assert user_token not in shown.output and "********" in shown.output
    assert f"login{config_file()}" in "".join(shown.output.split())  # where the gateway's URL came from


def test_a_refused_token_is_not_stored(logged_out):
    refused = login(logged_out, "lct_" + "x" * 43)
    assert refused.exit_code == 2
    text = " ".join(refused.output.split())
    assert "refused the token" in text and "nothing was stored" in text
    assert "lct_" not in text
    assert not config_file().exists()


def test_a_login_replaced_by_a_bad_token_keeps_the_good_one(logged_out, user_token):
    assert login(logged_out, user_token).exit_code == 0
    assert login(logged_out, "lct_wrong").exit_code == 2
    assert read_user_config()["token"] == user_token


def test_a_symbolic_link_at_the_login_path_is_refused_not_followed(logged_out, user_token, tmp_path):
    target = tmp_path / "elsewhere.toml"
    target.write_text("# someone else's file\n")
    path = config_file()
    path.parent.mkdir(parents=True)
    path.symlink_to(target)

    refused = login(logged_out, user_token)
    assert refused.exit_code == 2
    assert "symbolic link" in " ".join(refused.output.split())
    assert target.read_text() == "# someone else's file\n" and path.is_symlink()

    # Nor is it read: every command says what to do instead of using it.
    with pytest.raises(ConfigurationError, match="symbolic link"):
        ClientSettings()
    listed = cli("data", "list", "--json")
    assert listed.exit_code == 2 and "symbolic link" in listed.output


def test_a_login_file_others_may_read_is_refused(logged_out, user_token):
    assert login(logged_out, user_token).exit_code == 0
    config_file().chmod(0o644)
    listed = cli("data", "list")
    assert listed.exit_code == 2
    assert "chmod 600" in " ".join(listed.output.split())


def test_login_reads_no_token_from_a_pipe_without_token_stdin(logged_out):
    refused = cli("login", "--gateway", logged_out.base_url, stdin="lct_whatever\n")
    assert refused.exit_code == 2 and "--token-stdin" in refused.output
    assert not config_file().exists()


def test_logout_removes_the_login_and_revoke_ends_the_token(logged_out, user_token, monkeypatch):
    assert login(logged_out, user_token).exit_code == 0
    out = cli("logout", "--revoke", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["removed"] is True and not config_file().exists()

    monkeypatch.setenv("LAKECACHE_API_URL", logged_out.base_url)
    monkeypatch.setenv("LAKECACHE_TOKEN", user_token)
    refused = cli("data", "list", "--project", "team")
    assert refused.exit_code == 2 and "refused" in refused.output
    assert cli("logout").exit_code == 0  # nothing left to remove: still fine


@pytest.mark.parametrize("value", ['plain', 'quote " and \\ backslash', "tab\tnew\nline\x7fdel\x00", "ünï €", "𝄞"])
def test_values_are_written_as_toml_strings_that_read_back_unchanged(value):
    assert tomllib.loads(f"v = {toml_string(value)}") == {"v": value}
