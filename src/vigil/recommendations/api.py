"""REST API for authorities, recommendations and the dialogue with authorities (`responses`):
thin views over the same services and queries as the pages."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from vigil.core.access import visible
from vigil.core.api import (
    DefaultCursorPagination,
    VersionedViewSetMixin,
    VigilSerializerMixin,
    api_membership,
    conditional_responses,
    etag_header,
    if_match_parameter,
)
from vigil.core.api_filters import StrictBooleanFilter, VigilFilterSet
from vigil.core.guard import MemberViewSetMixin
from vigil.core.models import Membership, TaxonomyTerm
from vigil.places.models import Place
from vigil.recommendations import recurrence, services
from vigil.recommendations.models import (
    Assessment,
    AssessmentChange,
    Authority,
    AuthorityKind,
    Exchange,
    ExchangeKind,
    Position,
    PositionChange,
    Priority,
    Recommendation,
    SourceKind,
    VerificationMethod,
)
from vigil.recommendations.permissions import RECOMMENDATIONS
from vigil.recommendations.rules import GIVEN_POSITIONS
from vigil.visits.models import Observation, Visit


class _ScopedPrimaryKeys(serializers.PrimaryKeyRelatedField):
    """Ids of records the caller may see (of their own body): any other id is "does not
    exist", exactly like a missing one."""

    def __init__(self, model: type[Any], *, body_path: str = "body_id", **kwargs: Any) -> None:
        self.model = model
        self.body_path = body_path
        kwargs.setdefault("queryset", model.objects.none())
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        membership: Membership | None = self.context.get("membership")
        if membership is None:
            return self.model.objects.none()
        if self.model is TaxonomyTerm:
            return TaxonomyTerm.objects.filter(body_id=membership.body_id, kind="theme")
        return visible(membership, self.model).filter(**{self.body_path: membership.body_id})


# ---------- Authorities ----------


class AuthoritySerializer(VigilSerializerMixin, serializers.ModelSerializer):
    places: Any = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    # May be empty: plain text in the answer, not an "email" format.
    email = serializers.CharField(read_only=True)

    class Meta:
        model = Authority
        fields = [
            "id",
            "name",
            "kind",
            "parent",
            "email",
            "phone",
            "address",
            "contact_points",
            "places",
            "version",
        ]
        read_only_fields = fields


class AuthorityInputSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = Authority

    name = serializers.CharField(max_length=300)
    kind = serializers.ChoiceField(choices=AuthorityKind.choices, required=False)
    parent: Any = _ScopedPrimaryKeys(Authority, required=False, allow_null=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=60, required=False, allow_blank=True)
    address = serializers.CharField(required=False, allow_blank=True)
    contact_points = serializers.CharField(required=False, allow_blank=True)
    places = _ScopedPrimaryKeys(Place, many=True, required=False)


