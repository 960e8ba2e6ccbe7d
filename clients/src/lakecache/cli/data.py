"""The ``lakecache data`` command group: datasets and commits through the catalog API."""

from __future__ import annotations

import typer

from lakecache.cli import datasets, history

data_app = typer.Typer(
    help="Datasets and commits: create, sync a directory, import a lake prefix, log, ls, diff, tag.\n\n"
    "NAME is project/name, or name with --project (env LAKECACHE_PROJECT, default 'default'); "
    "NAME@REF names a commit id, a tag or 'latest'. Requests go to the gateway at LAKECACHE_API_URL "
    "(default http://127.0.0.1:8080) with the token LAKECACHE_TOKEN (default: the administrator token "
    "`lakecache up` wrote to <home>/admin-token); that token is all a user needs: files are uploaded through URLs "
    "the gateway hands out. Exit codes: 0 done, 1 refused or failed, 2 usage or configuration error (including no "
    "valid token), 130 interrupted.",
    no_args_is_help=True,
)
datasets.register(data_app)
history.register(data_app)
