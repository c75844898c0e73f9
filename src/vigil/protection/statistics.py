"""Statistics of the register of allegations, for the annual report and the public.

Figures count cases across the whole body (aggregates, not records: nobody is shown a case they
may not see). Every cell below the threshold (5 by default) is suppressed, and so is the total
of a breakdown whose suppressed cells could otherwise be recovered by subtraction, so that no
person can be recognised from a published table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F
from django.db.models.functions import ExtractYear

from vigil.core.models import Membership
from vigil.protection.models import Case, Outcome, PerpetratorCategory, Referral
from vigil.protection.permissions import PROTECTION

SMALL_CELL = 5


@dataclass(frozen=True)
class Cell:
    label: str
    count: int | None  # None: suppressed

    @property
    def suppressed(self) -> bool:
        return self.count is None


@dataclass(frozen=True)
class Table:
    title: str
    cells: list[Cell]
    total: int | None


def suppress(
    counts: Mapping[str, int], threshold: int = SMALL_CELL
) -> tuple[dict[str, int | None], int | None]:
    """Each count below `threshold` (but above 0) becomes None. When exactly one cell is
    suppressed, the next smallest is suppressed too, and the total is withheld whenever any
    cell is: a suppressed cell can then never be worked out from the others."""
    shown: dict[str, int | None] = {
        key: (None if 0 < value < threshold else value) for key, value in counts.items()
    }
    hidden = [key for key, value in shown.items() if value is None]
    if len(hidden) == 1:
        others = sorted((value, key) for key, value in shown.items() if value and key not in hidden)
        if others:
            shown[others[0][1]] = None
    total = sum(counts.values())
    if any(value is None for value in shown.values()):
        return shown, None
    if 0 < total < threshold:
        return shown, None
    return shown, total


def _table(
    title: str, counts: Mapping[Any, int], labels: Mapping[Any, str], threshold: int
) -> Table:
    shown, total = suppress({str(key): value for key, value in counts.items()}, threshold)
    cells = [
        Cell(labels.get(key, str(key)) if key is not None else "—", shown[str(key)])
        for key in counts
    ]
    return Table(title, cells, total)


def register_statistics(
    *, membership: Membership, threshold: int = SMALL_CELL, year: int | None = None
) -> list[Table]:
    """The register's tables, suppressed: by type of ill-treatment, alleged perpetrators, type
    of place, region, year; referrals by outcome."""
    from django.core.exceptions import PermissionDenied
    from django.utils.translation import gettext as _

    if not PROTECTION.can(membership, "statistics"):
        raise PermissionDenied
    cases = Case.objects.filter(body_id=membership.body_id)
    if year:
        cases = cases.filter(created_at__year=year)

    def counted(field: str) -> Counter[Any]:
        rows = cases.order_by().values(key=F(field)).annotate(n=Count("id"))
        return Counter({row["key"]: row["n"] for row in rows})

    themes = dict(
        cases.order_by().values_list("ill_treatment_id", "ill_treatment__label").distinct()
    )
    years = Counter(
        {
            row["y"]: row["n"]
            for row in cases.order_by()
            .annotate(y=ExtractYear("created_at"))
            .values("y")
            .annotate(n=Count("id"))
        }
    )
    referrals = Referral.objects.filter(case__in=cases.values("pk"))
    outcomes = Counter(
        {
            row["outcome"]: row["n"]
            for row in referrals.order_by().values("outcome").annotate(n=Count("id"))
        }
    )
    place_types = dict(
        cases.order_by()
        .values_list("current_place__place_type_id", "current_place__place_type__label")
        .distinct()
    )
    regions = dict(
        cases.order_by()
        .values_list("current_place__region_id", "current_place__region__name")
        .distinct()
    )
    return [
        _table(
            _("By type of ill-treatment"),
            counted("ill_treatment_id"),
            {k: _(v) for k, v in themes.items() if v},
            threshold,
        ),
        _table(
            _("By alleged perpetrators"),
            counted("perpetrator_category"),
            {k: str(v) for k, v in PerpetratorCategory.choices},
            threshold,
        ),
        _table(
            _("By type of place"),
            counted("current_place__place_type_id"),
            {k: _(v) for k, v in place_types.items() if v},
            threshold,
        ),
        _table(
            _("By region"),
            counted("current_place__region_id"),
            {k: v for k, v in regions.items() if v},
            threshold,
        ),
        _table(_("By year"), years, {y: str(y) for y in years}, threshold),
        _table(
            _("Referrals by outcome"), outcomes, {k: str(v) for k, v in Outcome.choices}, threshold
        ),
    ]
