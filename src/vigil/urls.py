"""Vigil's URLs: core's pages, each app's pages and API routes as the apps registered them
(core.registry), the API under /api/v1/, its schema and docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from vigil.core.api_auth import api_docs_view
from vigil.core.registry import page_url_includes

urlpatterns = [
    path("", include("vigil.core.urls")),
    *(path(entry.prefix, include(entry.module)) for entry in page_url_includes()),
    path("imports/", include("vigil.core.import_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("vigil.core.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (/api/docs/?script), and our
    # template its styles, so the docs page runs under the Content-Security-Policy without
    # inline scripts or styles.
    path(
        "api/docs/",
        api_docs_view(
            SpectacularSwaggerSplitView.as_view(
                url_name="schema", template_name="core/api_docs.html"
            )
        ),
        name="api_docs",
    ),
]

# Under /api/, a URL that matches no route answers JSON like every other API error.
handler404 = "vigil.core.api.not_found"
