"""WSGI entry point for gunicorn: `gunicorn vigil.wsgi`.

Start-up is refused when the encryption keys cannot read the database's encrypted records:
serving with the wrong keys would show errors at best and write unreadable data at worst.
"""

import os

from django.core.checks import run_checks
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vigil.settings")
application = get_wsgi_application()

_errors = [message for message in run_checks(tags=["vigil"]) if message.is_serious()]
if _errors:
    raise SystemExit("Vigil will not start: " + "; ".join(str(error) for error in _errors))
