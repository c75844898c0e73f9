"""The API docs (Swagger UI, from Vigil's own static files) work under the strict
Content-Security-Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_api_docs_show_and_try_an_endpoint(page, head, registry):
    login(page, head)
    response = page.goto("/api/docs/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'; style-src 'self'; img-src 'self' data:;" in policy
    # Rendered by Swagger UI's scripts from the schema, and a request tried from the page:
    # nothing refused by the policy on the way (the page fixture fails the test on any refusal
    # the browser reports).
    path = page.locator(".opblock-summary-path", has_text="/api/v1/places/")
    operation = page.locator(".opblock-get", has=path).first
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status")
    expect(status).to_have_text("200")
    expect(operation.locator(".live-responses-table")).to_contain_text("Central Prison")
