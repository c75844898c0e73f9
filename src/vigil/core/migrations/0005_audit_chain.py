"""Seal the audit trail into one hash chain per body, and refuse TRUNCATE on PostgreSQL.

Entries written before this migration are sealed here, in the order they were written (time,
then id), so the chains cover the whole trail and `vigil audit verify` has no "before the
chain" exception to explain. On PostgreSQL the append-only trigger refuses the UPDATE this
needs; it is turned off for the duration of this one transaction (migrations run as the table's
owner) and on again before it commits.

The seal is computed by a copy of version 1 of `vigil.core.audit_chain.digest`, as a data
migration must not import the application; tests/core/test_audit_chain.py checks the two agree.
"""

import datetime
import hashlib
import ipaddress
import json

from django.db import migrations, models

BATCH = 1000


def _json_number(text):
    number = float(text)
    return int(number) if number.is_integer() else number


def _address(value):
    if not value:
        return None
    try:
        return ipaddress.ip_address(str(value)).exploded
    except ValueError:
        return str(value)


def digest_v1(row):
    payload = {
        "v": 1,
        "position": row["chain_position"],
        "body": row["body_id"],
        "created_at": row["created_at"]
        .astimezone(datetime.timezone.utc)
        .isoformat(timespec="microseconds"),
        "actor": row["actor_id"],
        "actor_label": row["actor_label"],
        "action": row["action"],
        "object_type": row["object_type"],
        "object_id": row["object_id"],
        "object_repr": row["object_repr"],
        "changes": json.loads(json.dumps(row["changes"]), parse_float=_json_number),
        "ip": _address(row["ip_address"]),
        "sensitive": bool(row["sensitive"]),
        "prev": row["prev_hash"],
    }
    text = json.dumps(
        payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


FIELDS = (
    "id",
    "body_id",
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "ip_address",
    "sensitive",
)


def seal_existing(apps, schema_editor):
    """Seal every entry not yet in a chain, after the chain's current end."""
    AuditEntry = apps.get_model("core", "AuditEntry")
    AuditChainHead = apps.get_model("core", "AuditChainHead")
    connection = schema_editor.connection
    alias = connection.alias
    unsealed = AuditEntry.objects.using(alias).filter(chain_position=None)
    if not unsealed.exists():
        return
    postgres = connection.vendor == "postgresql"
    if postgres:
        # ALTER TABLE refuses to run while foreign key checks wait for the commit: they are
        # made now (rows written in this same transaction, as in the tests, have some).
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute(
            "ALTER TABLE core_auditentry DISABLE TRIGGER core_auditentry_append_only"
        )
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    sql = (
        f"UPDATE {table} SET chain_position = %s, prev_hash = %s, hash = %s WHERE id = %s"
    )
    body_ids = unsealed.order_by().values_list("body_id", flat=True).distinct()
    for body_id in list(body_ids):
        chain = body_id or 0
        head = AuditChainHead.objects.using(alias).filter(chain=chain).first()
        position, last_hash = (head.count, head.last_hash) if head else (0, "")
        rows = (
            unsealed.filter(body_id=body_id) if body_id else unsealed.filter(body__isnull=True)
        )
        updates = []
        for row in rows.order_by("created_at", "id").values(*FIELDS).iterator(chunk_size=BATCH):
            position += 1
            row["chain_position"] = position
            row["prev_hash"] = last_hash
            last_hash = digest_v1(row)
            updates.append((position, row["prev_hash"], last_hash, row["id"]))
            if len(updates) >= BATCH:
                with connection.cursor() as cursor:
                    cursor.executemany(sql, updates)
                updates = []
        if updates:
            with connection.cursor() as cursor:
                cursor.executemany(sql, updates)
        AuditChainHead.objects.using(alias).update_or_create(
            chain=chain, defaults={"count": position, "last_hash": last_hash}
        )
    if postgres:
        schema_editor.execute(
            "ALTER TABLE core_auditentry ENABLE TRIGGER core_auditentry_append_only"
        )
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


# The trail and its heads refuse TRUNCATE, which skips row triggers. The test suite empties
# tables with TRUNCATE between tests and sets vigil.allow_audit_truncate on its connections
# (tests/settings.py); nothing else should. The role Vigil runs as is given no TRUNCATE at all
# (README, "The database roles").
CREATE_TRIGGERS = """
CREATE OR REPLACE FUNCTION vigil_audit_no_truncate() RETURNS trigger AS $$
BEGIN
  IF current_setting('vigil.allow_audit_truncate', true) = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'The audit trail cannot be truncated';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER core_auditentry_no_truncate
  BEFORE TRUNCATE ON core_auditentry
  FOR EACH STATEMENT EXECUTE FUNCTION vigil_audit_no_truncate();
CREATE TRIGGER core_auditchainhead_no_truncate
  BEFORE TRUNCATE ON core_auditchainhead
  FOR EACH STATEMENT EXECUTE FUNCTION vigil_audit_no_truncate();

CREATE OR REPLACE FUNCTION vigil_audit_head_forward_only() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'An audit chain head cannot be deleted';
  END IF;
  IF NEW.chain <> OLD.chain OR NEW.count < OLD.count
     OR (NEW.count = OLD.count AND NEW.last_hash <> OLD.last_hash) THEN
    RAISE EXCEPTION 'An audit chain head only moves forward';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER core_auditchainhead_forward_only
  BEFORE UPDATE OR DELETE ON core_auditchainhead
  FOR EACH ROW EXECUTE FUNCTION vigil_audit_head_forward_only();
"""
DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS core_auditchainhead_forward_only ON core_auditchainhead;
DROP FUNCTION IF EXISTS vigil_audit_head_forward_only();
DROP TRIGGER IF EXISTS core_auditchainhead_no_truncate ON core_auditchainhead;
DROP TRIGGER IF EXISTS core_auditentry_no_truncate ON core_auditentry;
DROP FUNCTION IF EXISTS vigil_audit_no_truncate();
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_TRIGGERS)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGERS)


class Migration(migrations.Migration):
    dependencies = [("core", "0004_notifications")]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("chain", models.PositiveBigIntegerField(primary_key=True, serialize=False)),
                ("count", models.PositiveBigIntegerField(default=0)),
                ("last_hash", models.CharField(blank=True, max_length=64)),
            ],
            options={"verbose_name": "audit chain head"},
        ),
        migrations.AddField(
            model_name="auditentry",
            name="chain_position",
            field=models.PositiveBigIntegerField(
                blank=True, editable=False, null=True, verbose_name="position in the chain"
            ),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="hash",
            field=models.CharField(blank=True, editable=False, max_length=64, verbose_name="seal"),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="prev_hash",
            field=models.CharField(
                blank=True, editable=False, max_length=64, verbose_name="previous seal"
            ),
        ),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.UniqueConstraint(
                fields=("body", "chain_position"), name="one_audit_entry_per_chain_position"
            ),
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.UniqueConstraint(
                condition=models.Q(("body__isnull", True)),
                fields=("chain_position",),
                name="one_bodyless_audit_entry_per_chain_position",
            ),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
