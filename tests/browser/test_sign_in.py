"""Signing in and out through the real form."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_overview(page, head):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))

    page.get_by_label("Username").fill("head")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("You could not be signed in")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("National Preventive Mechanism")
    expect(page.get_by_text("You are working as Head.")).to_be_visible()


def test_signing_in_returns_to_the_page_asked_for(page, head):
    page.goto("/places/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/places/$"))
    page.get_by_label("Username").fill("head")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/places/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Places of deprivation of liberty")


def test_signing_out_ends_the_session(page, head):
    login(page, head)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("status")).to_contain_text("You have signed out.")

    page.goto("/places/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/places/$"))
