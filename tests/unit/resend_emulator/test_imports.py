"""Contact imports without HTTP: the CSV rules, on_conflict, segments, counts and the status sequence."""

from __future__ import annotations

import json

import pytest

from resend_emulator.import_rows import BadRow, ColumnMap, parse_column_map, plan_row, read_csv
from resend_emulator.state import ApiError, Resend

MAP = {
    "email": "Email",
    "first_name": "First",
    "unsubscribed": "Unsub",
    "properties": {"plan": {"column": "Plan"}, "seats": {"column": "Seats", "type": "number"}},
}


def call(r: Resend, method: str, path: str, body: dict | None = None, **query: str) -> dict:
    status, answer, _ = r.call(method, path, dict(query), body)
    assert status in (200, 201)
    return answer


@pytest.fixture
def team() -> Resend:
    r = Resend()
    call(r, "POST", "/contact-properties", {"key": "plan", "type": "string"})
    call(r, "POST", "/contact-properties", {"key": "seats", "type": "number"})
    r.inspect("POST", "imports", {"paused": True})  # the test runs imports itself
    yield r
    r.close()


def start(r: Resend, csv_text: str, column_map: dict | None = MAP, **fields: str) -> str:
    body = {"file": csv_text.encode(), **fields}
    if column_map is not None:
        body["column_map"] = json.dumps(column_map)
    return call(r, "POST", "/contacts/imports", body)["id"]


def run(r: Resend) -> None:
    r.world.runtime.jobs.run_pending()


def test_queued_until_run_then_completed_with_counts_and_failed_rows(team: Resend) -> None:
    csv_text = (
        "Email,First,Unsub,Plan,Seats\na@x.io,Ada,no,pro,3\nnot-an-email,X,,,\nb@x.io,,YES,,2.5\nc@x.io,,,,many\n"
    )
    import_id = start(team, csv_text)
    queued = call(team, "GET", f"/contacts/imports/{import_id}")
    assert (queued["status"], queued["completed_at"]) == ("queued", None)
    assert queued["counts"] == {"total": 4, "created": 0, "updated": 0, "skipped": 0, "failed": 0}
    run(team)
    done = call(team, "GET", f"/contacts/imports/{import_id}")
    assert done["status"] == "completed"
    assert done["completed_at"] is not None
    assert done["counts"] == {"total": 4, "created": 2, "updated": 0, "skipped": 0, "failed": 2}
    contacts = {c["email"]: c for c in team.snapshot()["contacts"]}
    assert contacts["a@x.io"]["first_name"] == "Ada"
    assert contacts["a@x.io"]["properties"] == {"plan": "pro", "seats": 3}
    assert contacts["a@x.io"]["unsubscribed"] is False
    assert contacts["b@x.io"]["unsubscribed"] is True
    assert contacts["b@x.io"]["properties"] == {"seats": 2.5}
    failed = team.snapshot()["imports"][0]["failed_rows"]
    assert [f["row"] for f in failed] == [2, 4]
    assert "email" in failed[0]["reason"]
    assert "seats" in failed[1]["reason"]


def test_skip_by_default_upsert_updates_and_adds_segments(team: Resend) -> None:
    segment = call(team, "POST", "/segments", {"name": "vip"})["id"]
    call(team, "POST", "/contacts", {"email": "a@x.io", "first_name": "Old", "properties": {"plan": "free"}})
    start(
        team,
        "Email,First,Plan\na@x.io,New,pro\nn@x.io,,basic\n",
        {"email": "Email", "first_name": "First", "properties": {"plan": {"column": "Plan", "type": "string"}}},
    )
    run(team)
    assert team.snapshot()["contacts"][0]["first_name"] == "Old"  # skipped
    plan_map = {"email": "Email", "first_name": "First", "properties": {"plan": "Plan"}}
    segments = json.dumps([{"id": segment}])
    upsert = start(team, "Email,First,Plan\nA@x.io,New,\n", plan_map, on_conflict="upsert", segments=segments)
    run(team)
    counts = call(team, "GET", f"/contacts/imports/{upsert}")["counts"]
    assert counts == {"total": 1, "created": 0, "updated": 1, "skipped": 0, "failed": 0}
    first = team.snapshot()["contacts"][0]
    assert first["first_name"] == "New"
    assert first["properties"] == {"plan": "free"}  # an empty cell changes nothing
    assert first["segments"] == ["vip"]
    listed = call(team, "GET", "/contacts/imports")["data"]
    assert listed[0]["id"] == upsert  # newest first
    assert [i["id"] for i in call(team, "GET", "/contacts/imports", status="queued")["data"]] == []


