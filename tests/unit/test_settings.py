"""Settings: sources and precedence, validation errors, secrets, and docs kept current."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from lakecache.cacher.settings import CacherSettings
from lakecache.catalog.settings import CatalogSettings
from lakecache.core.adapters.registry import document_store_from_url, event_bus_from_url, object_store_from_url
from lakecache.core.errors import ConfigurationError
from lakecache.core.settings_doc import render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("LAKECACHE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_docs_settings_md_is_generated_from_the_models():
    assert DOCS.read_text() == render(), "run: python -m lakecache.core.settings_doc > docs/settings.md"


def test_defaults_are_embedded_and_loopback(tmp_path):
    settings = CatalogSettings()
    assert settings.bus_url == "memory://"
    assert settings.section.host == "127.0.0.1" and settings.section.port == 8081
    assert settings.resolved_lake_url() == f"file://{tmp_path / '.lakecache' / 'lake'}"
    assert settings.resolved_store_url() == f"sqlite:///{tmp_path / '.lakecache' / 'catalog.db'}"


def test_environment_beats_config_file_which_beats_defaults(monkeypatch, tmp_path):
    config = tmp_path / "site.toml"
    config.write_text('bus_url = "kafka://file:9092"\n[cacher]\nsite = "dgx-a"\nport = 9000\n')
    monkeypatch.setenv("LAKECACHE_CONFIG", str(config))
    monkeypatch.setenv("LAKECACHE_CACHER__PORT", "9100")
    settings = CacherSettings()
    assert settings.bus_url == "kafka://file:9092"
    assert settings.section.site == "dgx-a"
    assert settings.section.port == 9100


def test_lakecache_toml_in_the_working_directory_is_read(tmp_path):
    (tmp_path / "lakecache.toml").write_text('environment = "staging"\n')
    assert CatalogSettings().environment == "staging"


def test_missing_config_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LAKECACHE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigurationError, match="nope.toml"):
        CatalogSettings()


def test_invalid_site_name_is_refused_naming_the_field(monkeypatch):
    monkeypatch.setenv("LAKECACHE_CACHER__SITE", "Bad Site!")
    with pytest.raises(ValidationError, match="site"):
        CacherSettings()


def test_secrets_are_masked_in_redacted_output(monkeypatch):
    monkeypatch.setenv("LAKECACHE_S3_SECRET_ACCESS_KEY", "s3cr3t-value")
    monkeypatch.setenv("LAKECACHE_CATALOG__STORE_URL", "mongodb://app:hunter2@db:27017/catalog")
    settings = CatalogSettings()
    shown = str(settings.redacted())
    assert "s3cr3t-value" not in shown and "hunter2" not in shown
    assert "app:***@db" in shown
    assert "s3cr3t-value" not in repr(settings)
    assert settings.s3_secret_access_key.get_secret_value() == "s3cr3t-value"


@pytest.mark.parametrize(
    "factory, url",
    [(event_bus_from_url, "amqp://x"), (object_store_from_url, "gs://bucket"), (document_store_from_url, "postgres://x")],
)
def test_unknown_url_scheme_names_the_accepted_ones(factory, url):
    with pytest.raises(ConfigurationError, match="scheme must be one of"):
        factory(url)


def test_adapters_are_picked_by_url_scheme():
    assert type(event_bus_from_url("memory://x")).__name__ == "InMemoryEventBus"
    assert type(event_bus_from_url("kafka://127.0.0.1:9092")).__name__ == "KafkaEventBus"
    assert type(object_store_from_url("file:///tmp/lake")).__name__ == "LocalObjectStore"
    assert type(object_store_from_url("s3://bucket/prefix")).__name__ == "S3ObjectStore"
    assert type(document_store_from_url("sqlite:///tmp/x.db")).__name__ == "SqliteDocumentStore"
    assert type(document_store_from_url("mongodb://127.0.0.1/db")).__name__ == "MongoDocumentStore"
