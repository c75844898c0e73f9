"""The visit programme as an optimisation problem: which place to visit in which month.

Pure Python over plain data, so it can be tested and benchmarked without a database. Coverage is
soft: a place whose maximum interval ends within the period and that is not visited by then costs a
heavy penalty; the objective is the risk-weighted value of the visits made minus those penalties.

The planner solves the linear relaxation with GLOP (a proven upper bound in seconds; its optimal
basis leaves at most a handful of places fractional, since the only coupling constraints are one
capacity per month), fixes the integral part, settles the fractional places with a small MIP,
fills what capacity is left greedily, and, while time remains and the gap is above the target,
hands the whole MIP to SCIP with that programme as a hint. Greedy and random baselines are here
too, for the benchmark and for the tests.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ortools.linear_solver import pywraplp

INTEGRAL = 1e-6
DEFAULT_LATE_PENALTY = 100.0
TARGET_GAP = 0.005


@dataclass(frozen=True)
class Demand:
    """One place to plan. `due_month` is the month (0-based within the period) by which its
    maximum interval runs out — 0 when it already has — or None when it does not within the
    period; `days` is what a visit there costs in visit-days."""

    place_id: int
    value: float
    due_month: int | None
    days: int
    region_id: int | None = None


@dataclass(frozen=True)
class Problem:
    demands: tuple[Demand, ...]
    capacity: tuple[int, ...]  # visit-days per month, after the reserve
    locked: Mapping[int, int] = field(default_factory=dict)  # place id -> month
    late_penalty: float = DEFAULT_LATE_PENALTY

    @property
    def months(self) -> int:
        return len(self.capacity)


@dataclass
class Solution:
    months: dict[int, int]  # place id -> month of its visit
    objective: float
    bound: float | None
    status: str  # "optimal", "feasible"
    method: str
    seconds: float
    diagnosis: list[str] = field(default_factory=list)

    @property
    def gap(self) -> float | None:
        if self.bound is None:
            return None
        return max(0.0, self.bound - self.objective) / max(1.0, abs(self.bound))


def objective(problem: Problem, months: Mapping[int, int]) -> float:
    """The value of the visits made minus the penalties of the places left beyond their
    interval: the one definition every method and every test shares."""
    total = 0.0
    for demand in problem.demands:
        month = months.get(demand.place_id)
        if month is not None:
            total += demand.value
        if is_late(demand, month):
            total -= problem.late_penalty
    return total


def is_late(demand: Demand, month: int | None) -> bool:
    """Whether the place ends the period beyond its maximum interval under this programme."""
    if demand.due_month is None:
        return False
    return month is None or month > demand.due_month


def violations(problem: Problem, months: Mapping[int, int]) -> list[str]:
    """Every hard constraint the programme breaks (empty when it is feasible): the independent
    check the tests run on each method's output."""
    problems: list[str] = []
    known = {demand.place_id: demand for demand in problem.demands}
    load = [0] * problem.months
    for place_id, month in months.items():
        if place_id not in known:
            problems.append(f"place {place_id} is not in the problem")
            continue
        if not 0 <= month < problem.months:
            problems.append(f"place {place_id} is planned in month {month}, outside the period")
            continue
        load[month] += known[place_id].days
    for place_id, month in problem.locked.items():
        if months.get(place_id) != month:
            problems.append(f"locked place {place_id} moved from month {month}")
    locked_load = _locked_load(problem)
    for month, (used, available) in enumerate(zip(load, problem.capacity, strict=True)):
        if used > max(available, locked_load[month]):
            problems.append(f"month {month} uses {used} visit-days of {available}")
    return problems


def diagnose(problem: Problem) -> list[str]:
    """What cannot be met, and by how much: the words a person reads before the programme."""
    notes: list[str] = []
    locked_load = _locked_load(problem)
    for month, (locked, available) in enumerate(zip(locked_load, problem.capacity, strict=True)):
        if locked > available:
            notes.append(f"locked:{month}:{locked}:{available}")
    due = [demand for demand in problem.demands if demand.due_month is not None]
    needed = sum(demand.days for demand in due)
    available = sum(problem.capacity)
    if needed > available:
        notes.append(f"coverage:{len(due)}:{needed}:{available}")
    return notes


