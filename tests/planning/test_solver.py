"""The planner's output checked by an independent checker, against a brute-force optimum on tiny
instances, and against the greedy baseline; the diagnosis of what cannot be met."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.planning.solver import (
    Demand,
    Problem,
    greedy,
    is_late,
    objective,
    random_feasible,
    solve,
    violations,
)


@st.composite
def problems(draw, max_places: int = 6, max_months: int = 3, locks: bool = True) -> Problem:
    months = draw(st.integers(1, max_months))
    count = draw(st.integers(1, max_places))
    demands = tuple(
        Demand(
            place_id=pk,
            value=draw(st.floats(0, 5, allow_nan=False).map(lambda v: round(v, 2))),
            due_month=draw(st.one_of(st.none(), st.integers(0, months - 1))),
            days=draw(st.integers(1, 4)),
        )
        for pk in range(1, count + 1)
    )
    capacity = tuple(draw(st.integers(0, 6)) for _month in range(months))
    locked = {}
    if locks:
        for demand in demands:
            if draw(st.integers(0, 5)) == 0:
                locked[demand.place_id] = draw(st.integers(0, months - 1))
    return Problem(demands, capacity, locked, late_penalty=10.0)


def brute_force(problem: Problem) -> float:
    """The best objective over every assignment (each place: no visit or one month)."""
    choices = [
        [problem.locked[d.place_id]]
        if d.place_id in problem.locked
        else [None, *range(problem.months)]
        for d in problem.demands
    ]
    best = float("-inf")
    for combination in itertools.product(*choices):
        months = {
            d.place_id: month
            for d, month in zip(problem.demands, combination, strict=True)
            if month is not None
        }
        if not violations(problem, months):
            best = max(best, objective(problem, months))
    return best


FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(problems())
def test_every_method_gives_a_programme_that_breaks_no_hard_constraint(problem):
    for solution in (solve(problem, time_limit=5), greedy(problem), random_feasible(problem)):
        assert violations(problem, solution.months) == [], solution.method
        assert solution.objective == objective(problem, solution.months)
        for place_id, month in problem.locked.items():
            assert solution.months[place_id] == month


@FAST
@given(problems(max_places=5, max_months=3))
def test_on_tiny_instances_the_planner_finds_the_optimum(problem):
    solution = solve(problem, time_limit=5, target_gap=0)
    assert abs(solution.objective - brute_force(problem)) < 1e-6
    assert solution.bound is not None and solution.bound >= solution.objective - 1e-6


@FAST
@given(problems(max_places=12, max_months=4, locks=False))
def test_the_planner_never_does_worse_than_the_greedy_baseline(problem):
    assert solve(problem, time_limit=5).objective >= greedy(problem).objective - 1e-6


def test_a_place_due_in_the_period_is_visited_by_then_when_capacity_allows():
    problem = Problem(
        (Demand(1, 0.1, 0, 2), Demand(2, 4.0, None, 2), Demand(3, 3.0, None, 2)),
        capacity=(2, 2),
        late_penalty=100.0,
    )
    solution = solve(problem)
    # The low-risk place is due in the first month: it goes first; the riskier other takes
    # the second month.
    assert solution.months == {1: 0, 2: 1}
    assert solution.status == "optimal"
    assert not any(is_late(d, solution.months.get(d.place_id)) for d in problem.demands)


def test_more_mandatory_visits_than_capacity_is_named_with_the_shortfall():
    problem = Problem(
        tuple(Demand(pk, 1.0, 0, 3) for pk in range(1, 6)),  # 5 places due now, 15 days
        capacity=(6, 3),
    )
    solution = solve(problem)
    assert solution.diagnosis == ["coverage:5:15:9"]
    assert violations(problem, solution.months) == []
    # The best programme without the impossible constraint: as many as fit (2 + 1).
    assert len(solution.months) == 3


def test_locked_visits_beyond_a_month_capacity_are_kept_and_named():
    problem = Problem(
        (Demand(1, 1.0, None, 4), Demand(2, 1.0, None, 4), Demand(3, 5.0, None, 1)),
        capacity=(5, 1),
        locked={1: 0, 2: 0},
    )
    solution = solve(problem)
    assert solution.diagnosis == ["locked:0:8:5"]
    assert solution.months[1] == 0 and solution.months[2] == 0
    assert solution.months[3] == 1  # nothing else in the over-full month
    assert violations(problem, solution.months) == []


def test_the_checker_catches_a_broken_programme():
    problem = Problem((Demand(1, 1.0, None, 3), Demand(2, 1.0, None, 3)), (4,), {2: 0})
    assert violations(problem, {1: 0, 2: 0}) == ["month 0 uses 6 visit-days of 4"]
    assert violations(problem, {1: 0}) == ["locked place 2 moved from month 0"]
    assert violations(problem, {1: 3, 2: 0}) == [
        "place 1 is planned in month 3, outside the period"
    ]
