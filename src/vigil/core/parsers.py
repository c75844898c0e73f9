"""The REST API's request parsers (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

A module of its own: DRF imports the parsers while it sets up its views, before `core/api.py`
can be imported.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers

from vigil.core import inputs


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing NUL characters in the fields as the request guard
    (`core.middleware.InputGuardMiddleware`) does for POST forms: a PUT or PATCH multipart
    body is parsed only here."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        for key, values in parsed.data.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                raise exceptions.ParseError(inputs.nul_message(key))
        return parsed