@extend_schema_view(
    list=extend_schema(summary="The authorities' directory"),
    retrieve=extend_schema(summary="One authority", parameters=[etag_header(200)]),
    create=extend_schema(
        summary="Add an authority",
        request=AuthorityInputSerializer,
        responses={201: AuthoritySerializer},
        parameters=[etag_header(201)],
    ),
    partial_update=extend_schema(
        summary="Change an authority",
        description="Needs If-Match with the ETag of the version the change is based on.",
        request=AuthorityInputSerializer,
        parameters=[if_match_parameter(required=True), etag_header(200, 412)],
        responses=conditional_responses(AuthoritySerializer),
    ),
)
class AuthorityViewSet(
    VersionedViewSetMixin,
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permissions = RECOMMENDATIONS
    model = Authority
    action_permissions = {
        "create": "manage_authorities",
        "partial_update": "manage_authorities",
    }
    serializer_class = AuthoritySerializer
    pagination_class = DefaultCursorPagination
    http_method_names = ["get", "post", "patch", "head", "options"]

    def scope_queryset(self, queryset: QuerySet[Authority]) -> QuerySet[Authority]:
        return queryset.prefetch_related("places")

    def _input(self, partial: bool = False) -> AuthorityInputSerializer:
        serializer = AuthorityInputSerializer(
            data=self.request.data, partial=partial, context={"membership": self.membership}
        )
        serializer.is_valid(raise_exception=True)
        return serializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = dict(self._input().validated_data)
        places = data.pop("places", [])
        authority = services.authority_create(membership=self.membership, data=data, places=places)
        self.written(authority)
        return Response(AuthoritySerializer(authority).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        authority = self.get_object()
        self.require("manage_authorities", authority)
        # What the request asks is checked first: an invalid body is a 400 whatever its If-Match.
        data = dict(self._input(partial=True).validated_data)
        expected = self.expected_version(authority)
        places = data.pop("places", None)
        authority = services.authority_update(
            membership=self.membership,
            authority=authority,
            data=data,
            places=places,
            expected_version=expected,
        )
        saved = self.get_queryset().get(pk=authority.pk)
        self.written(saved)
        return Response(AuthoritySerializer(saved).data)


# ---------- Recommendations ----------


class RecommendationSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    places: Any = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    themes: Any = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    authority_name = serializers.CharField(source="authority.name", read_only=True)

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "reference",
            "text",
            "rationale",
            "authority",
            "authority_name",
            "is_systemic",
            "places",
            "themes",
            "priority",
            "source_kind",
            "source_reference",
            "visit",
            "repeats",
            "repetition_count",
            "issued_on",
            "response_due",
            "implementation_due",
            "position",
            "position_on",
            "assessment",
            "verified_on",
            "next_review_on",
            "overdue_since",
            "escalated_on",
            "version",
        ]
        read_only_fields = fields


class RecommendationInputSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = Recommendation

    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)
    text = serializers.CharField()
    rationale = serializers.CharField(required=False, allow_blank=True)
    authority = _ScopedPrimaryKeys(Authority)
    is_systemic = serializers.BooleanField(required=False)
    places = _ScopedPrimaryKeys(Place, many=True, required=False)
    themes = _ScopedPrimaryKeys(TaxonomyTerm, many=True, required=False)
    observations = _ScopedPrimaryKeys(
        Observation, body_path="visit__body_id", many=True, required=False
    )
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    source_kind = serializers.ChoiceField(choices=SourceKind.choices, required=False)
    source_reference = serializers.CharField(max_length=300, required=False, allow_blank=True)
    visit = _ScopedPrimaryKeys(Visit, required=False, allow_null=True)
    repeats = _ScopedPrimaryKeys(Recommendation, required=False, allow_null=True)
    issued_on = serializers.DateField(required=False)
    response_due = serializers.DateField(required=False, allow_null=True)
    implementation_due = serializers.DateField(required=False, allow_null=True)


class PositionInputSerializer(VigilSerializerMixin, serializers.Serializer):
    position = serializers.ChoiceField(
        choices=[(value, label) for value, label in Position.choices if value in GIVEN_POSITIONS]
    )
    changed_on = serializers.DateField(required=False)
    note = serializers.CharField(required=False, allow_blank=True)
    action_plan = serializers.CharField(required=False, allow_blank=True)
    planned_by = serializers.DateField(required=False, allow_null=True)


class AssessmentInputSerializer(VigilSerializerMixin, serializers.Serializer):
    assessment = serializers.ChoiceField(choices=Assessment.choices)
    changed_on = serializers.DateField(required=False)
    verified_on = serializers.DateField(required=False, allow_null=True)
    verification_method = serializers.ChoiceField(
        choices=VerificationMethod.choices, required=False, allow_blank=True
    )
    evidence_text = serializers.CharField(required=False, allow_blank=True)
    note = serializers.CharField(required=False, allow_blank=True)


class PositionChangeSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = PositionChange
        fields = [
            "id",
            "position",
            "changed_on",
            "note",
            "action_plan",
            "planned_by",
            "through_portal",
        ]
        read_only_fields = fields


class AssessmentChangeSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = AssessmentChange
        fields = [
            "id",
            "assessment",
            "changed_on",
            "verified_on",
            "verification_method",
            "evidence_text",
            "note",
        ]
        read_only_fields = fields


class SimilarSerializer(VigilSerializerMixin, serializers.Serializer):
    recommendation = RecommendationSerializer()
    score = serializers.FloatField()


def _visible_to_caller(model: type[Any], body_path: str = "body_id") -> Any:
    """A filter's choices: the caller's body's records they may see (any other id is a 400,
    like a missing one)."""

    def queryset(request: Any) -> QuerySet[Any]:
        if request is None:
            return model.objects.none()
        membership = api_membership(request)
        if model is TaxonomyTerm:
            return TaxonomyTerm.objects.filter(body_id=membership.body_id, kind="theme")
        return visible(membership, model).filter(**{body_path: membership.body_id})

    return queryset


