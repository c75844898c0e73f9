"""REST API for visits, interviews (never identities; notes only through an audited read) and
observations: thin views over the same services and rules as the pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from vigil.core.access import get_visible_or_404, visible
from vigil.core.api import DefaultCursorPagination, VigilSerializerMixin
from vigil.core.guard import MemberViewSetMixin
from vigil.core.models import TaxonomyTerm
from vigil.places.models import Place
from vigil.visits import questionnaires, services
from vigil.visits.models import (
    OTHER_SOURCES,
    Answer,
    Interview,
    InterviewCategory,
    InterviewKind,
    Observation,
    Question,
    Questionnaire,
    Section,
    Severity,
    Standard,
    Visit,
    VisitKind,
    VisitStatus,
)
from vigil.visits.permissions import VISITS
from vigil.visits.standards import library


class VisitOutputSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    body: Any = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    place_name = serializers.CharField(source="place.name", read_only=True)

    class Meta:
        model = Visit
        fields = [
            "id",
            "body",
            "place",
            "place_name",
            "kind",
            "is_announced",
            "planned_start",
            "planned_end",
            "started_at",
            "ended_at",
            "areas_visited",
            "status",
            "summary",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class VisitInputSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = Visit

    place = serializers.PrimaryKeyRelatedField(queryset=Place.objects.none())
    kind = serializers.ChoiceField(choices=VisitKind.choices, required=False)
    is_announced = serializers.BooleanField(required=False)
    planned_start = serializers.DateField()
    planned_end = serializers.DateField()
    areas_visited = serializers.CharField(required=False, allow_blank=True)
    summary = serializers.CharField(required=False, allow_blank=True)

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if membership is not None:
            fields: Any = self.fields
            fields["place"].queryset = visible(membership, Place).filter(body_id=membership.body_id)


class StatusSerializer(VigilSerializerMixin, serializers.Serializer):
    status = serializers.ChoiceField(choices=VisitStatus.choices)


@extend_schema_view(
    create=extend_schema(request=VisitInputSerializer, responses=VisitOutputSerializer),
    update=extend_schema(request=VisitInputSerializer, responses=VisitOutputSerializer),
    partial_update=extend_schema(request=VisitInputSerializer, responses=VisitOutputSerializer),
)
class VisitViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permissions = VISITS
    model = Visit
    action_permissions = {"create": "plan"}
    serializer_class = VisitOutputSerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["place", "kind", "status", "is_announced"]

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.select_related("place", "body")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = VisitInputSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        visit = services.visit_create(membership=self.membership, data=serializer.validated_data)
        return Response(VisitOutputSerializer(visit).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        visit = self.get_object()
        self.require("edit", visit)
        serializer = VisitInputSerializer(
            data=request.data, membership=self.membership, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        visit = services.visit_update(
            membership=self.membership, visit=visit, data=serializer.validated_data
        )
        return Response(VisitOutputSerializer(visit).data)

    @extend_schema(request=StatusSerializer, responses=VisitOutputSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request: Request, pk: Any = None) -> Response:
        visit = self.get_object()
        self.require("edit", visit)
        serializer = StatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        visit = services.visit_set_status(
            membership=self.membership, visit=visit, status=serializer.validated_data["status"]
        )
        return Response(VisitOutputSerializer(visit).data)


class InterviewOutputSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    vulnerable_groups: Any = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True
    )

    class Meta:
        model = Interview
        # Never the identity; the notes only through the audited `notes` read.
        fields = [
            "id",
            "visit",
            "pseudonym",
            "kind",
            "category",
            "unit",
            "group_size",
            "language",
            "interpreter_used",
            "vulnerable_groups",
            "consent_use",
            "consent_referral",
            "created_at",
        ]
        read_only_fields = fields


class InterviewInputSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = Interview

    visit = serializers.PrimaryKeyRelatedField(queryset=Visit.objects.none())
    kind = serializers.ChoiceField(choices=InterviewKind.choices)
    category = serializers.ChoiceField(choices=InterviewCategory.choices)
    unit = serializers.CharField(required=False, allow_blank=True, max_length=200)
    group_size = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1000
    )
    language = serializers.CharField(required=False, allow_blank=True, max_length=100)
    interpreter_used = serializers.BooleanField(required=False)
    consent_use = serializers.ChoiceField(choices=["none", "anonymous"], required=False)
    consent_referral = serializers.BooleanField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, write_only=True)
    identity = serializers.CharField(required=False, allow_blank=True, write_only=True)
    vulnerable_groups = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=TaxonomyTerm.objects.none(), required=False
    )

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["visit"].queryset = visible(membership, Visit)
        if membership is not None:
            fields["vulnerable_groups"].child_relation.queryset = TaxonomyTerm.objects.filter(
                body_id=membership.body_id, kind="vulnerable_group"
            )


@extend_schema_view(
    create=extend_schema(request=InterviewInputSerializer, responses=InterviewOutputSerializer)
)
class InterviewViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    permissions = VISITS
    model = Interview
    serializer_class = InterviewOutputSerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["visit", "kind", "category"]

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.prefetch_related("vulnerable_groups")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = InterviewInputSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        visit = data.pop("visit")
        groups = data.pop("vulnerable_groups", [])
        interview = services.interview_create(
            membership=self.membership, visit=visit, data=data, vulnerable_groups=groups
        )
        return Response(InterviewOutputSerializer(interview).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses=inline_serializer("InterviewNotes", {"notes": serializers.CharField()}),
        summary="Read an interview's notes (recorded in the audit trail)",
    )
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, pk: Any = None) -> Response:
        interview = self.get_object()
        try:
            interview = get_visible_or_404(self.membership, Interview, interview.pk, content=True)
            notes = services.interview_read_notes(membership=self.membership, interview=interview)
        except DjangoPermissionDenied as exc:
            raise NotFound from exc
        return Response({"notes": notes})


class ObservationSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    theme: Any = serializers.SlugRelatedField(
        slug_field="code", queryset=TaxonomyTerm.objects.none()
    )
    other_sources = serializers.ListField(
        child=serializers.ChoiceField(choices=[str(source) for source in OTHER_SOURCES]),
        required=False,
    )
    interviews: Any = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Interview.objects.none(), required=False
    )
    standards: Any = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=Standard.objects.none(), required=False
    )
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    cleared_for_use = serializers.SerializerMethodField()

    class Meta:
        model = Observation
        fields = [
            "id",
            "visit",
            "theme",
            "unit",
            "description",
            "severity",
            "is_good_practice",
            "is_systemic",
            "held_back",
            "interviews",
            "other_sources",
            "standards",
            "corroboration_reason",
            "cleared_for_use",
            "created_at",
        ]
        read_only_fields = ["id", "corroboration_reason", "cleared_for_use", "created_at"]

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if membership is not None:
            fields: Any = self.fields
            fields["theme"].queryset = TaxonomyTerm.objects.filter(
                body_id=membership.body_id, kind="theme"
            )
            fields["visit"].queryset = visible(membership, Visit)
            fields["interviews"].child_relation.queryset = visible(membership, Interview)
            fields["standards"].child_relation.queryset = library(membership.body)

    def get_cleared_for_use(self, observation: Observation) -> bool:
        return services.observation_clearance(observation).allowed


class ObservationViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    permissions = VISITS
    model = Observation
    serializer_class = ObservationSerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["visit", "severity", "is_good_practice"]

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.select_related("theme", "visit").prefetch_related("interviews", "standards")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ObservationSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        visit = data.pop("visit")
        interviews = data.pop("interviews", [])
        standards = data.pop("standards", [])
        observation = services.observation_create(
            membership=self.membership,
            visit=visit,
            data=data,
            interviews=interviews,
            standards=standards,
        )
        return Response(ObservationSerializer(observation).data, status=status.HTTP_201_CREATED)


# ---------- Questionnaires and answers ----------


class QuestionSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    # A question may have no theme (null).
    theme: Any = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    standards: Any = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    choices = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))

    class Meta:
        model = Question
        fields = [
            "id",
            "code",
            "label",
            "hint",
            "kind",
            "choices",
            "theme",
            "standards",
            "private_only",
            "position",
        ]
        read_only_fields = fields


class SectionSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    questions = QuestionSerializer(many=True, read_only=True)

    class Meta:
        model = Section
        fields = ["id", "name", "title", "position", "questions"]
        read_only_fields = fields


class QuestionnaireSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    place_types: Any = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    sections = SectionSerializer(many=True, read_only=True)

    class Meta:
        model = Questionnaire
        fields = [
            "id",
            "title",
            "form_id",
            "version",
            "form_version",
            "is_active",
            "place_types",
            "created_at",
            "sections",
        ]
        read_only_fields = fields


class QuestionnaireViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Questionnaire versions with their sections and questions (read-only: versions are made
    from XLSForms on the pages)."""

    permissions = VISITS
    model = Questionnaire
    serializer_class = QuestionnaireSerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["form_id", "is_active"]

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.prefetch_related(
            "place_types",
            "sections__questions__theme",
            "sections__questions__standards",
        )


class AnswerOutputSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    question_code = serializers.CharField(source="question.code", read_only=True)
    questionnaire = serializers.IntegerField(source="question.questionnaire_id", read_only=True)

    class Meta:
        model = Answer
        fields = [
            "id",
            "visit",
            "questionnaire",
            "question",
            "question_code",
            "interview",
            "value",
            "instance_id",
            "created_at",
        ]
        read_only_fields = fields


class AnswerInputSerializer(VigilSerializerMixin, serializers.Serializer):
    """One set of answers: {question name: answer}."""

    visit = serializers.PrimaryKeyRelatedField(queryset=Visit.objects.none())
    questionnaire = serializers.PrimaryKeyRelatedField(queryset=Questionnaire.objects.none())
    interview = serializers.PrimaryKeyRelatedField(
        queryset=Interview.objects.none(), required=False, allow_null=True
    )
    answers = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=questionnaires.MAX_ANSWER_CHARS),
        allow_empty=False,
    )

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["visit"].queryset = visible(membership, Visit)
        fields["questionnaire"].queryset = visible(membership, Questionnaire)
        fields["interview"].queryset = visible(membership, Interview)


@extend_schema_view(
    create=extend_schema(request=AnswerInputSerializer, responses=AnswerOutputSerializer(many=True))
)
class AnswerViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Answers to questionnaires. Reading them is recorded in the audit trail (per visit, and
    per interview for answers given in one); those given in an interview exist only for those
    who may read the interview."""

    permissions = VISITS
    model = Answer
    serializer_class = AnswerOutputSerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["visit", "interview", "question"]

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.select_related("question", "interview", "visit")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        answers = list(page if page is not None else queryset)
        questionnaires.answers_read(membership=self.membership, answers=answers)
        data = AnswerOutputSerializer(answers, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        answer = self.get_object()
        questionnaires.answers_read(membership=self.membership, answers=[answer])
        return Response(AnswerOutputSerializer(answer).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = AnswerInputSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        answers = questionnaires.answers_record(
            membership=self.membership,
            visit=data["visit"],
            questionnaire=data["questionnaire"],
            values=data["answers"],
            interview=data.get("interview"),
        )
        return Response(
            AnswerOutputSerializer(answers, many=True).data, status=status.HTTP_201_CREATED
        )
