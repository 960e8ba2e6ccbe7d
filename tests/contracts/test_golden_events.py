"""Golden events: the wire format of every (type, version) is pinned, and old versions parse."""

import json

import pytest

from lakecache.core.contracts import EVENTS, ROUTES, decode, encode, route
from lakecache.core.contracts.base import Event, EventData, EventRegistry, MalformedEvent, UnknownEventType
from lakecache.core.contracts.topics import unrouted_event_types
from tests.contracts.examples import EXAMPLES, GOLDEN, golden_document, golden_path

GOLDEN_FILES = sorted(GOLDEN.glob("*/v*.json"))


def load(path):
    document = json.loads(path.read_text())
    headers = [(k, v.encode()) for k, v in document["headers"].items()]
    return document, headers, json.dumps(document["data"]).encode()


def test_every_registered_type_has_an_example_and_a_golden_file_for_its_current_version():
    examples = {d.event_type for d in EXAMPLES}
    assert examples == set(EVENTS.types())
    for event_type, model in EVENTS.types().items():
        assert golden_path(event_type, model.data_version).is_file(), f"golden file missing for {event_type}"


def test_every_event_type_has_a_topic_route():
    assert unrouted_event_types() == set()
    assert set(ROUTES) == set(EVENTS.types())


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda d: d.event_type)
def test_current_wire_format_matches_golden_file(example):
    expected = json.loads(golden_path(example.event_type, example.data_version).read_text())
    assert golden_document(example) == expected


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_golden_file_old_or_current_still_parses(path):
    document, headers, value = load(path)
    event = decode(headers, value)
    assert event.type == path.parent.name
    assert event.id == document["headers"]["ce_id"]
    assert event.time.isoformat().replace("+00:00", "Z") == document["headers"]["ce_time"]
    if int(path.stem[1:]) == event.version:
        assert event.data.model_dump(mode="json") == document["data"]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda d: d.event_type)
def test_encode_decode_round_trip_keeps_data_and_routes_to_a_key(example):
    event = Event(data=example, source="/lakecache/test", subject="s-1", extensions={"tenant": "a"})
    encoded = encode(event)
    again = decode(encoded.headers, encoded.value)
    # Compared in JSON form: a NaN metric value equals no float, itself included.
    assert type(again.data) is type(example)
    assert again.data.model_dump(mode="json") == example.model_dump(mode="json")
    assert (again.id, again.source, again.subject) == (event.id, event.source, "s-1")
    assert again.extensions == {"tenant": "a"}
    topic, key = route(event)
    assert key and not topic.per_site
    assert topic.name.startswith("lakecache.")


def test_cache_commands_are_routed_to_their_sites_topic():
    by_type = {d.event_type: d for d in EXAMPLES}
    topic, key = route(Event(data=by_type["lakecache.cache.requested"], source="/t"))
    assert topic.name == "lakecache.cache.commands.dgx-a"
    assert key == ("3" * 64).encode()


def test_unknown_fields_are_ignored_so_producers_can_upgrade_first():
    _, headers, value = load(golden_path("lakecache.cache.ready", 1))
    data = json.loads(value) | {"added_in_a_later_release": 1}
    event = decode(headers, json.dumps(data).encode())
    assert event.data.fill_id == "fill-1"


def test_newer_data_version_than_known_is_refused():
    _, headers, value = load(golden_path("lakecache.cache.ready", 1))
    headers = [(k, b"2" if k == "ce_dataversion" else v) for k, v in headers]
    with pytest.raises(UnknownEventType, match="upgrade the consumer"):
        decode(headers, value)


@pytest.mark.parametrize(
    "headers, value, message",
    [
        ([], b"{}", "no ce_type"),
        ([("ce_type", b"lakecache.cache.ready"), ("ce_specversion", b"1.0"), ("ce_id", b"1"),
          ("ce_source", b"/x"), ("content-type", b"application/json")], b"not json", "must be a JSON object"),
        ([("ce_type", b"lakecache.cache.ready"), ("ce_specversion", b"1.0"), ("ce_id", b"1"),
          ("ce_source", b"/x"), ("content-type", b"application/json")], b'{"fill_id": 1}', "invalid data"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(headers, value, message):
    with pytest.raises((MalformedEvent, UnknownEventType), match=message):
        decode(headers, value)


def test_upcaster_chain_turns_an_old_version_into_the_current_model():
    registry = EventRegistry()

    @registry.register
    class Renamed(EventData):
        event_type = "lakecache.test.renamed"
        data_version = 3
        size_bytes: int
        unit: str

    @registry.upcaster("lakecache.test.renamed", from_version=1)
    def v1_to_v2(data):
        return {"size_bytes": data["size"]}

    @registry.upcaster("lakecache.test.renamed", from_version=2)
    def v2_to_v3(data):
        return {**data, "unit": "B"}

    headers = [("ce_type", b"lakecache.test.renamed"), ("ce_specversion", b"1.0"), ("ce_id", b"1"),
               ("ce_source", b"/x"), ("ce_dataversion", b"1"), ("content-type", b"application/json")]
    event = decode(headers, b'{"size": 42}', registry)
    assert event.data == Renamed(size_bytes=42, unit="B")
    del registry._upcasters[("lakecache.test.renamed", 2)]
    with pytest.raises(UnknownEventType, match="no upcaster"):
        decode(headers, b'{"size": 42}', registry)


def test_docs_events_md_is_generated_from_the_contracts():
    from pathlib import Path

    from lakecache.core.contracts.doc import render

    docs = Path(__file__).resolve().parents[2] / "docs" / "events.md"
    assert docs.read_text() == render(), "run: python -m lakecache.core.contracts.doc > docs/events.md"
