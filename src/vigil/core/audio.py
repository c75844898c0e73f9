"""Recordings lose their tags before they are stored: a phone's recorder writes who recorded,
where and when (ID3 frames, RIFF INFO lists, MP4 user data), which must not travel with what a
detainee said.

What is removed, by format:
- MP3: ID3v2 tags at the start (all of them), the ID3v1 tag and an APEv2 tag at the end;
- WAV: every RIFF chunk except the format and the sound itself (LIST/INFO, id3, bext…);
- M4A (MP4): the `udta` and `meta` boxes of the movie and its tracks are blanked in place
  (turned into `free` boxes of the same size, so the offsets of the sound stay right);
- Ogg: left as recorded (its comments sit in checksummed pages that would have to be rebuilt).
"""

from __future__ import annotations

import struct

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def strip_audio_metadata(data: bytes, content_type: str) -> bytes:
    """`data` without the tags this module knows for `content_type`; unchanged for others."""
    try:
        if content_type == "audio/mpeg":
            return _strip_mp3(data)
        if content_type == "audio/wav":
            return _strip_wav(data)
        if content_type == "audio/mp4":
            return _strip_mp4(bytearray(data))
    except (struct.error, IndexError, ValueError) as exc:
        raise ValidationError(_("The recording could not be read: it may be damaged.")) from exc
    return data


def _syncsafe(raw: bytes) -> int:
    return (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]


def _strip_mp3(data: bytes) -> bytes:
    # ID3v2: "ID3", version (2), flags (1), size (4, synchsafe), optional footer (10 bytes).
    while data.startswith(b"ID3") and len(data) >= 10:
        size = _syncsafe(data[6:10]) + 10
        if data[5] & 0x10:
            size += 10
        data = data[size:]
    # ID3v1: the last 128 bytes begin with "TAG".
    if len(data) >= 128 and data[-128:-125] == b"TAG":
        data = data[:-128]
    # APEv2 footer: "APETAGEX", version, size (tag without header), items, flags, reserved.
    if len(data) >= 32 and data[-32:-24] == b"APETAGEX":
        (size,) = struct.unpack("<I", data[-20:-16])
        (flags,) = struct.unpack("<I", data[-12:-8])
        header = 32 if flags & 0x80000000 else 0
        data = data[: -(size + header)]
    if not data:
        raise ValueError("only tags")
    return data


_WAV_KEPT = {b"fmt ", b"data", b"fact", b"cue ", b"smpl"}


def _strip_wav(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAVE file")
    kept = [b"WAVE"]
    position = 12
    while position + 8 <= len(data):
        chunk_id = data[position : position + 4]
        (size,) = struct.unpack("<I", data[position + 4 : position + 8])
        end = position + 8 + size + (size & 1)  # chunks are padded to an even length
        if chunk_id in _WAV_KEPT:
            kept.append(data[position : min(end, len(data))])
        position = end
    body = b"".join(kept)
    return b"RIFF" + struct.pack("<I", len(body)) + body


_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf"}
_MP4_TAGS = {b"udta", b"meta"}


def _strip_mp4(data: bytearray, start: int = 0, end: int | None = None) -> bytes:
    end = len(data) if end is None else end
    position = start
    while position + 8 <= end:
        (size,) = struct.unpack(">I", data[position : position + 4])
        kind = bytes(data[position + 4 : position + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[position + 8 : position + 16])
            header = 16
        elif size == 0:
            size = end - position
        if size < header:
            raise ValueError("bad box size")
        if kind in _MP4_TAGS:
            data[position + 4 : position + 8] = b"free"
            data[position + header : position + size] = bytes(size - header)
        elif kind in _MP4_CONTAINERS:
            _strip_mp4(data, position + header, position + size)
        position += size
    return bytes(data)