def _locked_load(problem: Problem) -> list[int]:
    load = [0] * problem.months
    days = {demand.place_id: demand.days for demand in problem.demands}
    for place_id, month in problem.locked.items():
        if place_id in days and 0 <= month < problem.months:
            load[month] += days[place_id]
    return load


def _capacity(problem: Problem) -> list[int]:
    """Each month's capacity, raised to its locked visits where those alone exceed it: the best
    programme without that one constraint, which the diagnosis names."""
    return [
        max(available, locked)
        for available, locked in zip(problem.capacity, _locked_load(problem), strict=True)
    ]


def _fill_greedily(
    problem: Problem, months: dict[int, int], remaining: list[int], order: Iterable[Demand]
) -> None:
    """Give each unplanned place, in `order`, the earliest month with room — before its due
    month when it has one and there is room then."""
    for demand in order:
        if demand.place_id in months or (demand.value <= 0 and demand.due_month is None):
            continue
        candidates = list(range(problem.months))
        if demand.due_month is not None:
            early = [m for m in candidates if m <= demand.due_month]
            candidates = early + [m for m in candidates if m > demand.due_month]
        for month in candidates:
            if remaining[month] >= demand.days:
                months[demand.place_id] = month
                remaining[month] -= demand.days
                break


def _start(problem: Problem) -> tuple[dict[int, int], list[int]]:
    months = {
        place_id: month for place_id, month in problem.locked.items() if 0 <= month < problem.months
    }
    remaining = _capacity(problem)
    days = {demand.place_id: demand.days for demand in problem.demands}
    for place_id, month in months.items():
        remaining[month] -= days.get(place_id, 0)
    return months, remaining


def greedy(problem: Problem) -> Solution:
    """The baseline a planner would do by hand: most overdue first, then highest risk, each in
    the earliest month with room."""
    began = time.perf_counter()
    months, remaining = _start(problem)
    order = sorted(
        problem.demands,
        key=lambda d: (d.due_month is None, d.due_month or 0, -d.value, d.place_id),
    )
    _fill_greedily(problem, months, remaining, order)
    return Solution(
        months,
        objective(problem, months),
        None,
        "feasible",
        "greedy",
        time.perf_counter() - began,
        diagnose(problem),
    )


def random_feasible(problem: Problem, seed: int = 0) -> Solution:
    """A feasible programme with no thought in it: places in random order, random months."""
    began = time.perf_counter()
    rng = random.Random(seed)  # noqa: S311 - a baseline for the benchmark, not a secret
    months, remaining = _start(problem)
    order = list(problem.demands)
    rng.shuffle(order)
    for demand in order:
        if demand.place_id in months:
            continue
        choices = [m for m in range(problem.months) if remaining[m] >= demand.days]
        if choices and rng.random() < 0.9:
            month = rng.choice(choices)
            months[demand.place_id] = month
            remaining[month] -= demand.days
    return Solution(
        months,
        objective(problem, months),
        None,
        "feasible",
        "random",
        time.perf_counter() - began,
        diagnose(problem),
    )


class _Model:
    """The place × month model, built with the solver's low-level calls (the expression API is
    several times slower to build at 60,000 variables)."""

    def __init__(self, problem: Problem, backend: str, integer: bool) -> None:
        solver = pywraplp.Solver.CreateSolver(backend)
        if solver is None:  # pragma: no cover - the wheel bundles them
            raise RuntimeError(f"OR-Tools has no {backend} solver here")
        self.solver = solver
        self.problem = problem
        infinity = solver.infinity()
        capacity = _capacity(problem)
        self.x: dict[tuple[int, int], pywraplp.Variable] = {}
        self.late: dict[int, pywraplp.Variable] = {}
        month_rows = [solver.Constraint(-infinity, capacity[m]) for m in range(problem.months)]
        goal = solver.Objective()
        goal.SetMaximization()
        for index, demand in enumerate(problem.demands):
            locked = problem.locked.get(demand.place_id)
            once = solver.Constraint(-infinity, 1)
            cover = None
            if demand.due_month is not None:
                late = solver.BoolVar(f"l{index}") if integer else solver.NumVar(0, 1, f"l{index}")
                self.late[demand.place_id] = late
                cover = solver.Constraint(1, infinity)
                cover.SetCoefficient(late, 1)
                goal.SetCoefficient(late, -problem.late_penalty)
            for month in range(problem.months):
                if locked is not None:
                    lower = upper = 1.0 if month == locked else 0.0
                else:
                    lower, upper = 0.0, 1.0
                var = (
                    solver.IntVar(lower, upper, f"x{index}_{month}")
                    if integer
                    else solver.NumVar(lower, upper, f"x{index}_{month}")
                )
                self.x[demand.place_id, month] = var
                once.SetCoefficient(var, 1)
                month_rows[month].SetCoefficient(var, demand.days)
                goal.SetCoefficient(var, demand.value)
                if cover is not None and month <= (demand.due_month or 0):
                    cover.SetCoefficient(var, 1)

    def solve(self, seconds: float) -> int:
        self.solver.SetTimeLimit(max(1, int(seconds * 1000)))
        return self.solver.Solve()

    def hint(self, months: Mapping[int, int]) -> None:
        variables, values = [], []
        for (place_id, month), var in self.x.items():
            variables.append(var)
            values.append(1.0 if months.get(place_id) == month else 0.0)
        for demand in self.problem.demands:
            if demand.place_id in self.late:
                variables.append(self.late[demand.place_id])
                values.append(1.0 if is_late(demand, months.get(demand.place_id)) else 0.0)
        self.solver.SetHint(variables, values)

    def chosen(self, threshold: float = 1 - INTEGRAL) -> dict[int, int]:
        return {
            place_id: month
            for (place_id, month), var in self.x.items()
            if var.solution_value() > threshold
        }


