"""The CLI draws a copy's progress from the fill's own model (``FillProgress``: the fields the
gateway's status carries per volume), under the same names from the cacher to the screen."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from lakecache.cli.progress import CopyBars, fill_progress, progress_text
from lakecache.core.vocabulary.copies import FillProgress

FILLING = {"volume": "nfs1", "state": "filling", "phase": "fetching", "files_done": 104, "files_total": 200,
           "objects_done": 40, "objects_total": 96, "bytes_done": 20_761_804, "bytes_total": 39_950_000,
           "rate_bytes_per_s": 12_897_484.8, "eta_seconds": 1.6, "path": None, "pinned": False}


def drawn(*statuses: dict) -> str:
    out = StringIO()
    with CopyBars(Console(file=out, width=200)) as bars:
        for status in statuses:
            bars.update(status)
    return " ".join(out.getvalue().split())


def test_a_volumes_status_reads_as_the_fills_progress():
    progress = fill_progress(FILLING)
    assert progress == FillProgress(phase="fetching", files_done=104, files_total=200, objects_done=40,
                                    objects_total=96, bytes_done=20_761_804, bytes_total=39_950_000,
                                    rate_bytes_per_s=12_897_484.8, eta_seconds=1.6)
    assert fill_progress({"volume": "nfs1", "state": "requested", "files_total": None}) is None


def test_a_field_this_client_cannot_read_is_dropped_not_fatal():
    progress = fill_progress({**FILLING, "phase": "verifying", "files_done": -1})
    assert progress is not None and (progress.phase, progress.files_done, progress.files_total) == ("planning", 0, 200)
    assert progress.model_fields_set == set(FillProgress.model_fields) - {"phase", "files_done"}


def test_status_text_shows_files_bytes_rate_and_eta_while_filling():
    assert progress_text(FILLING) == "104/200 files, 19.8 MiB/38.1 MiB, 12.3 MiB/s, eta 0:00:02"
    ready = {**FILLING, "state": "ready", "files_done": 200, "bytes_done": 39_950_000}
    assert progress_text(ready) == "200/200 files, 38.1 MiB/38.1 MiB"
    assert progress_text({**FILLING, "state": "evicted"}) == "-"


def test_an_unknown_total_is_not_drawn_as_zero():
    only_bytes = {"volume": "nfs1", "state": "filling", "bytes_done": 512, "bytes_total": 1024,
                  "files_done": None, "files_total": None}
    assert progress_text(only_bytes) == "512 B/1.0 KiB"
    assert "files" not in drawn({"site": "dgx", "state": "filling", "volumes": [only_bytes]})


def test_the_bars_follow_files_done_as_the_fill_advances():
    requested = {"site": "dgx", "state": "requested", "volumes": []}
    statuses = [requested] + [{"site": "dgx", "state": "filling", "volumes": [{**FILLING, "files_done": done}]}
                              for done in (0, 50, 104)]
    text = drawn(*statuses)
    assert "dgx/nfs1 filling" in text and "104/200 files 19.8/38.1 MiB 12.3 MiB/s eta 0:00:02" in text
    assert "no volume yet" not in text  # the waiting line gave way to the volume's bar
