"""``lakecache token create|list|revoke`` against the real stack behind the gateway: the secret is
printed once, listings never show it, and a revoked token is refused from then on."""

from __future__ import annotations

import asyncio
import json

from lakecache.sdk.gateway import GatewayClient
from tests.clients.helpers import cli, cli_json


def test_create_list_and_revoke_a_token_which_is_then_refused(stack, user_token, monkeypatch):
    monkeypatch.setenv("LAKECACHE_TOKEN", user_token)
    created = cli_json("token", "create", "--name", "laptop", "--expires", "2w")
    assert created["token"].startswith("lct_") and created["kind"] == "user" and created["name"] == "laptop"

    listed = cli("token", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert created["token"] not in listed.output
    assert {t["name"] for t in json.loads(listed.stdout)} == {"tests", "laptop"}

    monkeypatch.setenv("LAKECACHE_TOKEN", created["token"])  # the new token works ...
    assert cli("data", "list", "--project", "team").exit_code == 0
    monkeypatch.setenv("LAKECACHE_TOKEN", user_token)
    revoked = cli("token", "revoke", created["id"])
    assert revoked.exit_code == 0, revoked.output
    assert [t["name"] for t in cli_json("token", "list")] == ["tests"]  # revoked ones only with --all
    assert next(t for t in cli_json("token", "list", "--all") if t["id"] == created["id"])["revoked"] is True

    monkeypatch.setenv("LAKECACHE_TOKEN", created["token"])  # ... and is refused once revoked
    refused = cli("data", "list", "--project", "team")
    assert refused.exit_code == 2 and "the token was refused" in " ".join(refused.output.split())


def test_text_create_prints_the_secret_alone_on_stdout(stack):
    mine = cli("token", "create", "--name", "ci")
    assert mine.exit_code == 0, mine.output
    [secret] = mine.stdout.split()
    assert secret.startswith("lct_") and "shown this once" in mine.stderr


def test_an_administrator_creates_a_users_first_token(stack, user_token):
    created = cli_json("token", "create", "--user", "ada", "--name", "second")
    assert created["name"] == "second"
    assert {t["name"] for t in cli_json("token", "list", "--user", "ada")} == {"tests", "second"}


def test_a_job_token_for_a_run_acts_for_it_and_is_listed_as_issued(stack, user_token, client_settings,
                                                                   monkeypatch):
    async def started_run() -> str:
        async with GatewayClient(client_settings) as gateway:
            experiment = await gateway.get_or_create_experiment("team", "exp")
            return (await gateway.start_run("team", experiment["id"]))["id"]

    run_id = asyncio.run(started_run())
    monkeypatch.setenv("LAKECACHE_TOKEN", user_token)
    created = cli_json("token", "create", "--run", run_id, "--project", "team", "--expires", "2h")
    assert (created["kind"], created["project"], created["run_id"]) == ("job", "team", run_id)
    assert created["id"] in {t["id"] for t in cli_json("token", "list")}

    monkeypatch.setenv("LAKECACHE_TOKEN", created["token"])
    assert cli("data", "list", "--project", "team").exit_code == 0  # it reads the project's data ...
    refused = cli("token", "create", "--name", "escalate")  # ... and makes no tokens of its own
    assert refused.exit_code == 1 and "Traceback" not in refused.output


def test_wrong_inputs_are_usage_errors(stack, user_token, monkeypatch):
    monkeypatch.setenv("LAKECACHE_TOKEN", user_token)
    part_of_a_day = cli("token", "create", "--expires", "36h")
    assert part_of_a_day.exit_code == 2 and "whole days" in part_of_a_day.output
    job_without_expiry = cli("token", "create", "--run", "r1", "--project", "team")
    assert job_without_expiry.exit_code == 2 and "--expires" in job_without_expiry.output
    not_an_id = cli("token", "revoke", "nope")
    assert not_an_id.exit_code == 2, not_an_id.output
    elses = cli("token", "revoke", "0" * 32)
    assert elses.exit_code == 1 and "Traceback" not in elses.output
    others = cli("token", "list", "--user", "ada")  # an administrator's listing
    assert others.exit_code == 1
