"""python -m tests.browser prepare — make sure Chromium and ChromeDriver are installed.

Installs them with apt when missing and running as root. Otherwise it says what to install and
exits non-zero only when CI=true: elsewhere the browser tests then skip with the same reason.
"""

from __future__ import annotations

import argparse
import sys
import time

from tests.browser.chromium import BrowserUnavailable, ensure
from tests.servers.registry import in_ci


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.browser",
                                     description="Chromium and ChromeDriver for the browser tests")
    parser.add_argument("action", choices=["prepare"])
    parser.parse_args(argv)
    started = time.monotonic()
    try:
        message = ensure()
    except BrowserUnavailable as exc:
        if in_ci():
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"warning: {exc}\nThe browser tests will skip.", file=sys.stderr)
        return 0
    print(f"{message}  ({time.monotonic() - started:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
