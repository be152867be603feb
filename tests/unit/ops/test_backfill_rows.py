from pathlib import Path

import pytest

from connector.errors import InvalidEventError
from connector.ops.backfill import read_rows, row_to_event


def test_csv_rows_become_identify_traits(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text('email,first_name,LastName,audiences,plan\n Ada@Example.com ,Ada,Lovelace,"A, B",pro\n')
    [(line, row)] = list(read_rows(path))
    assert line == 2
    assert row is not None
    event = row_to_event(row, "m-2")
    assert event == {
        "type": "identify",
        "messageId": "m-2",
        "traits": {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
                   "resendAudiences": "A, B", "plan": "pro"},
    }  # fmt: skip


def test_jsonl_bad_lines_are_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "contacts.jsonl"
    path.write_text('{"email": "a@x.io", "name": "A B"}\nnot json\n\n[1]\n{"name": "no email"}\n')
    rows = list(read_rows(path))
    assert [line for line, _ in rows] == [1, 2, 4, 5]
    assert rows[1][1] is None
    assert rows[2][1] is None
    with pytest.raises(InvalidEventError):
        row_to_event(rows[3][1] or {}, "m")
    with pytest.raises(InvalidEventError):
        row_to_event({"email": "nope"}, "m")
