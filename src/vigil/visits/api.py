"""REST API for visits, interviews (never identities; notes only through an audited read) and
observations: thin views over the same services and rules as the pages."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from vigil.core.access import get_visible_or_404, visible
from vigil.core.api import (
    DefaultCursorPagination,
    VersionedViewSetMixin,
    VigilSerializerMixin,
    conditional_responses,
    etag_header,
    if_match_parameter,
)
from vigil.core.files import MEDIA_TYPES, download_response
from vigil.core.guard import MemberViewSetMixin
from vigil.core.models import TaxonomyTerm
from vigil.core.text import validate_visible_text
from vigil.places.models import Place
from vigil.visits import questionnaires, services
from vigil.visits.filters import ObservationApiFilters
from vigil.visits.models import (
    OTHER_SOURCES,
    Answer,
    Commitment,
    ConsentUse,
    Debriefing,
    Discrepancy,
    Evidence,
    EvidenceKind,
    Interview,
    InterviewCategory,
    InterviewKind,
    Observation,
    Obstruction,
    ObstructionKind,
    ObstructionSeverity,
    Question,
    Questionnaire,
    RegisterCheck,
    RegisterKind,
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
            "version",
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


CONDITIONAL = "Needs If-Match with the ETag of the version the change is based on."


def _conditional_update(request: Any, output: Any) -> Any:
    return extend_schema(
        description=CONDITIONAL,
        request=request,
        parameters=[if_match_parameter(required=True), etag_header(200, 412)],
        responses=conditional_responses(output),
    )


@extend_schema_view(
    retrieve=extend_schema(
        description="The ETag header names the visit's version; send it back in If-Match.",
        parameters=[etag_header(200)],
    ),
    create=extend_schema(
        request=VisitInputSerializer,
        responses={201: VisitOutputSerializer},
        parameters=[etag_header(201)],
    ),
    update=_conditional_update(VisitInputSerializer, VisitOutputSerializer),
    partial_update=_conditional_update(VisitInputSerializer, VisitOutputSerializer),
)
class VisitViewSet(
    VersionedViewSetMixin,
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
        self.written(visit)
        return Response(VisitOutputSerializer(visit).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        visit = self.get_object()
        self.require("edit", visit)
        serializer = VisitInputSerializer(
            data=request.data, membership=self.membership, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        expected_version = self.expected_version(visit)
        visit = services.visit_update(
            membership=self.membership,
            visit=visit,
            data=serializer.validated_data,
            expected_version=expected_version,
        )
        saved = self.get_queryset().get(pk=visit.pk)
        self.written(saved)
        return Response(VisitOutputSerializer(saved).data)

    @extend_schema(
        request=StatusSerializer,
        responses=VisitOutputSerializer,
        parameters=[etag_header(200)],
    )
    @action(detail=True, methods=["post"])
    def status(self, request: Request, pk: Any = None) -> Response:
        visit = self.get_object()
        self.require("edit", visit)
        serializer = StatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        visit = services.visit_set_status(
            membership=self.membership, visit=visit, status=serializer.validated_data["status"]
        )
        self.written(visit)
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
            "version",
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
    consent_use = serializers.ChoiceField(choices=ConsentUse.choices, required=False)
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


class InterviewUpdateSerializer(VigilSerializerMixin, serializers.Serializer):
    """A correction of an interview: any of these fields (not its kind, never its visit)."""

    storage_model = Interview

    category = serializers.ChoiceField(choices=InterviewCategory.choices, required=False)
    unit = serializers.CharField(required=False, allow_blank=True, max_length=200)
    group_size = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1000
    )
    language = serializers.CharField(required=False, allow_blank=True, max_length=100)
    interpreter_used = serializers.BooleanField(required=False)
    consent_use = serializers.ChoiceField(choices=ConsentUse.choices, required=False)
    consent_referral = serializers.BooleanField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, write_only=True)
    vulnerable_groups = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=TaxonomyTerm.objects.none(), required=False
    )

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if membership is not None:
            fields: Any = self.fields
            fields["vulnerable_groups"].child_relation.queryset = TaxonomyTerm.objects.filter(
                body_id=membership.body_id, kind="vulnerable_group"
            )


@extend_schema_view(
    retrieve=extend_schema(
        description="The ETag header names the interview's version; send it back in If-Match.",
        parameters=[etag_header(200)],
    ),
    create=extend_schema(
        request=InterviewInputSerializer,
        responses={201: InterviewOutputSerializer},
        parameters=[etag_header(201)],
    ),
    update=_conditional_update(InterviewUpdateSerializer, InterviewOutputSerializer),
    partial_update=_conditional_update(InterviewUpdateSerializer, InterviewOutputSerializer),
)
class InterviewViewSet(
    VersionedViewSetMixin,
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
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
        self.written(interview)
        return Response(InterviewOutputSerializer(interview).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        interview = self.get_object()
        try:
            # Correcting what was said needs the right to read it: those who only know the
            # interview took place get 404, as for a missing one.
            interview = get_visible_or_404(self.membership, Interview, interview.pk, content=True)
        except DjangoPermissionDenied as exc:
            raise NotFound from exc
        self.require("record", interview.visit)
        serializer = InterviewUpdateSerializer(
            data=request.data, membership=self.membership, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        expected_version = self.expected_version(interview)
        data = dict(serializer.validated_data)
        groups = data.pop("vulnerable_groups", None)
        interview = services.interview_update(
            membership=self.membership,
            interview=interview,
            data=data,
            vulnerable_groups=groups,
            expected_version=expected_version,
        )
        saved = self.get_queryset().get(pk=interview.pk)
        self.written(saved)
        return Response(InterviewOutputSerializer(saved).data)

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
            "version",
        ]
        read_only_fields = [
            "id",
            "corroboration_reason",
            "cleared_for_use",
            "created_at",
            "version",
        ]

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


class FindingFilterBackend(DjangoFilterBackend):
    """Hands the caller's membership to the filter set, so its choices are the body's own."""

    def get_filterset_kwargs(self, request: Request, queryset: Any, view: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = super().get_filterset_kwargs(request, queryset, view)
        kwargs["membership"] = view.membership
        return kwargs


class ObservationUpdateSerializer(ObservationSerializer):
    """A correction of a finding: its visit and whether it is held back do not change here."""

    class Meta(ObservationSerializer.Meta):
        read_only_fields = [
            "id",
            "visit",
            "held_back",
            "corroboration_reason",
            "cleared_for_use",
            "created_at",
            "version",
        ]


@extend_schema_view(
    retrieve=extend_schema(
        description="The ETag header names the finding's version; send it back in If-Match.",
        parameters=[etag_header(200)],
    ),
    create=extend_schema(responses={201: ObservationSerializer}, parameters=[etag_header(201)]),
    update=_conditional_update(ObservationUpdateSerializer, ObservationSerializer),
    partial_update=_conditional_update(ObservationUpdateSerializer, ObservationSerializer),
)
class ObservationViewSet(
    VersionedViewSetMixin,
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permissions = VISITS
    model = Observation
    serializer_class = ObservationSerializer
    pagination_class = DefaultCursorPagination
    filter_backends = [FindingFilterBackend]
    filterset_class = ObservationApiFilters

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
        self.written(observation)
        return Response(ObservationSerializer(observation).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        observation = self.get_object()
        self.require("record", observation.visit)
        serializer = ObservationUpdateSerializer(
            data=request.data, membership=self.membership, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        expected_version = self.expected_version(observation)
        data = dict(serializer.validated_data)
        interviews = data.pop("interviews", None)
        standards = data.pop("standards", None)
        observation = services.observation_update(
            membership=self.membership,
            observation=observation,
            data=data,
            interviews=interviews,
            standards=standards,
            expected_version=expected_version,
        )
        saved = self.get_queryset().get(pk=observation.pk)
        self.written(saved)
        return Response(ObservationSerializer(saved, membership=self.membership).data)


# ---------- Evidence files ----------


class EvidenceSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    file_name = serializers.CharField(source="file.original_name", read_only=True)
    content_type = serializers.CharField(source="file.content_type", read_only=True)
    size = serializers.IntegerField(source="file.size", read_only=True)
    kind = serializers.ChoiceField(choices=EvidenceKind.choices, read_only=True)

    class Meta:
        model = Evidence
        fields = [
            "id",
            "visit",
            "observation",
            "interview",
            "kind",
            "title",
            "file_name",
            "content_type",
            "size",
            "created_at",
        ]
        read_only_fields = fields


class EvidenceUploadSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = Evidence

    file = serializers.FileField(
        help_text="A photo (JPEG, PNG, WebP), a PDF scan or a recording (MP3, M4A, Ogg, WAV); "
        "checked by its content. A photo's EXIF (GPS position, camera) and a recording's tags "
        "are removed before it is stored."
    )
    title = serializers.CharField(required=False, allow_blank=True, max_length=300)
    observation = serializers.PrimaryKeyRelatedField(
        queryset=Observation.objects.none(), required=False, allow_null=True
    )
    interview = serializers.PrimaryKeyRelatedField(
        queryset=Interview.objects.none(), required=False, allow_null=True
    )

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["observation"].queryset = visible(membership, Observation)
        fields["interview"].queryset = visible(membership, Interview, content=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs.get("observation") is None) == (attrs.get("interview") is None):
            raise ValidationError(
                {"non_field_errors": ["Attach the file to one finding or to one interview."]}
            )
        return attrs


MEDIA_RESPONSES = {
    (200, content_type): OpenApiTypes.BINARY
    for content_type in sorted({content_type for content_type, _magic in MEDIA_TYPES.values()})
}


@extend_schema_view(
    list=extend_schema(summary="Evidence files the caller may see"),
    retrieve=extend_schema(summary="One evidence file's description (not its content)"),
    create=extend_schema(
        summary="Attach a photo, scan or recording to a finding or an interview",
        request={"multipart/form-data": EvidenceUploadSerializer},
        responses={201: EvidenceSerializer},
    ),
    destroy=extend_schema(summary="Remove an evidence file", responses={204: None}),
)
class EvidenceViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Evidence files: an interview's are listed and served only to those who may read the
    interview; every upload, download and removal is in the audit trail."""

    permissions = VISITS
    model = Evidence
    serializer_class = EvidenceSerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["visit", "observation", "interview", "kind"]

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.select_related("file", "visit")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = EvidenceUploadSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            evidence = services.evidence_upload(
                membership=self.membership,
                upload=data["file"],
                title=data.get("title", ""),
                observation=data.get("observation"),
                interview=data.get("interview"),
            )
        except DjangoValidationError as exc:
            raise ValidationError({"file": exc.messages}) from exc
        return Response(EvidenceSerializer(evidence).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        evidence = self.get_object()
        self.require("record", evidence.visit)
        services.evidence_delete(membership=self.membership, evidence=evidence)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Download an evidence file (recorded in the audit trail)",
        responses={
            **MEDIA_RESPONSES,
            406: OpenApiResponse(description="The Accept header refuses the file's type."),
        },
    )
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def download(self, request: Request, pk: Any = None) -> Any:
        evidence = self.get_object()
        try:
            stored = services.evidence_open(membership=self.membership, evidence=evidence)
        except DjangoPermissionDenied as exc:
            raise NotFound from exc
        return download_response(stored, actor=request.user)


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