def test_creation_refuses_what_no_row_could_fix(team: Resend) -> None:
    def refused(body: dict) -> tuple[int, str]:
        with pytest.raises(ApiError) as caught:
            team.call("POST", "/contacts/imports", {}, body)
        return caught.value.status, caught.value.name

    assert refused({}) == (422, "missing_required_field")
    assert refused({"file": b"name\nx\n"})[0] == 422  # no email column
    assert refused({"file": b"Email\na@x.io\n", "column_map": "{not json"})[0] == 422
    assert refused({"file": b"Email\na@x.io\n", "column_map": '{"email": "Mail"}'})[0] == 422
    assert refused({"file": b"Email\na@x.io\n", "on_conflict": "merge"})[0] == 422
    assert refused({"file": b"Email\na@x.io\n", "segments": '[{"id": "nope"}]'}) == (404, "not_found")
    unknown_property = {"email": "Email", "properties": {"nope": {"column": "Email"}}}
    assert refused({"file": b"Email\na@x.io\n", "column_map": json.dumps(unknown_property)})[0] == 422
    wrong_type = {"email": "Email", "properties": {"seats": {"column": "Email", "type": "string"}}}
    assert refused({"file": b"Email\na@x.io\n", "column_map": json.dumps(wrong_type)})[0] == 422
    assert refused({"file": b"\xff\xfe\x00bad"})[0] == 422
    assert refused({"file": b"Email\n" + b"a" * 50_000_000})[0] == 422


def test_without_a_column_map_columns_named_like_the_fields_are_used(team: Resend) -> None:
    start(team, "email,first_name,last_name\na@x.io,Ada,Lovelace\n", column_map=None)
    run(team)
    contact = team.snapshot()["contacts"][0]
    assert (contact["first_name"], contact["last_name"]) == ("Ada", "Lovelace")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("true", True), ("FALSE", False), ("Yes", True), ("no", False), ("1", True), ("0", False)],
)
def test_boolean_cells(cell: str, expected: bool) -> None:
    cmap = ColumnMap(email="e", unsubscribed="u")
    row = plan_row(1, ["a@x.io", cell], ["e", "u"], cmap, {})
    assert not isinstance(row, BadRow)
    assert row.fields["unsubscribed"] is expected


def test_unreadable_cells_fail_the_row_and_boolean_properties_fit_the_property_type() -> None:
    header, rows = read_csv("e,u,flag,n\na@x.io,maybe,yes,1\n")
    assert isinstance(plan_row(1, rows[0], header, ColumnMap(email="e", unsubscribed="u"), {}), BadRow)
    types: dict[str, str | None] = {"flag": "string", "n": "number"}
    cmap = parse_column_map(
        json.dumps(
            {
                "email": "e",
                "properties": {"flag": {"column": "flag", "type": "boolean"}, "n": {"column": "n", "type": "boolean"}},
            }
        ),
        header,
        types,
    )
    row = plan_row(1, rows[0], header, cmap, types)
    assert not isinstance(row, BadRow)
    assert row.properties == {"flag": "true", "n": 1}
    assert isinstance(
        plan_row(1, ["a@x.io", "", "", "inf"], header, ColumnMap(email="e", properties={"n": ("n", "number")}), types),
        BadRow,
    )


def test_a_job_that_raises_does_not_stop_the_jobs_after_it() -> None:
    from resend_emulator.runtime import Jobs

    jobs, done = Jobs(), []
    jobs.set_paused(True)

    def broken() -> None:
        raise RuntimeError("an emulator bug")

    jobs.submit(broken)
    jobs.submit(lambda: done.append(1))
    jobs.run_pending()
    jobs.close()
    assert (done, jobs.failures) == ([1], 1)


def test_every_empty_cell_an_import_carries_is_recorded(team: Resend) -> None:
    # What an empty cell does to an existing contact is documented nowhere (#24): tests assert none is sent.
    start(team, "Email,First,Unsub,Plan,Seats\na@x.io,Ada,,pro,\nb@x.io,Bo,no,free,2\n")
    run(team)
    assert team.snapshot()["imports"][0]["empty_cells"] == [{"row": 1, "columns": ["Unsub", "Seats"]}]


def test_a_team_without_the_imports_beta_is_answered_403_on_every_imports_route(team: Resend) -> None:
    team.inspect("POST", "imports", {"available": False})
    for method, path, body in [("POST", "/contacts/imports", {"file": b"Email\na@x.io\n"}),
                               ("GET", "/contacts/imports", None), ("GET", "/contacts/imports/x", None)]:  # fmt: skip
        with pytest.raises(ApiError) as caught:
            team.call(method, path, {}, body)
        assert (caught.value.status, caught.value.name) == (403, "invalid_permission")
    team.inspect("POST", "imports", {"available": True})
    assert call(team, "GET", "/contacts/imports")["data"] == []
