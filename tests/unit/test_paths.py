"""Path safety rules: every unsafe class is refused with a reason; safe trees pass."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakecache.core.paths import check_paths, iter_problems, normalize, path_problems, sort_key


@pytest.mark.parametrize(
    "path, reason",
    [
        ("", "empty path"),
        ("../etc/passwd", "'..'"),
        ("a/../../b", "'..'"),
        ("./a", "'.'"),
        ("a/./b", "'.'"),
        ("/etc/passwd", "absolute"),
        ("//server/share/x", "absolute"),
        ("C:/Windows/x", "drive letter"),
        ("c:x", "drive letter"),
        ("a\\b", "backslash"),
        ("..\\..\\x", "backslash"),
        ("a\x00b", "control character"),
        ("a\nb", "control character"),
        ("a\x7fb", "control character"),
        ("a//b", "empty segment"),
        ("a/", "empty segment"),
        ("x" * 256, "segment is longer than 255"),
        ("é" * 128, "segment is longer than 255"),
        ("/".join(["d" * 200] * 21), "longer than 4096 bytes"),
        ("bad\udcff.jpg", "UTF-8"),
    ],
)
def test_each_unsafe_class_is_refused_with_a_reason(path, reason):
    problems = path_problems(path)
    assert any(reason in p for p in problems), problems


@pytest.mark.parametrize(
    "path",
    ["a", "train/cat/001.jpg", "x" * 255, "/".join(["d" * 200] * 20), "ünïcødé/文件.txt", "a b/c-d_e.f", "...", "a..b"],
)
def test_safe_paths_pass(path):
    assert path_problems(path) == []


def test_file_that_is_also_a_directory_is_refused_even_with_names_between():
    problems = check_paths(["a", "a-b", "a.txt", "a/b"])
    assert [(p.path, "also a directory" in p.reason) for p in problems] == [("a", True)]


def test_names_equal_after_nfc_normalization_collide():
    nfd, nfc = "cafe\u0301.txt", "caf\u00e9.txt"
    problems = check_paths([nfd, nfc, "other.txt"])
    assert len(problems) == 1 and "NFC" in problems[0].reason


def test_segment_order_puts_a_directory_right_after_its_name():
    paths = ["a-b", "a/b", "a", "a/c/d", "b"]
    assert sorted(paths, key=sort_key) == ["a", "a/b", "a/c/d", "a-b", "b"]


def test_unsorted_input_to_the_streaming_checker_is_an_error():
    with pytest.raises(ValueError, match="not sorted"):
        list(iter_problems(["b", "a"]))


SEGMENT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"],
                                         exclude_characters="/\\"), min_size=1, max_size=12)


NFC_PATHS = st.sets(st.lists(SEGMENT, min_size=1, max_size=4).map(lambda parts: normalize("/".join(parts))),
                   max_size=30)


@given(NFC_PATHS)
def test_streaming_check_reports_exactly_the_files_that_have_children(paths):
    files_with_children = {p for p in paths if any(q.startswith(p + "/") for q in paths)}
    got = check_paths(paths)
    assert {p.path for p in got if "also a directory" in p.reason} == files_with_children
    assert not [p for p in got if "NFC" in p.reason]


@given(NFC_PATHS, st.data())
def test_every_nfd_twin_of_a_path_is_reported_as_a_collision(paths, data):
    decomposable = [p for p in paths if unicodedata.normalize("NFD", p) != p]
    twins = data.draw(st.lists(st.sampled_from(decomposable), unique=True) if decomposable else st.just([]))
    got = check_paths([*paths, *(unicodedata.normalize("NFD", t) for t in twins)])
    assert sum("NFC" in p.reason for p in got) == len(twins)
