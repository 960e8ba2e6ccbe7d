import pytest

pytest_plugins = ["tests.servers.fixtures"]


@pytest.fixture(autouse=True)
def _no_personal_login(tmp_path_factory, monkeypatch):
    """A login the developer stored with `lakecache login` (~/.config/lakecache) would reach every
    client the tests build: each test gets an empty configuration directory of its own."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