def solve(problem: Problem, time_limit: float = 10.0, target_gap: float = TARGET_GAP) -> Solution:
    """The best programme found within `time_limit` seconds, with its proven bound."""
    began = time.perf_counter()
    diagnosis = diagnose(problem)
    if not problem.demands:
        return Solution({}, 0.0, 0.0, "optimal", "planner", 0.0, diagnosis)

    relaxation = _Model(problem, "GLOP", integer=False)
    # Building the exact model costs about what building the relaxation did: keep it inside
    # the time limit.
    build_seconds = time.perf_counter() - began
    status = relaxation.solve(time_limit)
    if status != pywraplp.Solver.OPTIMAL:
        fallback = greedy(problem)
        fallback.method, fallback.diagnosis = "planner (greedy: no relaxation)", diagnosis
        return fallback
    bound = relaxation.solver.Objective().Value()

    # The integral part of the relaxation, then the fractional places with a small exact model.
    months, remaining = _start(problem)
    days = {demand.place_id: demand.days for demand in problem.demands}
    for place_id, month in relaxation.chosen().items():
        if place_id in months:
            continue
        if remaining[month] >= days[place_id]:
            months[place_id] = month
            remaining[month] -= days[place_id]
    fractional_ids = {
        place_id
        for (place_id, _month), var in relaxation.x.items()
        if INTEGRAL < var.solution_value() < 1 - INTEGRAL and place_id not in months
    }
    if fractional_ids:
        residual = Problem(
            demands=tuple(d for d in problem.demands if d.place_id in fractional_ids),
            capacity=tuple(max(0, r) for r in remaining),
            late_penalty=problem.late_penalty,
        )
        small = _Model(residual, "SCIP", integer=True)
        if small.solve(max(1.0, time_limit / 4)) in (
            pywraplp.Solver.OPTIMAL,
            pywraplp.Solver.FEASIBLE,
        ):
            for place_id, month in small.chosen(0.5).items():
                months[place_id] = month
                remaining[month] -= days[place_id]
    order = sorted(
        (d for d in problem.demands if d.place_id not in months),
        key=lambda d: (
            d.due_month is None,
            -d.value - (problem.late_penalty if d.due_month is not None else 0),
        ),
    )
    _fill_greedily(problem, months, remaining, order)
    best = Solution(
        months, objective(problem, months), bound, "feasible", "planner", 0.0, diagnosis
    )

    left = time_limit - (time.perf_counter() - began) - build_seconds
    if (best.gap or 0) > target_gap and left > 1:
        exact = _Model(problem, "SCIP", integer=True)
        exact.hint(best.months)
        status = exact.solve(left)
        if status in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            found = exact.chosen(0.5)
            value = objective(problem, found)
            if value > best.objective and not violations(problem, found):
                best.months, best.objective = found, value
            bound = min(bound, exact.solver.Objective().BestBound())
            best.bound = bound
    if (best.gap or 0) <= INTEGRAL:
        best.status = "optimal"
    best.seconds = time.perf_counter() - began
    return best
