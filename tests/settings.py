"""Vigil's settings for the test suite: the production module, with synthetic secrets supplied.

Only what the environment would provide is set here, plus a fast password hasher (hashing
strength is not what the suite tests)."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-" + "t" * 40)
# A fixed, synthetic key: tests read raw rows to prove values are encrypted with it.
os.environ.setdefault("VIGIL_ENCRYPTION_KEYS", "dmlnaWwtdGVzdC1rZXktc3ludGhldGljLTMyYnl0ZXM=")

from vigil.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# An app that exists only in the tests, with a need-to-know record type (tests/testapp).
INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp.apps.TestAppConfig"]  # noqa: F405

if IS_POSTGRES:  # noqa: F405
    # Transactional tests are undone by TRUNCATE, which the audit trail otherwise refuses
    # (core migration 0005_audit_chain); the test of that refusal turns this off again.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (  # noqa: F405
        "-c vigil.allow_audit_truncate=on"
    )
