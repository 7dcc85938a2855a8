"""An uploaded file's name is kept only as a plain name, and list pages have OpenAI's cursor
shape."""

from __future__ import annotations

import pytest

from tollway_edge.routes.files import MAX_FILENAME_CHARS, list_page, sanitised_filename


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("requests.jsonl", "requests.jsonl"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\batch.jsonl", "batch.jsonl"),
        ("bad\x00name\r\n.txt", "badname.txt"),
        ("rtl\u202etxt.exe", "rtltxt.exe"),
        ("..", "file"),
        ("", "file"),
        (None, "file"),
        ("dir/", "file"),
        ("  spaced  ", "spaced"),
        ("données é.jsonl", "données é.jsonl"),
    ],
)
def test_a_filename_is_its_last_path_part_without_control_characters(
    sent: str | None, kept: str
) -> None:
    assert sanitised_filename(sent) == kept


def test_a_long_filename_is_cut() -> None:
    assert len(sanitised_filename("x" * 1000)) == MAX_FILENAME_CHARS


def test_a_page_names_its_first_and_last_ids_only_when_it_has_them() -> None:
    assert list_page([], has_more=False) == {"object": "list", "data": [], "has_more": False}
    page = list_page([{"id": "a"}, {"id": "b"}], has_more=True)
    assert (page["first_id"], page["last_id"], page["has_more"]) == ("a", "b", True)
