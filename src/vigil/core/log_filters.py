"""Log filters for settings.LOGGING.

A request Vigil refuses or cannot find (403, 404) is an ordinary event, not a fault: it is logged
once, in a line, without the traceback of the PermissionDenied or Http404 that produced it. Server
errors (5xx) keep their traceback.
"""

from __future__ import annotations

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        status_code = getattr(record, "status_code", None)
        if isinstance(status_code, int) and 400 <= status_code < 500:
            record.exc_info = None
            record.exc_text = None
        return True
