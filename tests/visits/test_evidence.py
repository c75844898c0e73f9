"""Evidence files: photos lose their EXIF and GPS before storage, everything is encrypted at
rest, the content decides the type, size limits hold, and a file exists only for those who may
see its finding or read its interview. Every upload, download and removal is in the trail."""

from __future__ import annotations

import io
import struct

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image
from rest_framework.test import APIClient

from tests.invisibility import assert_invisible
from tests.visits.conftest import staff, start, theme
from vigil.core.audio import strip_audio_metadata
from vigil.core.files import read_file, stored_path
from vigil.core.models import AuditEntry, Role, StoredFile
from vigil.visits import services
from vigil.visits.models import Evidence, EvidenceKind

pytestmark = pytest.mark.django_db

GPS_IFD = 0x8825


def jpeg_with_gps() -> bytes:
    """A photo as a phone takes it: camera make and model, and the place it was taken."""
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 12"  # Model
    exif[0x0112] = 1  # Orientation
    exif.get_ifd(GPS_IFD).update(
        {
            1: "N",  # GPSLatitudeRef
            2: (48.0, 51.0, 24.0),  # GPSLatitude
            3: "E",
            4: (2.0, 21.0, 3.0),
        }
    )
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the test photo really carries its position
        assert check.getexif().get_ifd(GPS_IFD)
    return data


@pytest.fixture
def running(visit, leader):
    staff(visit, leader)
    return start(visit, leader)


@pytest.fixture
def finding(running, leader):
    return services.observation_create(
        membership=leader,
        visit=running,
        data={
            "theme": theme(running.body),
            "unit": "Unit A",
            "description": "The cell window is broken.",
            "other_sources": ["direct_observation", "photos"],
        },
    )


@pytest.fixture
def interview(running, leader):
    return services.interview_create(
        membership=leader,
        visit=running,
        data={"kind": "private", "category": "detainee", "unit": "Unit A", "notes": "Said a lot."},
    )


def far(evidence: Evidence) -> Evidence:
    """The same evidence file under an id no visit has: the sweep of assert_invisible puts the
    id into every page of the app, the visit's too."""
    Evidence.objects.filter(pk=evidence.pk).update(id=900_100 + evidence.pk)
    return Evidence.objects.get(pk=900_100 + evidence.pk)


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def test_a_photo_loses_its_exif_and_gps_and_is_encrypted_at_rest(leader, finding):
    original = jpeg_with_gps()
    evidence = services.evidence_upload(
        membership=leader, upload=upload("cell.jpg", original), title="Cell 4", observation=finding
    )
    assert evidence.kind == EvidenceKind.PHOTO
    clean = read_file(evidence.file)
    with Image.open(io.BytesIO(clean)) as image:
        assert image.format == "JPEG"
        assert image.size == (64, 48)
        assert not image.getexif()
        assert "exif" not in image.info
    assert b"PhoneMaker" not in clean and b"GPS" not in clean
    raw = stored_path(evidence.file).read_bytes()
    assert raw != clean and raw != original
    assert b"\xff\xd8\xff" not in raw[:16] and b"JFIF" not in raw
    assert evidence.file.content_type == "image/jpeg"
    entry = AuditEntry.objects.get(action="visits.evidence.upload")
    assert entry.object_id == str(evidence.pk)


def test_the_camera_orientation_is_applied_before_the_exif_goes(leader, finding):
    image = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    evidence = services.evidence_upload(
        membership=leader, upload=upload("side.jpeg", out.getvalue()), observation=finding
    )
    with Image.open(io.BytesIO(read_file(evidence.file))) as stored:
        assert stored.size == (20, 40)


def test_a_file_pretending_to_be_a_photo_is_refused_and_nothing_is_stored(leader, finding):
    with pytest.raises(ValidationError) as refused:
        services.evidence_upload(
            membership=leader,
            upload=upload("photo.jpg", b"%PDF-1.7 not a photo at all"),
            observation=finding,
        )
    assert "does not match its “.jpg” extension" in refused.value.messages[0]
    assert not Evidence.objects.exists() and not StoredFile.objects.exists()
    assert not AuditEntry.objects.filter(action="visits.evidence.upload").exists()


