"""Published figures of the register suppress small cells so that nobody can be recognised."""

from __future__ import annotations

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from vigil.core.models import Role
from vigil.protection import services
from vigil.protection.statistics import SMALL_CELL, register_statistics, suppress

counts = st.dictionaries(st.text(min_size=1, max_size=4), st.integers(0, 40), max_size=8)


@given(counts, st.integers(2, 10))
def test_no_small_cell_can_be_read_or_worked_out(table, threshold):
    shown, total = suppress(table, threshold)
    assert set(shown) == set(table)
    for key, value in shown.items():
        assert value is None or value == table[key]
        assert value is None or value == 0 or value >= threshold
        if 0 < table[key] < threshold:
            assert value is None
    hidden = [key for key, value in shown.items() if value is None]
    if hidden:
        # The total would give a lone suppressed cell away; and one is never alone when others
        # could be subtracted from a known total elsewhere.
        assert total is None
        nonzero = [key for key, value in table.items() if value]
        assert len(hidden) >= 2 or len(nonzero) == 1
    elif total is not None:
        assert total == sum(table.values())
        assert total == 0 or total >= threshold


@pytest.mark.django_db
def test_the_register_tables_suppress_small_counts(persona, place, holder, client_for):
    for _ in range(6):
        services.case_create(
            membership=holder,
            data={"source": "letter", "current_place": place, "perpetrator_category": "police"},
        )
    services.case_create(
        membership=holder,
        data={"source": "letter", "current_place": place, "perpetrator_category": "health_staff"},
    )
    tables = register_statistics(membership=persona(Role.ANALYST))
    perpetrators = {cell.label: cell.count for cell in tables[1].cells}
    assert perpetrators == {"Police": None, "Health staff": None}
    assert tables[1].total is None
    assert SMALL_CELL == 5
    page = client_for(persona(Role.HEAD)).get(reverse("protection:statistics"))
    assert page.status_code == 200 and "fewer than 5" in page.content.decode()
    assert client_for(holder).get(reverse("protection:statistics")).status_code == 403
