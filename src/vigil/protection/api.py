"""REST API for cases, referrals and persons at risk: thin views over the same services.

Identities, contact and medical details and narratives are never in an answer; they are written
through the API, and read only through explicit POST endpoints (`reveal` with a purpose,
`narrative`), each recorded in the audit trail."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from vigil.core.access import visible
from vigil.core.api import (
    DefaultCursorPagination,
    VersionedViewSetMixin,
    VigilSerializerMixin,
    conditional_responses,
    etag_header,
    if_match_parameter,
)
from vigil.core.guard import MemberViewSetMixin
from vigil.core.models import TaxonomyTerm
from vigil.places.models import Place
from vigil.protection import services
from vigil.protection.models import (
    Case,
    CaseSource,
    CaseStatus,
    Consent,
    InvestigationState,
    Outcome,
    PerpetratorCategory,
    ProtectedPerson,
    Referral,
    ReferralTarget,
    RiskLevel,
)
from vigil.protection.permissions import PROTECTION

ENCRYPTED_HELP = "Encrypted at rest; never returned (read it through `reveal`, with a purpose)."


def _places(membership: Any) -> Any:
    if membership is None:
        return Place.objects.none()
    return visible(membership, Place).filter(body_id=membership.body_id)


# ---------- Serializers ----------


class CaseOutputSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    ill_treatment: Any = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    consent_targets = serializers.ListField(
        child=serializers.ChoiceField(choices=ReferralTarget.choices), read_only=True
    )

    class Meta:
        model = Case
        # Never the narrative, the identity, the contact or the medical details.
        fields = [
            "id",
            "reference",
            "pseudonym",
            "source",
            "interview",
            "events_date",
            "events_place",
            "current_place",
            "perpetrator_category",
            "ill_treatment",
            "has_injuries",
            "medical_documentation",
            "istanbul_protocol_reference",
            "consent",
            "consent_targets",
            "consent_date",
            "consent_withdrawn_on",
            "status",
            "legal_hold",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CaseInputSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = Case

    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=[c for c in CaseSource.choices if c[0] != CaseSource.VISIT_INTERVIEW],
        required=False,
        help_text="A case from a visit interview is opened by giving `interview`.",
    )
    interview = serializers.IntegerField(
        required=False, write_only=True, help_text="Open the case from this interview (create)."
    )
    events_date = serializers.DateField(required=False, allow_null=True)
    events_place = serializers.PrimaryKeyRelatedField(
        queryset=Place.objects.none(), required=False, allow_null=True
    )
    current_place = serializers.PrimaryKeyRelatedField(
        queryset=Place.objects.none(), required=False, allow_null=True
    )
    perpetrator_category = serializers.ChoiceField(
        choices=PerpetratorCategory.choices, required=False
    )
    ill_treatment = serializers.SlugRelatedField(
        slug_field="code", queryset=TaxonomyTerm.objects.none(), required=False, allow_null=True
    )
    has_injuries = serializers.BooleanField(required=False)
    medical_documentation = serializers.BooleanField(required=False)
    istanbul_protocol_reference = serializers.CharField(
        max_length=100, required=False, allow_blank=True
    )
    consent = serializers.ChoiceField(choices=Consent.choices, required=False)
    consent_targets = serializers.ListField(
        child=serializers.ChoiceField(choices=ReferralTarget.choices), required=False
    )
    consent_date = serializers.DateField(required=False, allow_null=True)
    consent_withdrawn_on = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=CaseStatus.choices, required=False)
    legal_hold = serializers.BooleanField(required=False)
    narrative = serializers.CharField(
        required=False, allow_blank=True, write_only=True, help_text=ENCRYPTED_HELP
    )
    identity = serializers.CharField(
        required=False, allow_blank=True, write_only=True, help_text=ENCRYPTED_HELP
    )
    contact = serializers.CharField(
        required=False, allow_blank=True, write_only=True, help_text=ENCRYPTED_HELP
    )
    medical_details = serializers.CharField(
        required=False, allow_blank=True, write_only=True, help_text=ENCRYPTED_HELP
    )

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["events_place"].queryset = _places(membership)
        fields["current_place"].queryset = _places(membership)
        if membership is not None:
            fields["ill_treatment"].queryset = services.terms_of_ill_treatment(membership)


class PurposeSerializer(VigilSerializerMixin, serializers.Serializer):
    purpose = serializers.CharField(
        max_length=500, help_text="Why you need to see who this person is (recorded)."
    )


class CaseIdentitySerializer(VigilSerializerMixin, serializers.Serializer):
    identity = serializers.CharField()
    contact = serializers.CharField()
    medical_details = serializers.CharField()


class NarrativeSerializer(VigilSerializerMixin, serializers.Serializer):
    narrative = serializers.CharField()


class ReferralSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    case: Any = serializers.PrimaryKeyRelatedField(queryset=Case.objects.none())
    target = serializers.ChoiceField(
        choices=ReferralTarget.choices,
        help_text="Refused (400) beyond the person's consent, with the reason.",
    )
    investigation = serializers.ChoiceField(choices=InvestigationState.choices, required=False)
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False)

    class Meta:
        model = Referral
        fields = [
            "id",
            "case",
            "target",
            "addressee",
            "referred_on",
            "reference",
            "answered_on",
            "investigation",
            "investigation_by",
            "investigation_opened_on",
            "investigation_steps",
            "outcome",
            "outcome_on",
            "remedies",
            "version",
            "created_at",
        ]
        read_only_fields = ["id", "version", "created_at"]
        extra_kwargs = {"referred_on": {"required": False}}

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if membership is not None:
            fields: Any = self.fields
            fields["case"].queryset = visible(membership, Case)


class PersonOutputSerializer(VigilSerializerMixin, serializers.ModelSerializer):
    class Meta:
        model = ProtectedPerson
        # Never the identity, the contact or why the person is at risk.
        fields = [
            "id",
            "pseudonym",
            "case",
            "current_place",
            "risk_level",
            "follow_up_days",
            "follow_up_every_visit",
            "next_follow_up_on",
            "is_active",
            "legal_hold",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PersonInputSerializer(VigilSerializerMixin, serializers.Serializer):
    storage_model = ProtectedPerson

    case = serializers.PrimaryKeyRelatedField(
        queryset=Case.objects.none(), required=False, allow_null=True
    )
    current_place = serializers.PrimaryKeyRelatedField(
        queryset=Place.objects.none(),
        required=False,
        allow_null=True,
        help_text="On creation only; a move is a `transfer`.",
    )
    # Required on creation: a person is followed up because of a risk of some level.
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices)
    risk_reason = serializers.CharField(
        required=False, allow_blank=True, write_only=True, help_text="Encrypted at rest."
    )
    follow_up_days = serializers.IntegerField(min_value=1, max_value=365, required=False)
    follow_up_every_visit = serializers.BooleanField(required=False)
    next_follow_up_on = serializers.DateField(
        required=False, allow_null=True, help_text="Refused (400) in the past."
    )
    is_active = serializers.BooleanField(required=False)
    legal_hold = serializers.BooleanField(required=False)
    identity = serializers.CharField(
        required=False, allow_blank=True, write_only=True, help_text=ENCRYPTED_HELP
    )
    contact = serializers.CharField(
        required=False, allow_blank=True, write_only=True, help_text=ENCRYPTED_HELP
    )

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["current_place"].queryset = _places(membership)
        if membership is not None:
            fields["case"].queryset = visible(membership, Case)


class PersonIdentitySerializer(VigilSerializerMixin, serializers.Serializer):
    identity = serializers.CharField()
    contact = serializers.CharField()


class TransferSerializer(VigilSerializerMixin, serializers.Serializer):
    to_place = serializers.PrimaryKeyRelatedField(
        queryset=Place.objects.none(), help_text="Refused (400) when the place is closed."
    )
    transferred_on = serializers.DateField(required=False)

    def __init__(self, *args: Any, membership: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["to_place"].queryset = _places(membership)


# ---------- Viewsets ----------

_VERSIONED = "Needs If-Match with the ETag of the version the change is based on."


@extend_schema_view(
    list=extend_schema(summary="List the cases the caller holds (or may see)"),
    retrieve=extend_schema(summary="One case (never its identity)", parameters=[etag_header(200)]),
    create=extend_schema(
        summary="Open a case; the caller holds it",
        request=CaseInputSerializer,
        responses={201: CaseOutputSerializer},
        parameters=[etag_header(201)],
    ),
    update=extend_schema(
        summary="Replace a case",
        description=_VERSIONED,
        request=CaseInputSerializer,
        parameters=[if_match_parameter(required=True), etag_header(200, 412)],
        responses=conditional_responses(CaseOutputSerializer),
    ),
    partial_update=extend_schema(
        summary="Change some fields of a case",
        description=_VERSIONED,
        request=CaseInputSerializer,
        parameters=[if_match_parameter(required=True), etag_header(200, 412)],
        responses=conditional_responses(CaseOutputSerializer),
    ),
)
class CaseViewSet(
    VersionedViewSetMixin,
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Individual cases of alleged torture or ill-treatment: need-to-know to their holders and
    the heads (404 for everyone else)."""

    permissions = PROTECTION
    model = Case
    action_permissions = {
        "create": "create",
        "update": "edit",
        "partial_update": "edit",
        "reveal": "reveal_identity",
    }
    serializer_class = CaseOutputSerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["status", "source", "consent", "perpetrator_category"]

    def scope_queryset(self, queryset: Any) -> Any:
        return queryset.select_related("ill_treatment")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from vigil.core.access import get_visible_or_404
        from vigil.visits.models import Interview

        serializer = CaseInputSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        interview = None
        if data.get("interview") is not None:
            try:
                interview = get_visible_or_404(
                    self.membership, Interview, data.pop("interview"), content=True
                )
            except Http404 as exc:
                raise serializers.ValidationError(
                    {"interview": ["Choose an interview you may read."]}
                ) from exc
        data.pop("interview", None)
        case = services.case_create(membership=self.membership, data=data, interview=interview)
        self.written(case)
        return Response(CaseOutputSerializer(case).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        case = self.get_object()
        self.require("edit", case)
        serializer = CaseInputSerializer(
            data=request.data, membership=self.membership, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        expected = self.expected_version(case)
        data = dict(serializer.validated_data)
        data.pop("interview", None)
        case = services.case_update(
            membership=self.membership, case=case, data=data, expected_version=expected
        )
        self.written(case)
        return Response(CaseOutputSerializer(case).data)

    @extend_schema(
        summary="Reveal who the person is (a purpose is required; recorded in the audit trail)",
        request=PurposeSerializer,
        responses={200: CaseIdentitySerializer},
    )
    @action(detail=True, methods=["post"])
    def reveal(self, request: Request, pk: Any = None) -> Response:
        case = self.get_object()
        serializer = PurposeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        revealed = services.case_reveal_identity(
            membership=self.membership, case=case, purpose=serializer.validated_data["purpose"]
        )
        return Response(revealed)

    @extend_schema(
        summary="Read what the person says happened (recorded in the audit trail)",
        request=None,
        responses={200: NarrativeSerializer},
    )
    @action(detail=True, methods=["post"])
    def narrative(self, request: Request, pk: Any = None) -> Response:
        case = self.get_object()
        return Response(
            {"narrative": services.case_read_narrative(membership=self.membership, case=case)}
        )


@extend_schema_view(
    list=extend_schema(summary="List the referrals of the cases the caller may see"),
    retrieve=extend_schema(summary="One referral", parameters=[etag_header(200)]),
    create=extend_schema(
        summary="Refer a case (never beyond the person's consent: 400 with the reason)",
        request=ReferralSerializer,
        responses={201: ReferralSerializer},
        parameters=[etag_header(201)],
    ),
    update=extend_schema(
        summary="Replace a referral (its answer, investigation, outcome)",
        description=_VERSIONED,
        request=ReferralSerializer,
        parameters=[if_match_parameter(required=True), etag_header(200, 412)],
        responses=conditional_responses(ReferralSerializer),
    ),
    partial_update=extend_schema(
        summary="Record the answer, the investigation or the outcome of a referral",
        description=_VERSIONED,
        request=ReferralSerializer,
        parameters=[if_match_parameter(required=True), etag_header(200, 412)],
        responses=conditional_responses(ReferralSerializer),
    ),
)
class ReferralViewSet(
    VersionedViewSetMixin,
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permissions = PROTECTION
    model = Referral
    action_permissions = {"create": "refer", "update": "refer", "partial_update": "refer"}
    serializer_class = ReferralSerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["case", "target", "outcome"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ReferralSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        case = data.pop("case")
        referral = services.referral_create(membership=self.membership, case=case, data=data)
        self.written(referral)
        return Response(ReferralSerializer(referral).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        referral = self.get_object()
        self.require("refer", referral.case)
        serializer = ReferralSerializer(
            referral,
            data=request.data,
            membership=self.membership,
            partial=kwargs.get("partial", False),
        )
        serializer.is_valid(raise_exception=True)
        expected = self.expected_version(referral)
        data = dict(serializer.validated_data)
        data.pop("case", None)  # a referral stays with its case
        referral = services.referral_update(
            membership=self.membership, referral=referral, data=data, expected_version=expected
        )
        self.written(referral)
        return Response(ReferralSerializer(referral).data)


@extend_schema_view(
    list=extend_schema(summary="List the persons at risk the caller follows up"),
    retrieve=extend_schema(
        summary="One person at risk (never their identity)", parameters=[etag_header(200)]
    ),
    create=extend_schema(
        summary="Start following up a person at risk; the caller holds the follow-up",
        request=PersonInputSerializer,
        responses={201: PersonOutputSerializer},
        parameters=[etag_header(201)],
    ),
    update=extend_schema(
        summary="Replace the follow-up of a person at risk",
        description=_VERSIONED,
        request=PersonInputSerializer,
        parameters=[if_match_parameter(required=True), etag_header(200, 412)],
        responses=conditional_responses(PersonOutputSerializer),
    ),
    partial_update=extend_schema(
        summary="Change the follow-up of a person at risk",
        description=_VERSIONED,
        request=PersonInputSerializer,
        parameters=[if_match_parameter(required=True), etag_header(200, 412)],
        responses=conditional_responses(PersonOutputSerializer),
    ),
)
class ProtectedPersonViewSet(
    VersionedViewSetMixin,
    MemberViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permissions = PROTECTION
    model = ProtectedPerson
    action_permissions = {
        "create": "follow_up",
        "update": "follow_up",
        "partial_update": "follow_up",
        "transfer": "follow_up",
        "reveal": "reveal_identity",
    }
    serializer_class = PersonOutputSerializer
    pagination_class = DefaultCursorPagination
    filterset_fields = ["current_place", "risk_level", "is_active"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PersonInputSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        case = data.pop("case", None)
        person = services.person_create(membership=self.membership, data=data, case=case)
        self.written(person)
        return Response(PersonOutputSerializer(person).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        person = self.get_object()
        self.require("follow_up", person)
        serializer = PersonInputSerializer(
            data=request.data, membership=self.membership, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        expected = self.expected_version(person)
        data = dict(serializer.validated_data)
        data.pop("case", None)
        if "current_place" in data:
            raise serializers.ValidationError(
                {"current_place": ["A move between places is recorded as a transfer."]}
            )
        person = services.person_update(
            membership=self.membership, person=person, data=data, expected_version=expected
        )
        self.written(person)
        return Response(PersonOutputSerializer(person).data)

    @extend_schema(
        summary="Reveal who the person is (a purpose is required; recorded in the audit trail)",
        request=PurposeSerializer,
        responses={200: PersonIdentitySerializer},
    )
    @action(detail=True, methods=["post"])
    def reveal(self, request: Request, pk: Any = None) -> Response:
        person = self.get_object()
        serializer = PurposeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        revealed = services.person_reveal_identity(
            membership=self.membership,
            person=person,
            purpose=serializer.validated_data["purpose"],
        )
        return Response(revealed)

    @extend_schema(
        summary="Record a transfer: the follow-up moves with the person",
        description="A closed place is refused (400, with the reason). If-Match is optional.",
        request=TransferSerializer,
        parameters=[if_match_parameter(required=False), etag_header(200, 412)],
        responses=conditional_responses(PersonOutputSerializer, required=False),
    )
    @action(detail=True, methods=["post"])
    def transfer(self, request: Request, pk: Any = None) -> Response:
        person = self.get_object()
        serializer = TransferSerializer(data=request.data, membership=self.membership)
        serializer.is_valid(raise_exception=True)
        expected = self.expected_version(person, required=False)
        services.transfer_create(
            membership=self.membership,
            person=person,
            to_place=serializer.validated_data["to_place"],
            transferred_on=serializer.validated_data.get("transferred_on"),
            expected_version=expected,
        )
        person = ProtectedPerson.objects.get(pk=person.pk)
        self.written(person)
        return Response(PersonOutputSerializer(person).data)