# ---------- Registers checked ----------


class DiscrepancySerializer(VigilSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Discrepancy
        fields = ["id", "register_check", "description", "observation", "created_at"]
        read_only_fields = fields


class RegisterCheckSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    discrepancies = DiscrepancySerializer(many=True, read_only=True)

    class Meta:
        model = RegisterCheck
        fields = [
            "id",
            "visit",
            "register_kind",
            "period_from",
            "period_to",
            "sample_size",
            "notes",
            "discrepancies",
            "created_at",
        ]
        read_only_fields = fields


class RegisterCheckInputSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = RegisterCheck

    visit = serializers.PrimaryKeyRelatedField(queryset=Visit.objects.none())
    register_kind = serializers.ChoiceField(choices=RegisterKind.choices)
    period_from = serializers.DateField(required=False, allow_null=True)
    period_to = serializers.DateField(required=False, allow_null=True)
    sample_size = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    discrepancies = serializers.ListField(
        child=serializers.CharField(max_length=services.DISCREPANCY_MAX_LENGTH),
        required=False,
        max_length=500,
    )

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["visit"].queryset = visible(membership, Visit)


class DiscrepancyInputSerializer(VigilSerializerMixin, serializers.Serializer):
    description = serializers.CharField(max_length=services.DISCREPANCY_MAX_LENGTH)


class DiscrepancyFindingSerializer(VigilSerializerMixin, serializers.Serializer):
    """What may differ from the prefilled finding (theme "registers", the discrepancy's text,
    severity "concern")."""

    theme = serializers.SlugRelatedField(
        slug_field="code", queryset=TaxonomyTerm.objects.none(), required=False
    )
    unit = serializers.CharField(required=False, allow_blank=True, max_length=200)
    description = serializers.CharField(required=False, max_length=20000)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    is_systemic = serializers.BooleanField(required=False)

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if membership is not None:
            fields: Any = self.fields
            fields["theme"].queryset = TaxonomyTerm.objects.filter(
                body_id=membership.body_id, kind="theme"
            )


@extend_schema_view(
    create=extend_schema(request=RegisterCheckInputSerializer, responses=RegisterCheckSerializer)
)
class RegisterCheckViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    permissions = VISITS
    model = RegisterCheck
    action_permissions = {"create": "record", "discrepancies": "record"}
    serializer_class = RegisterCheckSerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["visit", "register_kind"]

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.prefetch_related("discrepancies")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = RegisterCheckInputSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        visit = data.pop("visit")
        texts = data.pop("discrepancies", [])
        check = services.register_check_create(
            membership=self.membership, visit=visit, data=data, discrepancies=texts
        )
        return Response(RegisterCheckSerializer(check).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=DiscrepancyInputSerializer, responses=DiscrepancySerializer)
    @action(detail=True, methods=["post"])
    def discrepancies(self, request: Request, pk: Any = None) -> Response:
        """Add a discrepancy found in this register."""
        check = self.get_object()
        serializer = DiscrepancyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        discrepancy = services.discrepancy_create(
            membership=self.membership,
            register_check=check,
            description=serializer.validated_data["description"],
        )
        return Response(DiscrepancySerializer(discrepancy).data, status=status.HTTP_201_CREATED)


class DiscrepancyViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    permissions = VISITS
    model = Discrepancy
    action_permissions = {"finding": "record"}
    serializer_class = DiscrepancySerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["register_check"]

    @extend_schema(request=DiscrepancyFindingSerializer, responses=ObservationSerializer)
    @action(detail=True, methods=["post"])
    def finding(self, request: Request, pk: Any = None) -> Response:
        """Make the discrepancy a finding: theme "registers", source "documents or registers",
        unless the request says otherwise."""
        discrepancy = self.get_object()
        serializer = DiscrepancyFindingSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        observation = services.discrepancy_to_observation(
            membership=self.membership,
            discrepancy=discrepancy,
            data=dict(serializer.validated_data),
        )
        return Response(ObservationSerializer(observation).data, status=status.HTTP_201_CREATED)


# ---------- The debriefing ----------


class CommitmentSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Commitment
        fields = ["id", "text", "due_on", "created_at"]
        read_only_fields = ["id", "created_at"]


class DebriefingSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    findings = serializers.SerializerMethodField()
    commitments = CommitmentSerializer(many=True, read_only=True)

    class Meta:
        model = Debriefing
        fields = [
            "id",
            "visit",
            "held_at",
            "attendees",
            "summary",
            "findings",
            "commitments",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_findings(self, debriefing: Debriefing) -> list[int]:
        """The findings presented (ids)."""
        return sorted(item.observation_id for item in debriefing.presented.all())


class DebriefingInputSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = Debriefing

    visit = serializers.PrimaryKeyRelatedField(queryset=Visit.objects.none())
    held_at = serializers.DateTimeField()
    attendees = serializers.CharField(max_length=5000, validators=[validate_visible_text])
    summary = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    findings = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Observation.objects.none(), required=False
    )
    mark_debriefed = serializers.BooleanField(
        required=False, help_text="Move an in-progress visit to “debriefed”."
    )

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["visit"].queryset = visible(membership, Visit)
        fields["findings"].child_relation.queryset = visible(membership, Observation)


class DebriefingUpdateSerializer(DebriefingInputSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.pop("visit")


@extend_schema_view(
    create=extend_schema(request=DebriefingInputSerializer, responses=DebriefingSerializer),
    update=extend_schema(request=DebriefingUpdateSerializer, responses=DebriefingSerializer),
    partial_update=extend_schema(
        request=DebriefingUpdateSerializer, responses=DebriefingSerializer
    ),
)
class DebriefingViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permissions = VISITS
    model = Debriefing
    action_permissions = {
        "create": "record",
        "update": "record",
        "partial_update": "record",
        "commitments": "record",
    }
    serializer_class = DebriefingSerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["visit"]

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.prefetch_related("presented", "commitments")

    def _save(self, visit: Visit, data: dict[str, Any]) -> Debriefing:
        findings = data.pop("findings", [])
        mark = bool(data.pop("mark_debriefed", False))
        debriefing = services.debriefing_save(
            membership=self.membership,
            visit=visit,
            data=data,
            findings=findings,
            mark_debriefed=mark,
        )
        return self.get_queryset().get(pk=debriefing.pk)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = DebriefingInputSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        visit = data.pop("visit")
        if Debriefing.objects.filter(visit=visit).exists():
            raise ValidationError(
                {"visit": ["This visit's debriefing is recorded: change it with PUT or PATCH."]}
            )
        debriefing = self._save(visit, data)
        return Response(DebriefingSerializer(debriefing).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        debriefing = self.get_object()
        partial = kwargs.get("partial", False)
        serializer = DebriefingUpdateSerializer(
            data=request.data, membership=self.membership, partial=partial
        )
        serializer.is_valid(raise_exception=True)
        data = {
            "held_at": debriefing.held_at,
            "attendees": debriefing.attendees,
            "summary": debriefing.summary,
            "findings": list(
                Observation.objects.filter(
                    pk__in=[item.observation_id for item in debriefing.presented.all()]
                )
            ),
            **serializer.validated_data,
        }
        debriefing = self._save(debriefing.visit, data)
        return Response(DebriefingSerializer(debriefing).data)

    @extend_schema(request=CommitmentSerializer, responses=CommitmentSerializer)
    @action(detail=True, methods=["post"])
    def commitments(self, request: Request, pk: Any = None) -> Response:
        """Add a commitment the management made at the debriefing."""
        debriefing = self.get_object()
        serializer = CommitmentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        commitment = services.commitment_create(
            membership=self.membership,
            debriefing=debriefing,
            text=serializer.validated_data["text"],
            due_on=serializer.validated_data["due_on"],
        )
        return Response(CommitmentSerializer(commitment).data, status=status.HTTP_201_CREATED)


# ---------- Obstruction and difficulties ----------


class ObstructionSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = Obstruction
        fields = [
            "id",
            "visit",
            "kind",
            "occurred_at",
            "officials",
            "description",
            "explanation",
            "severity",
            "escalated_at",
            "created_at",
        ]
        read_only_fields = fields


class ObstructionInputSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = Obstruction

    visit = serializers.PrimaryKeyRelatedField(queryset=Visit.objects.none())
    kind = serializers.ChoiceField(choices=ObstructionKind.choices)
    occurred_at = serializers.DateTimeField()
    officials = serializers.CharField(
        required=False, allow_blank=True, max_length=300, validators=[validate_visible_text]
    )
    description = serializers.CharField(max_length=20000)
    explanation = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    severity = serializers.ChoiceField(choices=ObstructionSeverity.choices, required=False)
    escalate = serializers.BooleanField(
        required=False, help_text="Tell the heads at once (a serious obstruction only)."
    )

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["visit"].queryset = visible(membership, Visit)


@extend_schema_view(
    create=extend_schema(request=ObstructionInputSerializer, responses=ObstructionSerializer)
)
class ObstructionViewSet(
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    permissions = VISITS
    model = Obstruction
    action_permissions = {"create": "record", "escalate": "record"}
    serializer_class = ObstructionSerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["visit", "kind", "severity"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ObstructionInputSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        visit = data.pop("visit")
        escalate = bool(data.pop("escalate", False))
        obstruction = services.obstruction_create(
            membership=self.membership, visit=visit, data=data, escalate=escalate
        )
        return Response(ObstructionSerializer(obstruction).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ObstructionSerializer)
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, pk: Any = None) -> Response:
        """Tell the heads of a serious obstruction now."""
        obstruction = services.obstruction_escalate(
            membership=self.membership, obstruction=self.get_object()
        )
        return Response(ObstructionSerializer(obstruction).data)