def test_a_damaged_image_and_a_foreign_type_are_refused(leader, finding):
    with pytest.raises(ValidationError, match="could not be read"):
        services.evidence_upload(
            membership=leader,
            upload=upload("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),
            observation=finding,
        )
    with pytest.raises(ValidationError, match="are not accepted"):
        services.evidence_upload(
            membership=leader, upload=upload("tool.exe", b"MZ\x90\x00"), observation=finding
        )
    assert not StoredFile.objects.exists()


def test_an_oversized_file_is_refused(settings, leader, finding):
    settings.VIGIL_MAX_UPLOAD_BYTES = 1024 * 1024
    big = b"%PDF-1.7\n" + b"0" * (2 * 1024 * 1024)
    with pytest.raises(ValidationError, match="the limit is 1 MB"):
        services.evidence_upload(
            membership=leader, upload=upload("scan.pdf", big), observation=finding
        )
    assert not StoredFile.objects.exists()


def test_exactly_one_record(leader, finding, interview):
    with pytest.raises(ValidationError, match="one finding or to one interview"):
        services.evidence_upload(
            membership=leader,
            upload=upload("a.pdf", b"%PDF-1.7"),
            observation=finding,
            interview=interview,
        )


def mp3_with_tags() -> bytes:
    frame = b"\xff\xfb\x90\x64" + b"\x00" * 413
    title = b"TIT2" + struct.pack(">I", 12) + b"\x00\x00" + b"\x03Interview 7"
    id3 = b"ID3\x03\x00\x00" + bytes([0, 0, 0, len(title)]) + title
    id3v1 = b"TAG" + b"Recorded at Northgate".ljust(125, b"\x00")
    return id3 + frame * 3 + id3v1


def wav_with_info() -> bytes:
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 8000, 1, 8)
    data = b"data" + struct.pack("<I", 4) + b"\x80\x80\x80\x80"
    info_text = b"INAM" + struct.pack("<I", 10) + b"Cell 4 me\x00"
    info = b"LIST" + struct.pack("<I", 4 + len(info_text)) + b"INFO" + info_text
    body = b"WAVE" + fmt + info + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_recordings_lose_their_tags(leader, interview):
    evidence = services.evidence_upload(
        membership=leader, upload=upload("voice.mp3", mp3_with_tags()), interview=interview
    )
    stored = read_file(evidence.file)
    assert evidence.kind == EvidenceKind.AUDIO
    assert stored.startswith(b"\xff\xfb") and b"Interview 7" not in stored
    assert b"Northgate" not in stored
    wav = strip_audio_metadata(wav_with_info(), "audio/wav")
    assert b"Cell 4" not in wav and b"LIST" not in wav
    assert wav[8:12] == b"WAVE" and b"fmt " in wav and wav.endswith(b"\x80\x80\x80\x80")
    assert struct.unpack("<I", wav[4:8])[0] == len(wav) - 8


def test_an_m4a_keeps_its_sound_offsets_and_loses_its_user_data():
    udta = struct.pack(">I", 20) + b"udta" + b"\xa9nam" + b"Detainee"
    moov = struct.pack(">I", 8 + len(udta)) + b"moov" + udta
    ftyp = struct.pack(">I", 16) + b"ftypM4A " + b"\x00" * 4
    mdat = struct.pack(">I", 12) + b"mdat" + b"snd!"
    data = ftyp + moov + mdat
    clean = strip_audio_metadata(data, "audio/mp4")
    assert len(clean) == len(data) and b"Detainee" not in clean and b"free" in clean
    assert clean.endswith(b"snd!")


# ---------- Pages and the API ----------


def test_the_page_uploads_lists_and_serves_the_file(client_for, leader, finding):
    client = client_for(leader)
    url = reverse("visits:observation_evidence_upload", args=[finding.visit_id, finding.pk])
    response = client.post(url, {"file": upload("cell.jpg", jpeg_with_gps()), "title": "Cell 4"})
    assert response.status_code == 302
    evidence = Evidence.objects.get()
    page = client.get(reverse("visits:observation_edit", args=[finding.visit_id, finding.pk]))
    assert page.status_code == 200
    download = reverse("visits:evidence_download", args=[finding.visit_id, evidence.pk])
    assert download in page.content.decode()
    served = client.get(download)
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert served["Cache-Control"] == "private, no-store"
    assert b"PhoneMaker" not in served.content
    assert AuditEntry.objects.filter(action="visits.evidence.download").count() == 1


def test_the_page_says_why_a_file_was_refused(client_for, leader, finding):
    client = client_for(leader)
    url = reverse("visits:observation_evidence_upload", args=[finding.visit_id, finding.pk])
    response = client.post(url, {"file": upload("photo.jpg", b"GIF89a....")}, follow=True)
    assert "does not match its “.jpg” extension" in response.content.decode()
    assert not Evidence.objects.exists()


