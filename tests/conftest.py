"""Named personas, one per role, in one body; plus a member of another body."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from django.test import Client

from tests.factories import BodyFactory, MembershipFactory, UserFactory
from vigil.core.models import Body, Membership, Role

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def body(db) -> Body:
    return BodyFactory(name="National Preventive Mechanism", slug="npm")


@pytest.fixture
def other_body(db) -> Body:
    return BodyFactory(name="Another Mechanism", slug="other")


@pytest.fixture
def member_body(body) -> Body:
    return BodyFactory(name="Regional Member Body", slug="member", coordinator=body)


def _persona(body: Body, username: str, role: str) -> Membership:
    return MembershipFactory(user=UserFactory(username=username), body=body, role=role)


@pytest.fixture
def persona(body) -> Callable[[str], Membership]:
    """The membership of the persona of `role` in the body (created on first use)."""

    def make(role: str) -> Membership:
        return _persona(body, role.replace("_", "-"), role)

    return make


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
def outsider(other_body):
    """The head of another body: everything of `body` must be invisible to them."""
    return _persona(other_body, "outsider", Role.HEAD).user


@pytest.fixture
def client_for() -> Callable[..., Client]:
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
