"""What an uploaded recording must be: real audio of an allowed format, no larger than AUDIO_MAX_BYTES.

A file is judged by its name's extension AND by its leading bytes (its magic number), so that a text
renamed `.mp3` or a video renamed `.wav` is refused: clients play these files to learners as the model
to imitate. The formats are the ones browsers play: MP3, OGG (Vorbis or Opus), WAV, M4A/AAC and WebM.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File

HEAD_BYTES = 16


def _mp3(head: bytes) -> bool:
    # An ID3 tag, or an MPEG audio frame's sync word (11 bits set) of layer III, II or I.
    return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def _adts(head: bytes) -> bool:
    # An ADTS frame's sync word (12 bits set, layer 0): a raw AAC stream, possibly after an ID3 tag.
    return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0)


def _ogg(head: bytes) -> bool:
    return head.startswith(b"OggS")


def _wav(head: bytes) -> bool:
    return head.startswith(b"RIFF") and head[8:12] == b"WAVE"


def _mp4(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


def _webm(head: bytes) -> bool:
    return head.startswith(b"\x1a\x45\xdf\xa3")  # the EBML header that opens every Matroska/WebM file


@dataclass(frozen=True)
class AudioFormat:
    """A format a recording may have: what curators call it, what it is served as, how it opens."""

    name: str
    content_type: str
    opens_like: Callable[[bytes], bool]


AUDIO_FORMATS: dict[str, AudioFormat] = {
    ".mp3": AudioFormat("MP3", "audio/mpeg", _mp3),
    ".ogg": AudioFormat("OGG", "audio/ogg", _ogg),
    ".oga": AudioFormat("OGG", "audio/ogg", _ogg),
    ".opus": AudioFormat("Opus", "audio/ogg", _ogg),
    ".wav": AudioFormat("WAV", "audio/wav", _wav),
    ".m4a": AudioFormat("M4A", "audio/mp4", _mp4),
    ".aac": AudioFormat("AAC", "audio/aac", _adts),
    ".webm": AudioFormat("WebM", "audio/webm", _webm),
}
ALLOWED = "MP3, OGG/Opus, WAV, M4A/AAC or WebM audio (" + ", ".join(AUDIO_FORMATS) + ")"


def extension(name: str) -> str:
    """Return the lowercased extension of a file name, with its dot ("" when it has none)."""
    base = name.rsplit("/", 1)[-1]
    return "." + base.rsplit(".", 1)[1].lower() if "." in base else ""


def audio_format(name: str) -> AudioFormat | None:
    """Return the format a file name says it has, or None when it is not an allowed audio extension."""
    return AUDIO_FORMATS.get(extension(name))


def validate_audio(file: File) -> None:
    """Refuse a new upload that is not an allowed audio format, by name and content, or that is too large.

    A file already stored was checked when it was uploaded, and is not read again (with S3, reading
    it would mean downloading it).
    """
    if getattr(file, "_committed", False):
        return
    shown = file.name.rsplit("/", 1)[-1]
    kind = audio_format(file.name)
    if kind is None:
        raise ValidationError(f"Recording file: {shown!r} is not an audio file; only {ALLOWED} is allowed.")
    if file.size > settings.AUDIO_MAX_BYTES:
        raise ValidationError(
            f"Recording file: {shown!r} is {_size(file.size)}; "
            f"at most {_size(settings.AUDIO_MAX_BYTES)} is allowed (AUDIO_MAX_BYTES)."
        )
    file.seek(0)
    head = file.read(HEAD_BYTES)
    file.seek(0)
    if not kind.opens_like(head):
        raise ValidationError(
            f"Recording file: {shown!r} is named {extension(file.name)} but its content is not {kind.name} audio; "
            f"only {ALLOWED} is allowed."
        )


def _size(size: int) -> str:
    value, unit = (size / (1024 * 1024), "MB") if size >= 1024 * 1024 else (size / 1024, "KB")
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"