def test_removing_a_file_is_recorded_and_it_is_gone(client_for, leader, finding):
    evidence = services.evidence_upload(
        membership=leader, upload=upload("a.pdf", b"%PDF-1.7 scan"), observation=finding
    )
    client = client_for(leader)
    response = client.post(reverse("visits:evidence_delete", args=[finding.visit_id, evidence.pk]))
    assert response.status_code == 302
    assert AuditEntry.objects.filter(action="visits.evidence.delete").exists()
    gone = client.get(reverse("visits:evidence_download", args=[finding.visit_id, evidence.pk]))
    assert gone.status_code == 404


def test_the_api_uploads_lists_and_downloads(leader, finding):
    api = APIClient()
    api.force_authenticate(leader.user)
    response = api.post(
        "/api/v1/evidence/",
        {"file": upload("cell.png", png_bytes()), "observation": finding.pk, "title": "Yard"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert response.json()["kind"] == "photo"
    listed = api.get("/api/v1/evidence/", {"observation": finding.pk}).json()["results"]
    assert [row["id"] for row in listed] == [pk]
    download = api.get(f"/api/v1/evidence/{pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    refused = api.post(
        "/api/v1/evidence/",
        {"file": upload("fake.png", b"not a png"), "observation": finding.pk},
        format="multipart",
    )
    assert refused.status_code == 400
    assert "does not match" in refused.json()["file"][0]
    assert api.delete(f"/api/v1/evidence/{pk}/").status_code == 204
    assert api.get(f"/api/v1/evidence/{pk}/").status_code == 404


def png_bytes() -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (8, 8), (0, 255, 0))
    info = __import__("PIL.PngImagePlugin", fromlist=["PngInfo"]).PngInfo()
    info.add_text("Comment", "taken at Northgate")
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def test_a_png_loses_its_text_chunks(leader, finding):
    evidence = services.evidence_upload(
        membership=leader, upload=upload("yard.png", png_bytes()), observation=finding
    )
    assert b"Northgate" not in read_file(evidence.file)


# ---------- Who may see it ----------


@pytest.mark.parametrize("role", [Role.ANALYST, Role.MONITOR, Role.AUDITOR, Role.ADMIN])
def test_an_interviews_evidence_is_need_to_know(persona, leader, interview, role):
    evidence = services.evidence_upload(
        membership=leader,
        upload=upload("voice.mp3", mp3_with_tags()),
        interview=interview,
        title="Recording of P-interview",
    )
    evidence = far(evidence)
    assert assert_invisible(persona(role), evidence) > 10
    api = APIClient()
    api.force_authenticate(persona(role).user)
    assert api.get(f"/api/v1/evidence/{evidence.pk}/download/").status_code == 404


def test_the_head_reads_an_interviews_evidence(persona, leader, interview):
    evidence = services.evidence_upload(
        membership=leader, upload=upload("voice.mp3", mp3_with_tags()), interview=interview
    )
    head = persona(Role.HEAD)
    assert services.evidence_open(membership=head, evidence=evidence) == evidence.file


@pytest.mark.parametrize("role", [Role.AUTHORITY_FOCAL_POINT])
def test_a_findings_evidence_follows_the_visit(persona, leader, finding, role):
    evidence = services.evidence_upload(
        membership=leader,
        upload=upload("a.pdf", b"%PDF-1.7 scan"),
        observation=finding,
        title="Register page scan",
    )
    evidence = far(evidence)
    assert assert_invisible(persona(role), evidence) > 10


def test_another_bodys_head_never_sees_evidence(other_body, leader, finding):
    from tests.factories import MembershipFactory, UserFactory

    stranger = MembershipFactory(
        user=UserFactory(username="stranger-head"), body=other_body, role=Role.HEAD
    )
    evidence = services.evidence_upload(
        membership=leader,
        upload=upload("a.pdf", b"%PDF-1.7 scan"),
        observation=finding,
        title="Scan of the register",
    )
    evidence = far(evidence)
    assert assert_invisible(stranger, evidence) > 10


def test_off_the_team_nobody_uploads(persona, finding):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.evidence_upload(
            membership=persona(Role.MONITOR),
            upload=upload("a.pdf", b"%PDF-1.7"),
            observation=finding,
        )


def test_a_decompression_bomb_is_refused(monkeypatch, leader, finding):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    big = io.BytesIO()
    Image.new("RGB", (100, 100)).save(big, format="PNG")
    with pytest.raises(ValidationError, match="could not be read"):
        services.evidence_upload(
            membership=leader, upload=upload("huge.png", big.getvalue()), observation=finding
        )
    assert not StoredFile.objects.exists()
