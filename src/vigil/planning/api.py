"""The visit programme through the API: programmes (generate, re-plan, approve), their visits
(lock, move) and the places' risk scores — the same services as the pages."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from vigil.core.api import (
    DefaultCursorPagination,
    VersionedViewSetMixin,
    VigilSerializerMixin,
    conditional_responses,
    etag_header,
    if_match_parameter,
)
from vigil.core.guard import MemberViewSetMixin
from vigil.planning import services
from vigil.planning.models import PlaceRisk, Programme, ProgrammeVisit
from vigil.planning.permissions import PLANNING


class ProgrammeSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    gap = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Programme
        fields = [
            "id",
            "title",
            "starts_on",
            "months",
            "status",
            "time_limit",
            "objective",
            "bound",
            "gap",
            "solver_status",
            "solve_seconds",
            "diagnosis",
            "capacity",
            "last_change",
            "created_at",
            "approved_at",
            "version",
        ]
        read_only_fields = fields


class GenerateSerializer(VigilSerializerMixin, serializers.Serializer):
    title = serializers.CharField(max_length=200)
    starts_on = serializers.DateField()
    months = serializers.IntegerField(min_value=1, max_value=12)
    time_limit = serializers.IntegerField(min_value=1, max_value=600, default=10)


class EntrySerializer(VigilSerializerMixin, serializers.ModelSerializer):
    team = serializers.SerializerMethodField()

    class Meta:
        model = ProgrammeVisit
        fields = [
            "id",
            "programme",
            "place",
            "month",
            "week",
            "days",
            "team_size",
            "value",
            "locked",
            "warnings",
            "visit",
            "team",
        ]
        read_only_fields = fields

    def get_team(self, entry: ProgrammeVisit) -> list[int]:
        return [seat.membership_id for seat in entry.team.all()]


class MoveSerializer(VigilSerializerMixin, serializers.Serializer):
    month = serializers.IntegerField(min_value=0, max_value=11)
    week = serializers.IntegerField(min_value=0, max_value=3)


class LockSerializer(VigilSerializerMixin, serializers.Serializer):
    # A form post without the field means "lock" (an unticked box would read as False).
    locked = serializers.BooleanField(required=False, default=True)


class RiskSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = PlaceRisk
        fields = [
            "id",
            "place",
            "score",
            "factors",
            "months_since_visit",
            "interval_months",
            "computed_at",
        ]
        read_only_fields = fields


CHANGE_PARAMETERS = [if_match_parameter(required=False), etag_header(200, 412)]
CHANGE_RESPONSES = {
    **conditional_responses(ProgrammeSerializer, required=False),
    400: OpenApiResponse(description="The programme is approved, or the change breaks a rule."),
}


@extend_schema_view(
    retrieve=extend_schema(parameters=[etag_header(200)]),
    create=extend_schema(
        summary="Generate a programme",
        request=GenerateSerializer,
        responses={201: ProgrammeSerializer},
    ),
)
class ProgrammeViewSet(
    VersionedViewSetMixin,
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Visit programmes: secret — heads and visit leaders see all, a monitor only those with a
    visit they are on."""

    permissions = PLANNING
    model = Programme
    action_permissions = {"create": "plan", "replan": "plan", "approve": "approve"}
    serializer_class = ProgrammeSerializer
    pagination_class = DefaultCursorPagination
    ordering = ("-starts_on", "-id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = GenerateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        programme = services.programme_generate(
            membership=self.membership, **serializer.validated_data
        )
        return Response(ProgrammeSerializer(programme).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        summary="Re-plan around the locked visits",
        parameters=CHANGE_PARAMETERS,
        responses=CHANGE_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def replan(self, request: Request, pk: Any = None) -> Response:
        programme = self.get_object()
        programme = services.programme_replan(
            membership=self.membership,
            programme=programme,
            version=self.expected_version(programme, required=False),
        )
        self.written(programme)
        return Response(ProgrammeSerializer(programme).data)

    @extend_schema(
        request=None,
        summary="Approve: the visits become planned visits",
        parameters=CHANGE_PARAMETERS,
        responses=CHANGE_RESPONSES,
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: Any = None) -> Response:
        programme = self.get_object()
        programme = services.programme_approve(
            membership=self.membership,
            programme=programme,
            version=self.expected_version(programme, required=False),
        )
        self.written(programme)
        return Response(ProgrammeSerializer(programme).data)


class ProgrammeVisitViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The visits of programmes (a monitor sees those they are on)."""

    permissions = PLANNING
    model = ProgrammeVisit
    action_permissions = {"lock": "plan", "move": "plan"}
    serializer_class = EntrySerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["programme", "locked"]
    ordering = ("month", "week", "id")

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.prefetch_related("team")

    @extend_schema(request=LockSerializer, responses=EntrySerializer)
    @action(detail=True, methods=["post"])
    def lock(self, request: Request, pk: Any = None) -> Response:
        entry = self.get_object()
        serializer = LockSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.entry_set_locked(
            membership=self.membership, entry=entry, locked=serializer.validated_data["locked"]
        )
        return Response(EntrySerializer(entry).data)

    @extend_schema(request=MoveSerializer, responses=EntrySerializer)
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: Any = None) -> Response:
        entry = self.get_object()
        serializer = MoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.entry_move(
            membership=self.membership, entry=entry, **serializer.validated_data
        )
        return Response(EntrySerializer(entry).data)


class PlaceRiskViewSet(MemberViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Each place's risk score and its factors, highest first (heads and visit leaders)."""

    permissions = PLANNING
    model = PlaceRisk
    action_permissions = {"list": "plan"}
    serializer_class = RiskSerializer
    pagination_class = DefaultCursorPagination
    ordering = ("-score", "id")
