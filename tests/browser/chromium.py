"""Debian's Chromium and ChromeDriver for the browser tests: where they are, and installing them.

Both come from the same Debian source package and are released together, so apt keeps their
versions in step (ChromeDriver refuses a Chromium of another major version). Nothing here
downloads a browser of its own: the machines reach Debian's packages but no browser vendor.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("chromium", "chromium-driver")
INSTALL = f"apt-get install -y --no-install-recommends {' '.join(PACKAGES)}"
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
# Another apt run (a second test run, unattended upgrades) may hold the dpkg lock for a while:
# wait for it rather than fail.
APT_LOCK_WAIT = ["-o", "DPkg::Lock::Timeout=300"]


class BrowserUnavailable(RuntimeError):
    """Chromium or ChromeDriver is missing or could not be installed; the message says how."""


@dataclass(frozen=True)
class Binaries:
    chromium: Path
    chromedriver: Path


def binaries() -> Binaries:
    """The browser and its driver; LAKECACHE_CHROMIUM / LAKECACHE_CHROMEDRIVER override the
    Debian paths (e.g. on a developer machine that is not Debian)."""
    return Binaries(Path(os.environ.get("LAKECACHE_CHROMIUM", "/usr/bin/chromium")),
                    Path(os.environ.get("LAKECACHE_CHROMEDRIVER", "/usr/bin/chromedriver")))


def missing() -> list[Path]:
    found = binaries()
    return [path for path in (found.chromium, found.chromedriver) if not os.access(path, os.X_OK)]


def install_hint() -> str:
    paths = ", ".join(str(path) for path in missing()) or "nothing"
    return (f"the browser tests need Debian's Chromium and ChromeDriver (missing: {paths}).\n"
            f"Install them as root: apt-get update && {INSTALL}\n"
            f"(or point LAKECACHE_CHROMIUM and LAKECACHE_CHROMEDRIVER at a matching pair)")


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["apt-get", *APT_LOCK_WAIT, *args], env={**os.environ, **APT_ENV},
                          capture_output=True, text=True, check=False, timeout=1800)


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    return "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])


def install() -> str:
    """Install both packages with apt (root only). The package lists are refreshed only when the
    first attempt fails: a machine whose lists are fresh enough installs without a network round
    to every index, and one without lists (or with stale ones, whose archives are gone) gets them."""
    if os.geteuid() != 0:
        raise BrowserUnavailable(install_hint() + "\n(not root, so it was not installed here)")
    if shutil.which("apt-get") is None:
        raise BrowserUnavailable(install_hint() + "\n(apt-get is not on this machine)")
    command = ["install", "-y", "--no-install-recommends", *PACKAGES]
    done = _apt(*command)
    if done.returncode != 0:
        updated = _apt("update")
        if updated.returncode != 0:
            raise BrowserUnavailable(f"apt-get update failed (exit {updated.returncode}):\n{_tail(updated)}")
        done = _apt(*command)
    if done.returncode != 0:
        raise BrowserUnavailable(f"{INSTALL} failed (exit {done.returncode}):\n{_tail(done)}")
    if missing():
        raise BrowserUnavailable(install_hint() + "\n(apt installed the packages, yet the paths are missing)")
    return f"browser: installed {' and '.join(PACKAGES)} with apt"


def ensure() -> str:
    """Present: say so at once (two stat calls). Missing: install, or raise with what to run."""
    if not missing():
        found = binaries()
        return f"browser: {found.chromium} and {found.chromedriver} present"
    if "LAKECACHE_CHROMIUM" in os.environ or "LAKECACHE_CHROMEDRIVER" in os.environ:
        raise BrowserUnavailable(install_hint() + "\n(LAKECACHE_CHROMIUM/LAKECACHE_CHROMEDRIVER are set: "
                                                  "apt would not install those paths)")
    return install()