class RecommendationFilter(VigilFilterSet):
    position = django_filters.ChoiceFilter(choices=Position.choices)
    assessment = django_filters.ChoiceFilter(choices=Assessment.choices)
    authority = django_filters.ModelChoiceFilter(queryset=_visible_to_caller(Authority))
    place = django_filters.ModelChoiceFilter(
        field_name="places", queryset=_visible_to_caller(Place)
    )
    theme = django_filters.ModelChoiceFilter(
        field_name="themes", queryset=_visible_to_caller(TaxonomyTerm)
    )
    source_kind = django_filters.ChoiceFilter(choices=SourceKind.choices)
    priority = django_filters.ChoiceFilter(choices=Priority.choices)
    overdue = StrictBooleanFilter(method="filter_overdue")

    class Meta:
        model = Recommendation
        fields = ["position", "assessment", "authority", "place", "theme", "source_kind"]

    def filter_overdue(
        self, queryset: QuerySet[Recommendation], name: str, value: bool | None
    ) -> QuerySet[Recommendation]:
        if value is None:
            return queryset
        return queryset.filter(overdue_since__isnull=not value)


class RecommendationPagination(DefaultCursorPagination):
    ordering = ("-issued_on", "-id")  # type: ignore[assignment]


@extend_schema_view(
    list=extend_schema(summary="List and filter recommendations, latest issued first"),
    retrieve=extend_schema(summary="One recommendation", parameters=[etag_header(200)]),
    create=extend_schema(
        summary="Issue a recommendation",
        description="Without response_due, the body's default applies (7 days if urgent).",
        request=RecommendationInputSerializer,
        responses={201: RecommendationSerializer},
        parameters=[etag_header(201)],
    ),
    partial_update=extend_schema(
        summary="Change a recommendation",
        description="Needs If-Match with the ETag of the version the change is based on.",
        request=RecommendationInputSerializer,
        parameters=[if_match_parameter(required=True), etag_header(200, 412)],
        responses=conditional_responses(RecommendationSerializer),
    ),
)
class RecommendationViewSet(
    VersionedViewSetMixin,
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Recommendations of the caller's body (and of the bodies it coordinates)."""

    permissions = RECOMMENDATIONS
    model = Recommendation
    action_permissions = {
        "create": "create",
        "partial_update": "edit",
        "position": "record_position",
        "assessment": "assess",
    }
    serializer_class = RecommendationSerializer
    pagination_class = RecommendationPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = RecommendationFilter
    http_method_names = ["get", "post", "patch", "head", "options"]

    def scope_queryset(self, queryset: QuerySet[Recommendation]) -> QuerySet[Recommendation]:
        return queryset.select_related("authority").prefetch_related("places", "themes")

    def _input(self, partial: bool = False) -> RecommendationInputSerializer:
        serializer = RecommendationInputSerializer(
            data=self.request.data, partial=partial, context={"membership": self.membership}
        )
        serializer.is_valid(raise_exception=True)
        return serializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = dict(self._input().validated_data)
        observations = data.pop("observations", [])
        places = data.pop("places", [])
        themes = data.pop("themes", [])
        recommendation = services.recommendation_create(
            membership=self.membership,
            data=data,
            observations=observations,
            places=places,
            themes=themes,
        )
        saved = self.get_queryset().get(pk=recommendation.pk)
        self.written(saved)
        return Response(RecommendationSerializer(saved).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        recommendation = self.get_object()
        self.require("edit", recommendation)
        data = dict(self._input(partial=True).validated_data)
        expected = self.expected_version(recommendation)
        observations = data.pop("observations", None)
        places = data.pop("places", None)
        themes = data.pop("themes", None)
        recommendation = services.recommendation_update(
            membership=self.membership,
            recommendation=recommendation,
            data=data,
            observations=observations,
            places=places,
            themes=themes,
            expected_version=expected,
        )
        saved = self.get_queryset().get(pk=recommendation.pk)
        self.written(saved)
        return Response(RecommendationSerializer(saved).data)

    @extend_schema(
        summary="Record the authority's position",
        description="Never changes the body's assessment. If-Match is honoured when sent.",
        request=PositionInputSerializer,
        parameters=[if_match_parameter(required=False), etag_header(201, 412)],
        responses=conditional_responses(PositionChangeSerializer, ok_status=201, required=False),
    )
    @action(detail=True, methods=["post"])
    def position(self, request: Request, pk: Any = None) -> Response:
        recommendation = self.get_object()
        self.require("record_position", recommendation)
        serializer = PositionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        expected = self.expected_version(recommendation, required=False)
        change = services.recommendation_set_position(
            membership=self.membership,
            recommendation=recommendation,
            expected_version=expected,
            **serializer.validated_data,
        )
        self.written(Recommendation.objects.get(pk=recommendation.pk))
        return Response(PositionChangeSerializer(change).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Record the body's assessment of implementation",
        description="`implemented` needs verified_on, verification_method and evidence_text. "
        "If-Match is honoured when sent.",
        request=AssessmentInputSerializer,
        parameters=[if_match_parameter(required=False), etag_header(201, 412)],
        responses=conditional_responses(AssessmentChangeSerializer, ok_status=201, required=False),
    )
    @action(detail=True, methods=["post"])
    def assessment(self, request: Request, pk: Any = None) -> Response:
        recommendation = self.get_object()
        self.require("assess", recommendation)
        serializer = AssessmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        expected = self.expected_version(recommendation, required=False)
        change = services.recommendation_assess(
            membership=self.membership,
            recommendation=recommendation,
            expected_version=expected,
            **serializer.validated_data,
        )
        self.written(Recommendation.objects.get(pk=recommendation.pk))
        return Response(AssessmentChangeSerializer(change).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Earlier recommendations similar to a text (recurrence)",
        parameters=[
            OpenApiParameter("text", str, required=True),
            OpenApiParameter("authority", int),
            OpenApiParameter("place", int, many=True),
            OpenApiParameter("theme", int, many=True),
        ],
        responses={200: SimilarSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def similar(self, request: Request) -> Response:
        params = SimilarQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        found = recurrence.suggest(
            self.membership,
            text=params.validated_data["text"],
            authority_id=params.validated_data.get("authority"),
            place_ids=request.query_params.getlist("place"),
            theme_ids=request.query_params.getlist("theme"),
        )
        return Response(
            SimilarSerializer(
                [{"recommendation": s.recommendation, "score": s.score} for s in found], many=True
            ).data
        )


class SimilarQuerySerializer(VigilSerializerMixin, serializers.Serializer):
    text = serializers.CharField(max_length=5000)
    authority = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    place = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1), required=False
    )
    theme = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1), required=False
    )


