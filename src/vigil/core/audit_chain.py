"""The audit trail's hash chain: every entry sealed to the one before it in its body's chain.

`seal(entries)` is the one place seals are computed. Every way of writing entries calls it just
before the insert (`AuditEntry.save`, the entries' `bulk_create`, `core.bulk.bulk_insert`): it
locks the chain's head row, so two transactions never take the same position, and gives each
entry its position, the seal of the entry before it and its own seal, a SHA-256 of the entry's
content and that previous seal. Entries of no body (failed sign-ins of unknown usernames) form
one chain of their own.

`verify()` walks every chain and finds an entry changed after it was written, entries removed
(a gap in the positions, or the end cut off: the head remembers the length), entries slipped in
without a seal, and, given the heads recorded by an earlier run (`anchors`), a chain rewritten
from some point on. Whoever can write the database can recompute every seal after a change;
only heads kept elsewhere (the anchors file of `vigil audit verify --anchors`) catch that.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import ipaddress
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from vigil.core.models import AuditChainHead, AuditEntry, Body

# The content of an entry's seal, version 1. Never change what a version covers: entries already
# sealed would no longer verify. A new version gets a new number, and `digest` keeps the old one.
DIGEST_VERSION = 1
# The chain of the entries of no body.
BODYLESS_CHAIN = 0
# What an entry's seal covers, besides the version and the previous seal: everything but its
# id, which only orders rows in the table and may differ after a restore.
SEALED_FIELDS = (
    "chain_position",
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
    "prev_hash",
)


def chain_of(body_id: int | None) -> int:
    return body_id or BODYLESS_CHAIN


def _json_number(text: str) -> int | float:
    """A JSON number with a fraction or exponent as every database gives it back: PostgreSQL's
    jsonb returns 1e16 and 2.0 as whole numbers, so whole ones are sealed as whole numbers."""
    number = float(text)
    return int(number) if number.is_integer() else number


def _moment(value: datetime.datetime) -> str:
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value.astimezone(datetime.UTC).isoformat(timespec="microseconds")


@functools.lru_cache(maxsize=1024)
def _address(value: Any) -> str | None:
    if not value:
        return None
    try:
        # PostgreSQL's inet and Django's clean-up write an IPv6 address in different short forms.
        return ipaddress.ip_address(str(value)).exploded
    except ValueError:
        return str(value)


def digest(values: Mapping[str, Any]) -> str:
    """The seal of an entry whose sealed fields (SEALED_FIELDS) have `values`."""
    payload = {
        "v": DIGEST_VERSION,
        "position": values["chain_position"],
        "body": values["body_id"],
        "created_at": _moment(values["created_at"]),
        "actor": values["actor_id"],
        "actor_label": values["actor_label"],
        "action": values["action"],
        "object_type": values["object_type"],
        "object_id": values["object_id"],
        "object_repr": values["object_repr"],
        # Through JSON first: tuples become lists and keys strings, as the database stores them.
        "changes": json.loads(json.dumps(values["changes"]), parse_float=_json_number),
        "ip": _address(values["ip_address"]),
        "sensitive": bool(values["sensitive"]),
        "prev": values["prev_hash"],
    }
    text = json.dumps(
        payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_digest(entry: AuditEntry) -> str:
    return digest({name: getattr(entry, name) for name in SEALED_FIELDS})


# ---------- Writing ----------


def seal(entries: Sequence[AuditEntry], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Give each unsealed entry the next position in its chain and its seal (inside the
    transaction that inserts them: the chain heads stay locked until it ends)."""
    pending = [entry for entry in entries if not entry.hash]
    if not pending:
        return
    heads = _lock_heads(sorted({chain_of(entry.body_id) for entry in pending}), using)
    for entry in pending:
        head = heads[chain_of(entry.body_id)]
        head.count += 1
        entry.chain_position = head.count
        entry.prev_hash = head.last_hash
        entry.hash = entry_digest(entry)
        head.last_hash = entry.hash
    for head in heads.values():
        AuditChainHead.objects.using(using).filter(chain=head.chain).update(
            count=head.count, last_hash=head.last_hash
        )


def _lock_heads(chains: list[int], using: str) -> dict[int, AuditChainHead]:
    """The heads of `chains`, locked in one order (two writers never wait on each other in a
    circle); a chain's first entry creates its head."""
    locked = (
        AuditChainHead.objects.using(using)
        .select_for_update()
        .filter(chain__in=chains)
        .order_by("chain")
    )
    heads = {head.chain: head for head in locked}
    missing = [chain for chain in chains if chain not in heads]
    if missing:
        AuditChainHead.objects.using(using).bulk_create(
            [_new_head(chain, using) for chain in missing], ignore_conflicts=True
        )
        heads = {head.chain: head for head in locked.all()}
    return heads


def _new_head(chain: int, using: str) -> AuditChainHead:
    # A head lost while its chain has entries continues after the last one, rather than taking
    # positions already used (the trail's verification reports the loss).
    last = (
        _chain_entries(chain, using)
        .exclude(chain_position=None)
        .order_by("-chain_position")
        .values_list("chain_position", "hash")
        .first()
    )
    count, last_hash = last if last else (0, "")
    return AuditChainHead(chain=chain, count=count, last_hash=last_hash)


def _chain_entries(chain: int, using: str) -> Any:
    entries = AuditEntry.objects.using(using).order_by()
    if chain == BODYLESS_CHAIN:
        return entries.filter(body__isnull=True)
    return entries.filter(body_id=chain)


# ---------- Verifying ----------


@dataclass
class Problem:
    """One break in a chain, as the person running the check reads it."""

    kind: str  # altered, gap, link, duplicate, unsealed, end, head, anchor
    message: str
    entry_id: int | None = None
    position: int | None = None
    created_at: datetime.datetime | None = None


