"""REST API for places: thin views over the same services and queries as the pages."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from vigil.core.api import (
    DefaultCursorPagination,
    VersionedViewSetMixin,
    VigilSerializerMixin,
    api_membership,
    conditional_responses,
    etag_header,
    if_match_parameter,
)
from vigil.core.api_filters import StrictFilterSetMixin
from vigil.core.guard import MemberViewSetMixin
from vigil.core.models import Membership, TaxonomyTerm
from vigil.core.text import validate_visible_text
from vigil.places import services
from vigil.places.filters import PlaceFilter
from vigil.places.models import OperatorKind, Place, PlaceIdentifier, PlaceStatus, Region
from vigil.places.permissions import PLACES
from vigil.places.queries import visible_places
from vigil.places.spec import API_FIELDS, COORDINATE_LIMITS, COORDINATE_RANGE_MESSAGES

_SIX_PLACES = Decimal("0.000001")


def _range_messages(name: str) -> dict[str, Any]:
    # A coordinate out of range gets the words of the form and of place_errors.
    message = COORDINATE_RANGE_MESSAGES[name]
    return {"min_value": message, "max_value": message}


class LinesField(serializers.ListField):
    """A list of names in the API, one name per line in the database."""

    child = serializers.CharField(max_length=300, validators=[validate_visible_text])

    def to_representation(self, data: Any) -> list[str]:
        return [line.strip() for line in (data or "").splitlines() if line.strip()]

    def to_internal_value(self, data: Any) -> str:  # type: ignore[override]
        return "\n".join(name.strip() for name in super().to_internal_value(data) if name.strip())


@extend_schema_field(OpenApiTypes.STR)
class TermField(serializers.RelatedField):
    """A type of place by its code or its label (in any of Vigil's languages, any case), as the
    import wizard reads it."""

    default_error_messages = {
        "unknown": "“{value}” is not a type of place of your body; give its code or its label.",
        "ambiguous": "“{value}” matches several types; give the code.",
        "invalid": "Give the type's code or label as text.",
    }

    def to_internal_value(self, data: Any) -> TaxonomyTerm:
        from vigil.places.importer import comparison_key, term_lookup

        if not isinstance(data, str) or not data.strip():
            self.fail("invalid")
        terms = list(self.get_queryset() or [])
        exact = [term for term in terms if term.code == data.strip()]
        if len(exact) == 1:
            return exact[0]
        found = term_lookup(terms).get(comparison_key(data), [])
        if len(found) == 1:
            return found[0]
        self.fail("ambiguous" if found else "unknown", value=data)
        raise AssertionError  # fail() raises

    def to_representation(self, value: Any) -> str:
        return value.code


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}], "nullable": True})
class RegionField(serializers.RelatedField):
    """A region by its id, its code, its name or its path (“Region > District”)."""

    default_error_messages = {
        "invalid": "Give the region's id, code, name or path.",
        "unknown": "{message}",
    }

    def to_internal_value(self, data: Any) -> Region:
        from vigil.places.importer import PlaceImporter, region_lookups

        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        regions = list(self.get_queryset() or [])
        if isinstance(data, int) or data.strip().isdigit():
            by_id = [region for region in regions if str(region.pk) == str(data).strip()]
            if by_id:
                return by_id[0]
            if isinstance(data, int):
                self.fail("unknown", message=f"There is no region {data} in your body.")
        errors: list[tuple[str, str]] = []
        region = PlaceImporter().find_region(str(data), region_lookups(regions), errors)
        if region is None:
            self.fail(
                "unknown", message=errors[0][1] if errors else str(self.error_messages["invalid"])
            )
        return region  # type: ignore[return-value]

    def to_representation(self, value: Any) -> int:
        return value.pk


class StatusField(serializers.ChoiceField):
    """A status by its value or label, in any case (“Closed”, “fermé”)."""

    def to_internal_value(self, data: Any) -> str:
        from vigil.places.importer import comparison_key, status_lookup

        if isinstance(data, str):
            status_value = status_lookup().get(comparison_key(data))
            if status_value is not None:
                return status_value
        return super().to_internal_value(data)


class CoordinateField(serializers.DecimalField):
    """Decimal degrees, rounded to six places (about 11 cm) as the importer rounds them."""

    def __init__(self, limit: int, name: str, **kwargs: Any) -> None:
        super().__init__(
            max_digits=None,
            decimal_places=None,
            min_value=-limit,
            max_value=limit,
            error_messages=_range_messages(name),
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> Decimal:
        value = super().to_internal_value(data)
        # The range is checked before rounding, as the importer does: 90.0000001 is refused.
        if self.max_value is not None and value > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        if self.min_value is not None and value < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        return value.quantize(_SIX_PLACES, rounding=ROUND_HALF_UP)


class PlaceIdentifierSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = PlaceIdentifier
        fields = ["scheme", "value"]
        read_only_fields = fields


class PlaceOutputSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    body: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    place_type: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    place_type_label = serializers.CharField(source="place_type.__str__", read_only=True)
    # Empty when nobody said who runs the place: the schema names the blank value too.
    operator_kind = serializers.ChoiceField(
        choices=OperatorKind.choices, allow_blank=True, read_only=True
    )
    region_name = serializers.CharField(
        source="region.name", read_only=True, default=None, allow_null=True
    )
    population_groups: Any = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True
    )
    aliases = LinesField(read_only=True)
    former_names = LinesField(read_only=True)
    identifiers = PlaceIdentifierSerializer(many=True, read_only=True)

    class Meta:
        model = Place
        # The place's fields from places.spec, and the labels the pages show beside them.
        fields = [*API_FIELDS, "place_type_label", "region_name"]
        read_only_fields = fields


class PlaceInputSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = Place

    external_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    name = serializers.CharField(max_length=300, validators=[validate_visible_text])
    place_type = TermField(
        queryset=TaxonomyTerm.objects.none(),
        help_text=(
            "One of the body's types of place, by code (e.g. `prison`) or by label in any of "
            "Vigil's languages, in any case (e.g. `Prison`)."
        ),
    )
    subtype = serializers.CharField(max_length=200, required=False, allow_blank=True)
    authority_name = serializers.CharField(
        max_length=300, required=False, allow_blank=True, validators=[validate_visible_text]
    )
    region = RegionField(
        queryset=Region.objects.none(),
        required=False,
        allow_null=True,
        help_text=(
            "One of the body's regions: its id, its code, its name, or its path as "
            "`Region > District` when a name is used twice."
        ),
    )
    address = serializers.CharField(required=False, allow_blank=True)
    locality = serializers.CharField(max_length=200, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=20, required=False, allow_blank=True)
    country = serializers.CharField(
        max_length=2,
        required=False,
        allow_blank=True,
        help_text="ISO 3166-1 alpha-2 code, e.g. `FR` (any case).",
    )
    operator_kind = serializers.ChoiceField(
        choices=[("", "Unknown"), *OperatorKind.choices], required=False, allow_blank=True
    )
    operator_name = serializers.CharField(
        max_length=300, required=False, allow_blank=True, validators=[validate_visible_text]
    )
    # DRF's metaclass takes declared fields off the class, so this does not shadow Field.source.
    source = serializers.CharField(  # type: ignore[assignment]
        max_length=300, required=False, allow_blank=True
    )
    identifiers = serializers.DictField(
        child=serializers.CharField(max_length=100, allow_blank=True),
        required=False,
        help_text=(
            "The place's identifiers under the body's schemes, as {scheme: value}, e.g. "
            '`{"national code": "PR-0042"}`; the whole set is replaced.'
        ),
    )
    latitude = CoordinateField(
        COORDINATE_LIMITS["latitude"],
        "latitude",
        required=False,
        allow_null=True,
        help_text="Decimal degrees; rounded to 6 decimals.",
    )
    longitude = CoordinateField(
        COORDINATE_LIMITS["longitude"],
        "longitude",
        required=False,
        allow_null=True,
        help_text="Decimal degrees; rounded to 6 decimals.",
    )
    official_capacity = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    population = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    population_date = serializers.DateField(required=False, allow_null=True)
    population_groups = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=TaxonomyTerm.objects.none(), required=False
    )
    status = StatusField(
        choices=PlaceStatus.choices,
        required=False,
        help_text="The value or its label, in any case (`closed`, `Closed`, `Fermé`).",
    )
    opened_on = serializers.DateField(required=False, allow_null=True)
    closed_on = serializers.DateField(required=False, allow_null=True)
    aliases = LinesField(required=False)
    former_names = LinesField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True)
    confidential_notes = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Encrypted at rest; never returned by the API.",
    )
    is_confidential = serializers.BooleanField(required=False)

    def __init__(self, *args: Any, membership: Membership | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if membership is not None:
            terms = TaxonomyTerm.objects.filter(body_id=membership.body_id, is_active=True)
            fields: Any = self.fields
            fields["place_type"].queryset = terms.filter(kind="place_type")
            fields["population_groups"].child_relation.queryset = terms.filter(
                kind="vulnerable_group"
            )
            fields["region"].queryset = Region.objects.filter(body_id=membership.body_id)

    def validate_country(self, value: str) -> str:
        return value.strip().upper()


class RegionSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Region
        fields = ["id", "name", "code", "parent", "level"]
        read_only_fields = fields


class PlaceFilterBackend(DjangoFilterBackend):
    """Hands the caller's membership to the filter set, so its choices are the body's own."""

    def get_filterset_kwargs(self, request: Request, queryset: QuerySet, view: Any) -> dict:
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        kwargs["membership"] = api_membership(request)
        return kwargs


class ApiPlaceFilter(StrictFilterSetMixin, PlaceFilter):
    """The page's filters; the API orders by cursor, so `sort` is left out (of the schema too)."""

    sort = None  # type: ignore[assignment]


class PlacePagination(DefaultCursorPagination):
    ordering = ("name", "id")  # type: ignore[assignment]


@extend_schema_view(
    list=extend_schema(summary="List and filter places"),
    retrieve=extend_schema(
        summary="One place",
        description="The ETag header names the place's version; send it back in If-Match.",
        parameters=[etag_header(200)],
    ),
    create=extend_schema(
        request=PlaceInputSerializer,
        responses={201: PlaceOutputSerializer},
        parameters=[etag_header(201)],
    ),
    update=extend_schema(
        summary="Replace a place",
        description="Needs If-Match with the ETag of the version the change is based on.",
        request=PlaceInputSerializer,
        parameters=[if_match_parameter(required=True), etag_header(200, 412)],
        responses=conditional_responses(PlaceOutputSerializer),
    ),
    partial_update=extend_schema(
        summary="Change some fields of a place",
        description="Needs If-Match with the ETag of the version the change is based on.",
        request=PlaceInputSerializer,
        parameters=[if_match_parameter(required=True), etag_header(200, 412)],
        responses=conditional_responses(PlaceOutputSerializer),
    ),
    destroy=extend_schema(
        summary="Move a place to the trash",
        parameters=[if_match_parameter(required=False)],
        responses=conditional_responses(None, ok_status=204, required=False),
    ),
)
class PlaceViewSet(
    VersionedViewSetMixin,
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Places of deprivation of liberty of the caller's body (and, for a coordinating body, its
    member bodies' places that are not confidential)."""

    permissions = PLACES
    model = Place
    action_permissions = {"create": "create", "export": "export"}
    serializer_class = PlaceOutputSerializer
    filter_backends = [PlaceFilterBackend]
    filterset_class = ApiPlaceFilter
    pagination_class = PlacePagination

    def scope_queryset(self, queryset: QuerySet[Place]) -> QuerySet[Place]:
        return queryset.select_related("place_type", "region", "body").prefetch_related(
            "population_groups", "identifiers"
        )

    def _input(self, partial: bool = False) -> PlaceInputSerializer:
        serializer = PlaceInputSerializer(
            data=self.request.data, membership=self.membership, partial=partial
        )
        serializer.is_valid(raise_exception=True)
        return serializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = dict(self._input().validated_data)
        groups = data.pop("population_groups", [])
        identifiers = data.pop("identifiers", None)
        place = services.place_create(
            membership=self.membership,
            data=data,
            population_groups=groups,
            identifiers=identifiers,
        )
        self.written(place)
        return Response(PlaceOutputSerializer(place).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        place = self.get_object()
        self.require("edit", place)
        # What the request asks is checked first: an invalid body is a 400 whatever its If-Match.
        data = dict(self._input(partial=kwargs.get("partial", False)).validated_data)
        expected_version = self.expected_version(place)
        groups = data.pop("population_groups", None)
        identifiers = data.pop("identifiers", None)
        place = services.place_update(
            membership=self.membership,
            place=place,
            data=data,
            population_groups=groups,
            identifiers=identifiers,
            expected_version=expected_version,
        )
        saved = self.get_queryset().get(pk=place.pk)
        self.written(saved)
        return Response(PlaceOutputSerializer(saved).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        place = self.get_object()
        self.require("delete", place)
        services.place_delete(
            membership=self.membership,
            place=place,
            expected_version=self.expected_version(place, required=False),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Export the filtered places as CSV (streamed) or Excel (in the background)",
        description=(
            "CSV is streamed at once. Excel is written by the task worker: the answer is 202 "
            "with the job; the person is notified when the file is ready, and downloads it "
            "from the job's page (`url`)."
        ),
        parameters=[
            OpenApiParameter("file_format", str, enum=["csv", "xlsx"], default="csv"),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (202, "application/json"): inline_serializer(
                "PlaceExportJob",
                {
                    "job": serializers.IntegerField(),
                    "status": serializers.CharField(),
                    "url": serializers.CharField(),
                },
            ),
        },
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def export(self, request: Request) -> Any:
        fmt = request.query_params.get("file_format", "csv")
        if fmt not in {"csv", "xlsx"}:
            return Response(
                {"file_format": ["Choose csv or xlsx."]}, status=status.HTTP_400_BAD_REQUEST
            )
        queryset = self.filter_queryset(visible_places(self.membership).select_related(None))
        result = services.places_export(
            membership=self.membership,
            queryset=queryset.order_by("name", "id"),
            fmt=fmt,
            filters=request.query_params.urlencode(),
            api=True,
        )
        if fmt == "xlsx":
            return Response(
                {
                    "job": result.pk,
                    "status": result.status,
                    "url": reverse("places:export_job", args=[result.pk]),
                },
                status=status.HTTP_202_ACCEPTED,
            )
        return result


class RegionViewSet(MemberViewSetMixin, viewsets.ReadOnlyModelViewSet):
    permissions = PLACES
    model = Region
    serializer_class = RegionSerializer
    pagination_class = None
