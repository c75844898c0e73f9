"""The named personas of vigil.core.personas (the demo's people), as fixtures for every app."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from django.test import Client

from tests.factories import BodyFactory, MembershipFactory, UserFactory
from vigil.core.audit import register_action_labels
from vigil.core.models import Body, Membership, Role
from vigil.core.personas import BY_ROLE, BY_USERNAME, MEMBER, NATIONAL, OTHER

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A test that views a page in French must not leave the next test in French."""
    from django.utils import translation

    yield
    translation.activate("en")


@pytest.fixture
def body(db) -> Body:
    return BodyFactory(name="National Preventive Mechanism", slug=NATIONAL)


@pytest.fixture
def other_body(db) -> Body:
    return BodyFactory(name="Another Mechanism", slug=OTHER)


@pytest.fixture
def member_body(body) -> Body:
    return BodyFactory(name="Regional Member Body", slug=MEMBER, coordinator=body)


def _membership(body: Body, username: str, role: str) -> Membership:
    """The persona's membership, created on first use and the same one afterwards."""
    existing = Membership.objects.filter(user__username=username, body=body).first()
    if existing is not None:
        return existing
    return MembershipFactory(user=UserFactory(username=username), body=body, role=role)


@pytest.fixture
def personas(body, request) -> Callable[[str], Membership]:
    """`personas("leader")`: the membership of a persona of vigil.core.personas (the demo's
    people), created on first use in its body: the national body, its member body or another."""

    def make(username: str) -> Membership:
        spec = BY_USERNAME[username]
        if spec.body == NATIONAL:
            persona_body = body
        elif spec.body == MEMBER:
            persona_body = request.getfixturevalue("member_body")
        else:
            persona_body = request.getfixturevalue("other_body")
        return _membership(persona_body, spec.username, spec.role)

    return make


@pytest.fixture
def persona(personas) -> Callable[[str], Membership]:
    """The membership of the persona of `role` in the national body."""

    def make(role: str) -> Membership:
        return personas(BY_ROLE[role].username)

    return make


# Memberships of the named personas, for services (which take a membership).
@pytest.fixture
def head_membership(persona) -> Membership:
    return persona(Role.HEAD)


@pytest.fixture
def regional_membership(personas) -> Membership:
    """A monitor of the member body the national body coordinates."""
    return personas("regional")


@pytest.fixture
def outsider_membership(personas) -> Membership:
    """The head of another body: everything of `body` must be invisible to them."""
    return personas("outsider")


# Their users, for pages (which sign a person in).
@pytest.fixture
def head(persona):
    return persona(Role.HEAD).user


@pytest.fixture
def visit_leader(persona):
    return persona(Role.VISIT_LEADER).user


@pytest.fixture
def monitor(persona):
    return persona(Role.MONITOR).user


@pytest.fixture
def analyst(persona):
    return persona(Role.ANALYST).user


@pytest.fixture
def admin_user(persona):
    return persona(Role.ADMIN).user


@pytest.fixture
def auditor(persona):
    return persona(Role.AUDITOR).user


@pytest.fixture
def focal_point(persona):
    return persona(Role.AUTHORITY_FOCAL_POINT).user


@pytest.fixture
def outsider(outsider_membership):
    return outsider_membership.user


@pytest.fixture
def client_for() -> Callable[..., Client]:
    def make(user_or_membership) -> Client:
        client = Client()
        client.force_login(getattr(user_or_membership, "user", user_or_membership))
        return client

    return make


# Audit actions that only the tests write (the label-completeness test leaves them out).
TEST_ACTIONS = {
    "tests.counter.count": "counted a row",
    "core.body.read": "read the body's sensitive information",
}
register_action_labels(TEST_ACTIONS)
