"""Rules of core/access.py that survived mutation testing (bench/mutation.py): the body a request
acts in when it names one, and whose history a member may read."""

from __future__ import annotations

import pytest
from django.http import Http404
from django.test import RequestFactory

from tests.factories import MembershipFactory
from tests.testapp.models import Note
from vigil.core.access import BODY_HEADER, active_membership, visible, visible_history
from vigil.core.models import Role

pytestmark = pytest.mark.django_db


def _request(user, **meta):
    request = RequestFactory().get("/api/v1/places/", **meta)
    request.user = user
    request.session = {}
    return request


def test_a_request_acts_in_the_body_its_header_names(head_membership, other_body):
    elsewhere = MembershipFactory(user=head_membership.user, body=other_body, role=Role.MONITOR)
    # A slug built at run time, as one read from a header is: equal, not the same object.
    slug = "".join(list(other_body.slug))
    assert active_membership(_request(head_membership.user, **{BODY_HEADER: slug})) == elsewhere
    slug = "".join(list(head_membership.body.slug))
    chosen = active_membership(_request(head_membership.user, **{BODY_HEADER: slug}))
    assert chosen == head_membership


def test_a_header_naming_a_body_the_person_is_not_in_is_404(head_membership, other_body):
    for slug in (other_body.slug, "no-such-body"):
        with pytest.raises(Http404):
            active_membership(_request(head_membership.user, **{BODY_HEADER: slug}))


def test_history_of_a_sealed_record_is_for_those_who_may_read_it(body, persona):
    monitor, head = persona(Role.MONITOR), persona(Role.HEAD)
    sealed = Note.objects.create(body=body, title="Sealed interview", is_sealed=True)
    # The monitor may know the note exists, not read it: nor its history.
    assert visible(monitor, Note).filter(pk=sealed.pk).exists()
    assert not visible_history(monitor, Note).filter(pk=sealed.pk).exists()
    sealed.holders.add(monitor)
    assert visible_history(monitor, Note).filter(pk=sealed.pk).exists()
    assert not visible_history(head, Note).filter(pk=sealed.pk).exists()
