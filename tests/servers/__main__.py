"""python -m tests.servers prepare|start [kafka|s3|mongo|all]"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from .proc import ServerError, cache_dir
from .registry import SERVERS, names, prepare, start


def describe(name: str, server) -> str:
    if name == "kafka":
        return f"kafka  bootstrap={server.bootstrap}  url={server.url}"
    if name == "s3":
        return (f"s3     endpoint_url={server.endpoint_url}  access_key={server.access_key}  "
                f"secret_key={server.secret_key}  region={server.region}  root={server.root}")
    return f"mongo  url={server.url}"


def cmd_prepare(targets: list[str]) -> None:
    print(f"cache: {cache_dir()}")
    for name in targets:
        message, seconds = prepare(name)
        print(f"{message}  ({seconds:.1f} s)", flush=True)


def cmd_start(targets: list[str]) -> None:
    run_root = Path(tempfile.mkdtemp(prefix="lakecache-servers-"))
    running = []
    # SIGTERM stops the servers just like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        for name in targets:
            server = start(name, run_root)
            running.append(server)
            print(f"{describe(name, server)}  (ready in {server.started_in:.1f} s)", flush=True)
        print(f"run dir: {run_root}\nCtrl-C stops them.", flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for server in reversed(running):
            server.stop()
        shutil.rmtree(run_root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.servers",
                                     description="LakeCache test servers")
    parser.add_argument("action", choices=["prepare", "start"])
    parser.add_argument("server", nargs="?", default="all", choices=[*SERVERS, "all"])
    args = parser.parse_args(argv)
    try:
        targets = names(args.server)
        (cmd_prepare if args.action == "prepare" else cmd_start)(targets)
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