@dataclass
class ChainReport:
    chain: int
    name: str
    entries: int = 0
    last_position: int = 0
    last_hash: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def chain_name(chain: int, bodies: Mapping[int, Body]) -> str:
    if chain == BODYLESS_CHAIN:
        return "entries of no body"
    body = bodies.get(chain)
    return f"body {body.slug} (id {chain})" if body else f"body id {chain}"


def _when(moment: datetime.datetime | None) -> str:
    return f"{moment.astimezone(datetime.UTC):%Y-%m-%d %H:%M:%S} UTC" if moment else "?"


def verify(
    *, anchors: Mapping[int, tuple[int, str]] | None = None, using: str = DEFAULT_DB_ALIAS
) -> list[ChainReport]:
    """Every chain checked from its first entry to its head; `anchors` ({chain: (position,
    seal)} from an earlier run) must still be found where they were."""
    connection = connections[using]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # One snapshot of heads and entries: an entry written while the check runs is neither
        # half-seen nor mistaken for a changed head.
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return _verify(anchors, using)
    return _verify(anchors, using)


def _verify(anchors: Mapping[int, tuple[int, str]] | None, using: str) -> list[ChainReport]:
    bodies = Body.objects.using(using).in_bulk()
    heads = AuditChainHead.objects.using(using).in_bulk()
    chains = {
        chain_of(body_id)
        for body_id in AuditEntry.objects.using(using)
        .order_by()
        .values_list("body_id", flat=True)
        .distinct()
    }
    chains |= set(heads) | set(anchors or {})
    reports = []
    for chain in sorted(chains):
        report = ChainReport(chain=chain, name=chain_name(chain, bodies))
        anchor = (anchors or {}).get(chain)
        _walk(report, _chain_entries(chain, using), anchor)
        _check_head(report, heads.get(chain))
        reports.append(report)
    return reports


def _walk(report: ChainReport, entries: Any, anchor: tuple[int, str] | None) -> None:
    rows: Iterator[dict[str, Any]] = (
        entries.exclude(chain_position=None)
        .order_by("chain_position", "id")
        .values("id", "hash", *SEALED_FIELDS)
        .iterator(chunk_size=2000)
    )
    previous_hash = ""
    expected = 1
    anchor_seen = anchor is None or anchor[0] == 0
    for row in rows:
        report.entries += 1
        position = row["chain_position"]
        where = {"entry_id": row["id"], "position": position, "created_at": row["created_at"]}
        described = f"entry {row['id']} of {_when(row['created_at'])} (position {position})"
        if position < expected:
            report.problems.append(
                Problem("duplicate", f"{described} repeats a position already taken.", **where)
            )
        elif position > expected:
            missing = (
                f"Position {expected}"
                if position == expected + 1
                else f"Positions {expected} to {position - 1}"
            )
            report.problems.append(
                Problem(
                    "gap",
                    f"{missing} missing before {described}: entries were removed.",
                    **where,
                )
            )
        elif row["prev_hash"] != previous_hash:
            report.problems.append(
                Problem(
                    "link",
                    f"{described} does not follow the entry before it: an entry before it was "
                    "replaced, or this one was inserted afterwards.",
                    **where,
                )
            )
        if digest(row) != row["hash"]:
            report.problems.append(
                Problem("altered", f"{described} was changed after it was written.", **where)
            )
        if anchor is not None and position == anchor[0]:
            anchor_seen = True
            if row["hash"] != anchor[1]:
                report.problems.append(
                    Problem(
                        "anchor",
                        f"{described} is not the entry recorded at this position by an earlier "
                        "check: the chain was rewritten from here or before.",
                        **where,
                    )
                )
        previous_hash = row["hash"]
        expected = max(expected, position + 1)
        report.last_position = position
        report.last_hash = row["hash"]
    if not anchor_seen and anchor is not None:
        if report.last_position < anchor[0]:
            message = (
                f"An earlier check recorded {anchor[0]} entries; the chain now ends at position "
                f"{report.last_position}: entries were removed from its end."
            )
        else:
            message = (
                f"The entry an earlier check recorded at position {anchor[0]} is missing: "
                "entries were removed."
            )
        report.problems.append(Problem("anchor", message, position=anchor[0]))
    unsealed = entries.filter(chain_position=None).order_by("created_at", "id")
    count = unsealed.count()
    if count:
        first = unsealed.values("id", "created_at").first()
        assert first is not None
        report.problems.append(
            Problem(
                "unsealed",
                f"{count} entr{'y has' if count == 1 else 'ies have'} no seal (first: entry "
                f"{first['id']} of {_when(first['created_at'])}): written outside Vigil, "
                "past the chain.",
                entry_id=first["id"],
                created_at=first["created_at"],
            )
        )


def _check_head(report: ChainReport, head: AuditChainHead | None) -> None:
    if head is None:
        if report.entries:
            report.problems.append(Problem("head", "The chain's head is missing: it was deleted."))
        return
    if head.count > report.last_position:
        report.problems.append(
            Problem(
                "end",
                f"The chain's head records {head.count} entries; the last one found is at "
                f"position {report.last_position}: entries were removed from its end.",
            )
        )
    elif head.count < report.last_position or head.last_hash != report.last_hash:
        report.problems.append(
            Problem(
                "head",
                f"The chain's head (position {head.count}) does not match its last entry "
                f"(position {report.last_position}): the head was changed.",
            )
        )


def anchors_of(reports: Iterable[ChainReport]) -> dict[int, tuple[int, str]]:
    """Where each chain ends now, to record for the next check."""
    return {report.chain: (report.last_position, report.last_hash) for report in reports}
