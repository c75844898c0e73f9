"""The audit trail's hash chains: every way of writing entries seals them into their body's chain,
and `vigil audit verify` finds an entry changed, removed or slipped in, the end of a chain cut
off, and with its anchors a chain rewritten with new seals. On PostgreSQL the trail and its
heads cannot be truncated and a head only moves forward."""

from __future__ import annotations

import importlib
import io
import json
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, connections, transaction

import vigil.core.migrations
from tests.factories import PlaceFactory
from tests.places.test_import import rows_csv, run_import
from vigil.core import bulk, services
from vigil.core.audit import audit, audit_read, build_entry
from vigil.core.audit_chain import BODYLESS_CHAIN, digest, entry_digest, verify
from vigil.core.models import AuditChainHead, AuditEntry, Membership, Role
from vigil.places import services as place_services

pytestmark = pytest.mark.django_db
POSTGRES = connection.vendor == "postgresql"
only_postgres = pytest.mark.skipif(not POSTGRES, reason="the triggers exist on PostgreSQL")


def tamper(sql: str, params: list | tuple = ()) -> None:
    """Change the trail as the owner of its table can: on PostgreSQL past the triggers, turned
    off and on again inside the test's transaction."""
    with connection.cursor() as cursor:
        if POSTGRES:
            # Foreign keys are checked at commit; ALTER TABLE wants no such check pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE core_auditentry DISABLE TRIGGER USER")
            cursor.execute("ALTER TABLE core_auditchainhead DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if POSTGRES:
            cursor.execute("ALTER TABLE core_auditentry ENABLE TRIGGER USER")
            cursor.execute("ALTER TABLE core_auditchainhead ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def run_verify(*args: str) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("vigil", "audit", "verify", *args, stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def problems_of(chain: int) -> list:
    return next(report.problems for report in verify() if report.chain == chain)


def chain_rows(chain: int) -> list[AuditEntry]:
    entries = AuditEntry.objects.order_by("chain_position")
    if chain == BODYLESS_CHAIN:
        return list(entries.filter(body__isnull=True))
    return list(entries.filter(body_id=chain))


def assert_whole(chain: int) -> list[AuditEntry]:
    """The chain's positions run 1..n, each entry names the seal before it, each seal is the
    digest of its entry, and the head records the end."""
    rows = chain_rows(chain)
    assert [entry.chain_position for entry in rows] == list(range(1, len(rows) + 1))
    previous = ""
    for entry in rows:
        assert entry.prev_hash == previous
        assert entry.hash == entry_digest(entry)
        previous = entry.hash
    head = AuditChainHead.objects.get(chain=chain)
    assert (head.count, head.last_hash) == (len(rows), previous)
    return rows


def some_entries(body, head, count: int = 5) -> list[AuditEntry]:
    place = PlaceFactory(body=body)
    return [
        audit(actor=head, action="places.place.update", obj=place, changes={"n": [i, i + 1]})
        for i in range(count)
    ]


# ---------- Every writer seals ----------


def test_every_way_of_writing_entries_keeps_each_chain_whole(body, other_body, head_membership):
    head = head_membership.user
    Membership.objects.create(user=head, body=other_body, role=Role.MONITOR)
    place = PlaceFactory(body=body, confidential_notes="secret")
    audit(actor=head, action="places.place.update", obj=place, changes={"name": ["A", "B"]})
    audit_read(actor=head, obj=place, fields=["confidential_notes"], purpose="visit")
    # One entry in each of the person's bodies, written with bulk_create.
    services.login_record_success(user=head)
    # An unknown username: an entry of no body.
    services.login_record_failure(username="nobody-at-all", ip_address="203.0.113.9")
    # A places import, whose entries are written with core.bulk.bulk_insert (COPY on PostgreSQL).
    data = rows_csv(
        [
            ["P-1", "Central Prison", "prison", "", "1 Main", "", "", "", "", ""],
            ["P-2", "Harbour Station", "prison", "", "2 Quay", "", "", "", "", ""],
        ]
    )
    run_import(head_membership, data)
    assert AuditEntry.objects.filter(action="places.place.create", body=body).count() == 2
    # Entries of two bodies in one bulk write, and the places service's bulk audit.
    bulk.bulk_insert(
        AuditEntry,
        [
            build_entry(actor=head, action="core.body.update_settings", body=other_body),
            build_entry(actor=head, action="core.body.update_settings", body=body),
        ],
    )
    place_services.bulk_audit(
        [build_entry(actor=head, action="places.place.update", obj=place, changes={})]
    )
    AuditEntry.objects.create(actor_label="system", action="core.keys.rotate")

    reports = {report.chain: report for report in verify()}
    assert set(reports) == {body.pk, other_body.pk, BODYLESS_CHAIN}
    assert all(report.intact for report in reports.values()), [
        problem.message for report in reports.values() for problem in report.problems
    ]
    national = assert_whole(body.pk)
    assert {"places.place.read", "core.user.login", "places.place.create"} <= {
        entry.action for entry in national
    }
    assert len(assert_whole(other_body.pk)) == 2
    assert [entry.action for entry in assert_whole(BODYLESS_CHAIN)] == [
        "core.user.login_failed",
        "core.keys.rotate",
    ]
    assert reports[body.pk].entries == len(national)
    output, error = run_verify()
    assert error is None
    assert "Every chain is intact." in output


def test_an_entry_sealed_once_is_not_sealed_again(body, head):
    entry = build_entry(actor=head, action="core.body.update_settings", body=body)
    bulk.bulk_insert(AuditEntry, [entry])
    first = (entry.chain_position, entry.hash)
    # bulk_insert falls back to bulk_create, which seals too: the entry keeps its one position.
    assert AuditChainHead.objects.get(chain=body.pk).count == 1
    assert (entry.chain_position, entry.hash) == first == (1, entry_digest(entry))


def test_audit_entries_cannot_be_bulk_inserted_as_rows(body):
    with pytest.raises(ValueError, match="sealed"):
        bulk.bulk_insert(AuditEntry, [(body.pk, "core.keys.rotate")], fields=["body", "action"])
    assert not AuditEntry.objects.exists()


def test_the_seal_covers_what_the_database_gives_back(body, head):
    """Values the database stores in another form (IPv6 short forms, whole floats in jsonb,
    tuples, keys that are numbers) seal the same before and after the round trip."""
    entry = build_entry(
        actor=head,
        action="core.body.update_settings",
        body=body,
        changes={"ratio": [2.0, 1e16], "tuple": (1, "two"), 3: "three", "text": "é\u2028\"'"},
    )
    entry.ip_address = "2001:0db8:0000:0000:0000:0000:0000:0001"
    entry.save(force_insert=True)
    stored = AuditEntry.objects.get(pk=entry.pk)
    assert stored.hash == entry.hash == entry_digest(stored)


# ---------- What verification finds ----------


def test_a_changed_entry_is_reported_with_its_body_id_and_time(body, head):
    entries = some_entries(body, head)
    target = entries[2]
    tamper(
        "UPDATE core_auditentry SET changes = %s WHERE id = %s",
        [json.dumps({"n": [0, 99]}), target.pk],
    )
    problems = problems_of(body.pk)
    assert [(problem.kind, problem.entry_id) for problem in problems] == [("altered", target.pk)]
    output, error = run_verify()
    assert error is not None
    assert "failed verification" in str(error)
    assert f"BROKEN  body {body.slug} (id {body.pk})" in output
    assert f"entry {target.pk} of {target.created_at:%Y-%m-%d %H:%M:%S} UTC (position 3)" in output
    assert "was changed after it was written" in output


def test_a_removed_entry_leaves_a_gap(body, head):
    entries = some_entries(body, head)
    tamper("DELETE FROM core_auditentry WHERE id = %s", [entries[1].pk])
    problems = problems_of(body.pk)
    assert [(problem.kind, problem.entry_id) for problem in problems] == [("gap", entries[2].pk)]
    output, error = run_verify()
    assert error is not None
    assert f"Position 2 missing before entry {entries[2].pk}" in output


def test_entries_cut_off_at_the_end_are_found_by_the_head(body, head):
    entries = some_entries(body, head)
    tamper("DELETE FROM core_auditentry WHERE id IN (%s, %s)", [entries[3].pk, entries[4].pk])
    assert [problem.kind for problem in problems_of(body.pk)] == ["end"]
    output, error = run_verify()
    assert error is not None
    assert "records 5 entries; the last one found is at position 3" in output


def test_a_truncated_trail_is_found_by_its_heads(body, head):
    some_entries(body, head)
    tamper("DELETE FROM core_auditentry")
    assert [problem.kind for problem in problems_of(body.pk)] == ["end"]
    assert run_verify()[1] is not None


def test_an_entry_slipped_in_without_a_seal_is_reported(body, head):
    some_entries(body, head, 2)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_auditentry (created_at, body_id, actor_label, action, object_type,"
            " object_id, object_repr, changes, sensitive, prev_hash, hash)"
            " VALUES (%s, %s, 'ghost', 'core.user.login', '', '', '', '{}', %s, '', '')",
            ["2020-01-01T00:00:00+00:00", body.pk, False],
        )
    problems = problems_of(body.pk)
    assert [problem.kind for problem in problems] == ["unsealed"]
    assert "1 entry has no seal" in problems[0].message


def test_an_entry_inserted_in_the_middle_breaks_the_link(body, head):
    entries = some_entries(body, head, 3)
    # Entries 2 and 3 move up one position (in two steps: a position is never held twice) and
    # a forged entry, sealed after entry 1, takes position 2.
    moved = "UPDATE core_auditentry SET chain_position = chain_position + %s WHERE body_id = %s"
    tamper(f"{moved} AND chain_position >= 2", [10, body.pk])
    tamper(f"{moved} AND chain_position >= 12", [-9, body.pk])
    forged = {
        "chain_position": 2,
        "body_id": body.pk,
        "created_at": entries[1].created_at,
        "actor_id": None,
        "actor_label": "ghost",
        "action": "core.user.login",
        "object_type": "",
        "object_id": "",
        "object_repr": "",
        "changes": {},
        "ip_address": None,
        "sensitive": False,
        "prev_hash": entries[0].hash,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_auditentry (created_at, body_id, actor_label, action, object_type,"
            " object_id, object_repr, changes, sensitive, chain_position, prev_hash, hash)"
            " VALUES (%s, %s, 'ghost', 'core.user.login', '', '', '', '{}', %s, 2, %s, %s)",
            [forged["created_at"], body.pk, False, entries[0].hash, digest(forged)],
        )
    problems = problems_of(body.pk)
    # The forged entry itself is well sealed; the entry after it names another predecessor and
    # its seal does not cover its new position; the head no longer matches the end.
    assert (problems[0].kind, problems[0].entry_id) == ("link", entries[1].pk)
    assert {problem.kind for problem in problems} == {"link", "altered", "head"}


def test_a_rewritten_chain_is_found_only_with_the_anchors(body, head, tmp_path):
    entries = some_entries(body, head, 4)
    anchors = tmp_path / "anchors.json"
    output, error = run_verify("--anchors", str(anchors))
    assert error is None
    assert "No anchors at" in output
    assert json.loads(anchors.read_text())["chains"][str(body.pk)] == {
        "position": 4,
        "hash": entries[-1].hash,
    }
    # The owner of the table changes entry 2 and seals it and every later entry again, head
    # included: nothing inside the database tells.
    rows = chain_rows(body.pk)
    rows[1].changes = {"n": [1, 1000]}
    previous = rows[0].hash
    for entry in rows[1:]:
        entry.prev_hash = previous
        entry.hash = entry_digest(entry)
        previous = entry.hash
        tamper(
            "UPDATE core_auditentry SET changes = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [json.dumps(entry.changes), entry.prev_hash, entry.hash, entry.pk],
        )
    tamper("UPDATE core_auditchainhead SET last_hash = %s WHERE chain = %s", [previous, body.pk])
    assert run_verify()[1] is None
    output, error = run_verify("--anchors", str(anchors))
    assert error is not None
    assert "was rewritten" in output
    assert "anchors file was left as it was" in str(error)
    assert json.loads(anchors.read_text())["chains"][str(body.pk)]["hash"] == entries[-1].hash


def test_an_end_cut_off_with_its_head_moved_back_is_found_with_the_anchors(body, head, tmp_path):
    entries = some_entries(body, head, 4)
    anchors = tmp_path / "anchors.json"
    assert run_verify("--anchors", str(anchors))[1] is None
    tamper("DELETE FROM core_auditentry WHERE id IN (%s, %s)", [entries[2].pk, entries[3].pk])
    tamper(
        "UPDATE core_auditchainhead SET count = 2, last_hash = %s WHERE chain = %s",
        [entries[1].hash, body.pk],
    )
    assert run_verify()[1] is None
    output, error = run_verify("--anchors", str(anchors))
    assert error is not None
    assert "An earlier check recorded 4 entries; the chain now ends at position 2" in output


def test_a_damaged_anchors_file_is_refused(tmp_path, body, head):
    some_entries(body, head, 1)
    path = tmp_path / "anchors.json"
    path.write_text('{"format": "something else"}')
    with pytest.raises(CommandError, match="not an anchors file"):
        call_command("vigil", "audit", "verify", "--anchors", str(path), stdout=io.StringIO())
    path.write_text("{not json")
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("vigil", "audit", "verify", "--anchors", str(path), stdout=io.StringIO())


# ---------- Entries written before the chain ----------


def _chain_migration():
    names = [
        path.stem for path in Path(vigil.core.migrations.__file__).parent.glob("*_audit_chain.py")
    ]
    assert len(names) == 1
    return importlib.import_module(f"vigil.core.migrations.{names[0]}")


def test_the_migration_seals_the_entries_written_before_the_chain(body, other_body, head):
    some_entries(body, head, 3)
    some_entries(other_body, head, 2)
    services.login_record_failure(username="nobody-at-all", ip_address="2001:db8::7")
    # As they were before the migration: no position, no seal, no heads.
    tamper("UPDATE core_auditentry SET chain_position = NULL, prev_hash = '', hash = ''")
    tamper("DELETE FROM core_auditchainhead")
    assert {problem.kind for report in verify() for problem in report.problems} == {"unsealed"}

    def execute(sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)

    editor = SimpleNamespace(connection=connection, execute=execute)
    _chain_migration().seal_existing(django_apps, editor)
    # The migration's own copy of the seal and the application's agree.
    assert all(report.intact for report in verify())
    assert len(assert_whole(body.pk)) == 3
    assert len(assert_whole(other_body.pk)) == 2
    assert len(assert_whole(BODYLESS_CHAIN)) == 1
    # New entries continue the chains.
    some_entries(body, head, 1)
    assert len(assert_whole(body.pk)) == 4


# ---------- The database itself (PostgreSQL) ----------


def _refused(sql: str, params: list | tuple = ()) -> None:
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@only_postgres
def test_the_trail_and_its_heads_cannot_be_truncated(body, head):
    some_entries(body, head, 2)
    with connection.cursor() as cursor:
        # The test suite empties tables by TRUNCATE and allows it on its connections.
        cursor.execute("SET LOCAL vigil.allow_audit_truncate = 'off'")
    _refused("TRUNCATE core_auditentry")
    _refused("TRUNCATE core_auditchainhead")
    assert AuditEntry.objects.filter(body=body).count() == 2
    assert AuditChainHead.objects.get(chain=body.pk).count == 2


@only_postgres
def test_a_head_only_moves_forward(body, head):
    entries = some_entries(body, head, 2)
    _refused("DELETE FROM core_auditchainhead WHERE chain = %s", [body.pk])
    _refused("UPDATE core_auditchainhead SET count = 1 WHERE chain = %s", [body.pk])
    _refused("UPDATE core_auditchainhead SET last_hash = 'x' WHERE chain = %s", [body.pk])
    head_row = AuditChainHead.objects.get(chain=body.pk)
    assert (head_row.count, head_row.last_hash) == (2, entries[-1].hash)


@only_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_take_turns_in_a_chain(body, head):
    """Writers in several connections at once: each transaction waits for the chain's head, so
    no two entries take one position and the chain stays whole."""
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def write(worker: int) -> None:
        try:
            start.wait()
            for index in range(10):
                with transaction.atomic():
                    audit(
                        actor=head,
                        action="core.body.update_settings",
                        body=body,
                        changes={"worker": worker, "index": index},
                    )
                    if index % 3 == 0:
                        # Also in bulk, in the same transaction.
                        bulk.bulk_insert(
                            AuditEntry,
                            [
                                build_entry(
                                    actor=head, action="core.body.update_settings", body=body
                                )
                                for _ in range(3)
                            ],
                        )
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(assert_whole(body.pk)) == 4 * (10 + 4 * 3)
    assert all(report.intact for report in verify())


def test_a_second_entry_at_a_taken_position_is_refused(body, head):
    entries = some_entries(body, head, 1)
    duplicate = build_entry(actor=head, action="core.body.update_settings", body=body)
    duplicate.chain_position, duplicate.prev_hash = 1, ""
    duplicate.hash = entry_digest(duplicate)
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save(force_insert=True)
    assert list(AuditEntry.objects.filter(body=body)) == entries
