"""Backfill files: every column rule, line numbers that stay stable, bad rows that never stop a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import ConfigurationError
from connector.ops.rows import BadRow, ContactRow, file_format, identify_event, parse_row, read_rows


def rows_of(tmp_path: Path, name: str, text: str) -> list[ContactRow | BadRow]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return list(read_rows(path, file_format(path, None)))


def test_csv_columns_become_identify_traits(tmp_path: Path) -> None:
    [row] = rows_of(tmp_path, "c.csv", 'Email,first_name,LastName,audiences,plan,userId\n'
                                        ' Ada@Example.com ,Ada,Lovelace,"A, B",pro,u-1\n')  # fmt: skip
    assert isinstance(row, ContactRow)
    assert row.line == 2
    assert identify_event(row, "m-2") == {
        "type": "identify",
        "messageId": "m-2",
        "userId": "u-1",
        "traits": {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
                   "resendAudiences": "A, B", "plan": "pro"},
    }  # fmt: skip


def test_empty_cells_are_left_out_and_a_bom_does_not_hide_the_email_column(tmp_path: Path) -> None:
    [row] = rows_of(tmp_path, "c.csv", "\ufeffemail,name,plan\nb@x.io,,\n")
    assert isinstance(row, ContactRow)
    assert dict(row.traits) == {"email": "b@x.io"}
    assert identify_event(row, "m") == {"type": "identify", "messageId": "m", "traits": {"email": "b@x.io"}}


def test_csv_line_numbers_follow_physical_lines(tmp_path: Path) -> None:
    rows = rows_of(tmp_path, "c.csv", 'email,note\na@x.io,"two\nlines"\nnot-an-email,x\nc@x.io,x,extra\nd@x.io,\n')
    assert [(r.line, type(r).__name__) for r in rows] == [
        (3, "ContactRow"), (4, "BadRow"), (5, "BadRow"), (6, "ContactRow")]  # fmt: skip
    assert rows[1] == BadRow(4, "email is not a valid address: An email address must have an @-sign.")
    assert rows[2] == BadRow(5, "more cells than columns")


def test_a_csv_without_an_email_column_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no email column"):
        rows_of(tmp_path, "c.csv", "name,plan\nAda,pro\n")


def test_jsonl_bad_lines_are_reported_with_their_line_not_fatal(tmp_path: Path) -> None:
    rows = rows_of(tmp_path, "c.jsonl", '{"email": "a@x.io", "name": "A B", "n": 3, "gone": null}\nnot json\n\n'
                                        '[1]\n{"name": "no email"}\n{"email": "b@x.io", "audiences": ["A", "B"]}\n'
                                        '{"email": "c@x.io", "audiences": 7}\n')  # fmt: skip
    assert rows == [
        ContactRow(1, "a@x.io", None, {"name": "A B", "n": 3, "email": "a@x.io"}),
        BadRow(2, "not valid JSON"),
        BadRow(4, "a row must be a JSON object, not list"),
        BadRow(5, "no email"),
        ContactRow(6, "b@x.io", None, {"resendAudiences": ["A", "B"], "email": "b@x.io"}),
        BadRow(7, "audiences must be a comma-separated string or a list of strings"),
    ]


def test_format_comes_from_the_extension_unless_given(tmp_path: Path) -> None:
    assert file_format(tmp_path / "a.NDJSON", None) == "jsonl"
    assert file_format(tmp_path / "a.txt", None) == "csv"
    assert file_format(tmp_path / "a.csv", "jsonl") == "jsonl"
    with pytest.raises(ConfigurationError):
        file_format(tmp_path / "a.csv", "xml")


def test_a_numeric_user_id_becomes_text() -> None:
    row = parse_row(9, {"email": "a@x.io", "user_id": 42})
    assert isinstance(row, ContactRow)
    assert row.user_id == "42"
    assert "user_id" not in row.traits
