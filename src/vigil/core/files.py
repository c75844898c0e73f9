"""Uploads: type and size checks, metadata removal, encrypted storage outside the web root,
and downloads that the caller has already permission-checked."""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import stat
import tempfile
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpResponse
from django.utils.translation import gettext as _

from vigil.core.audit import audit
from vigil.core.crypto import decrypt_bytes, encrypt_bytes
from vigil.core.models import Body, StoredFile

# extension -> (content type, magic-byte prefixes that file must start with; empty = text)
ALLOWED_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (b"PK\x03\x04",),
    ),
    ".xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        (b"PK\x03\x04",),
    ),
    ".odt": ("application/vnd.oasis.opendocument.text", (b"PK\x03\x04",)),
    ".txt": ("text/plain", ()),
    ".csv": ("text/csv", ()),
}

# Photos, scans and recordings taken during fieldwork (evidence): what a phone produces.
MEDIA_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".webp": ("image/webp", (b"RIFF",)),
    ".pdf": ("application/pdf", (b"%PDF-",)),
    # An MP3 starts with its ID3 tag or directly with an MPEG audio frame.
    ".mp3": ("audio/mpeg", (b"ID3", b"\xff\xfb", b"\xff\xfa", b"\xff\xf3", b"\xff\xf2")),
    ".m4a": ("audio/mp4", ()),
    ".ogg": ("audio/ogg", (b"OggS",)),
    ".oga": ("audio/ogg", (b"OggS",)),
    ".wav": ("audio/wav", (b"RIFF",)),
}
# Formats recognised by a mark inside the file rather than (only) by its first bytes.
_INNER_MARKS: dict[str, tuple[int, bytes]] = {
    ".webp": (8, b"WEBP"),
    ".wav": (8, b"WAVE"),
    ".m4a": (4, b"ftyp"),
}
_IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


def storage_root() -> Path:
    return Path(settings.MEDIA_ROOT) / "files"


def stored_path(stored: StoredFile) -> Path:
    """Where the encrypted content of a stored file lives on disk."""
    return storage_root() / stored.storage_name[:2] / stored.storage_name