# ---------- The dialogue ----------


class ExchangeSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    recommendations: Any = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    has_file = serializers.SerializerMethodField()

    class Meta:
        model = Exchange
        fields = [
            "id",
            "authority",
            "kind",
            "occurred_on",
            "subject",
            "summary",
            "participants",
            "recommendations",
            "through_portal",
            "has_file",
        ]
        read_only_fields = fields

    def get_has_file(self, exchange: Exchange) -> bool:
        return exchange.file_id is not None


class ExchangeInputSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = Exchange

    authority = _ScopedPrimaryKeys(Authority)
    kind = serializers.ChoiceField(choices=ExchangeKind.choices)
    occurred_on = serializers.DateField(required=False)
    subject = serializers.CharField(max_length=300)
    summary = serializers.CharField(required=False, allow_blank=True)
    participants = serializers.CharField(required=False, allow_blank=True)
    recommendations = _ScopedPrimaryKeys(Recommendation, many=True)


@extend_schema_view(
    list=extend_schema(summary="The dialogue with authorities: letters, meetings, replies"),
    retrieve=extend_schema(summary="One exchange"),
    create=extend_schema(
        summary="Record an exchange about one or many recommendations",
        request=ExchangeInputSerializer,
        responses={201: ExchangeSerializer},
    ),
)
class ExchangeViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    permissions = RECOMMENDATIONS
    model = Exchange
    action_permissions = {"create": "dialogue"}
    serializer_class = ExchangeSerializer
    pagination_class = DefaultCursorPagination

    def scope_queryset(self, queryset: QuerySet[Exchange]) -> QuerySet[Exchange]:
        return queryset.prefetch_related("recommendations")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ExchangeInputSerializer(
            data=request.data, context={"membership": self.membership}
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        exchange = services.exchange_create(
            membership=self.membership,
            authority=data.pop("authority"),
            data=data,
            recommendations=data.pop("recommendations"),
        )
        return Response(ExchangeSerializer(exchange).data, status=status.HTTP_201_CREATED)