def _strip_image_metadata(data: bytes, extension: str) -> bytes:
    """Re-encode images without EXIF (GPS position, camera, time) before anything stores them.

    The orientation a camera records in EXIF is applied to the pixels first, so a photo taken
    upright still shows upright once its EXIF is gone."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened) or opened
            clean = Image.new(image.mode, image.size)
            # Pixels only: EXIF, GPS and text chunks stay behind.
            pixels: Any = list(image.get_flattened_data())
            clean.putdata(pixels)
            if image.mode == "P" and image.palette is not None:
                clean.putpalette(image.getpalette() or [])
            out = io.BytesIO()
            fmt = {".png": "PNG", ".webp": "WEBP"}.get(extension, "JPEG")
            if fmt == "JPEG" and clean.mode not in {"RGB", "L"}:
                clean = clean.convert("RGB")
            clean.save(out, format=fmt)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        # A "decompression bomb" (a small file that unpacks to billions of pixels) is refused
        # like a damaged image rather than filling the memory.
        raise ValidationError(_("The image could not be read: it may be damaged.")) from exc


def check_upload(
    upload: UploadedFile, *, types: Mapping[str, tuple[str, tuple[bytes, ...]]] = ALLOWED_TYPES
) -> tuple[bytes, str]:
    """Read and check an upload against `types` (extension -> content type and the first
    bytes such a file has: ALLOWED_TYPES for documents, MEDIA_TYPES for evidence); returns its
    cleaned bytes and content type or raises ValidationError with a message that says what is
    wrong. The content decides, not the name: a file whose bytes are not what its extension
    says is refused, and images and recordings lose their metadata."""
    name = upload.name or ""
    extension = Path(name).suffix.lower()
    if extension not in types:
        raise ValidationError(
            _("Files of type “%(ext)s” are not accepted. Accepted types: %(types)s.")
            % {"ext": extension or _("(none)"), "types": ", ".join(sorted(types))}
        )
    if upload.size is not None and upload.size > settings.VIGIL_MAX_UPLOAD_BYTES:
        raise ValidationError(
            _("The file is %(size)s MB; the limit is %(limit)s MB.")
            % {
                "size": round(upload.size / 1024 / 1024, 1),
                "limit": settings.VIGIL_MAX_UPLOAD_BYTES // 1024 // 1024,
            }
        )
    data = upload.read()
    if not data:
        raise ValidationError(_("The file is empty."))
    content_type, magics = types[extension]
    mark = _INNER_MARKS.get(extension)
    if (magics and not data.startswith(magics)) or (
        mark is not None and data[mark[0] : mark[0] + len(mark[1])] != mark[1]
    ):
        raise ValidationError(
            _("The file's content does not match its “%(ext)s” extension.") % {"ext": extension}
        )
    if not magics and mark is None and b"\x00" in data[:4096]:
        raise ValidationError(_("The file is not a text file."))
    if content_type in _IMAGE_FORMATS:
        data = _strip_image_metadata(data, extension)
    elif content_type.startswith("audio/"):
        from vigil.core.audio import strip_audio_metadata

        data = strip_audio_metadata(data, content_type)
    return data, content_type


@transaction.atomic
def store_file(
    *,
    actor: Any,
    body: Body,
    upload: UploadedFile,
    types: Mapping[str, tuple[str, tuple[bytes, ...]]] = ALLOWED_TYPES,
) -> StoredFile:
    """Check, clean, encrypt and store an upload; returns the StoredFile record."""
    data, content_type = check_upload(upload, types=types)
    storage_name = secrets.token_hex(16)
    path = storage_root() / storage_name[:2] / storage_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encrypt_bytes(data))
    stored = StoredFile.objects.create(
        body=body,
        original_name=Path(upload.name or "file").name[:255],
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_name=storage_name,
        uploaded_by=actor,
    )
    audit(actor=actor, action="core.file.upload", obj=stored, changes={"size": len(data)})
    return stored


@transaction.atomic
def store_generated_file(
    *, actor: Any, body: Body, name: str, content_type: str, data: bytes
) -> StoredFile:
    """Encrypt and store a file Vigil wrote itself (an export): no upload checks, the same
    encrypted storage and permission-checked download as an upload."""
    storage_name = secrets.token_hex(16)
    path = storage_root() / storage_name[:2] / storage_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encrypt_bytes(data))
    stored = StoredFile.objects.create(
        body=body,
        original_name=Path(name).name[:255],
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_name=storage_name,
        uploaded_by=actor,
    )
    audit(actor=actor, action="core.file.upload", obj=stored, changes={"size": len(data)})
    return stored


def read_file(stored: StoredFile) -> bytes:
    return decrypt_bytes(stored_path(stored).read_bytes())


def download_response(stored: StoredFile, *, actor: Any) -> HttpResponse:
    """The decrypted file as an attachment; callers check permission on the owning record first."""
    audit(actor=actor, action="core.file.download", obj=stored)
    response = HttpResponse(read_file(stored), content_type=stored.content_type)
    response["Content-Disposition"] = _content_disposition(stored.original_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _content_disposition(name: str) -> str:
    from urllib.parse import quote

    ascii_name = name.encode("ascii", "replace").decode().replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def replace_file_atomically(path: Path, data: bytes) -> None:
    """Replace the content of `path` so that a crash at any moment leaves either the old content
    or the new one, never a half-written file: write a temporary file beside it, flush it to
    disk, then rename it over the original (and flush the directory, so the rename survives).

    The new file keeps the old one's permissions and, where allowed, its owner, so a rotation
    run by another account does not lock the application out of its own files.
    """
    previous = path.stat()
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, stat.S_IMODE(previous.st_mode))
        with suppress(PermissionError):
            os.chown(temporary, previous.st_uid, previous.st_gid)
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
