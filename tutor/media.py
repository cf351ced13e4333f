"""Serving uploaded recordings from MEDIA_ROOT, when they are stored on this server's disk.

gunicorn runs without a web server in front, and whitenoise only serves the files it found at start-up,
so this view serves what curators upload later, in development and production alike. It answers
byte ranges (`Range: bytes=...`, 206 Partial Content), which browsers ask for to seek in an audio file
and which Chromium needs to play some files at all; several ranges in one request get the whole file
(200), as HTTP allows. Only files with an allowed audio extension are served, as their audio type.
With S3 storage this view is not routed: the storage's own URLs are used.
"""

import re
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.urls import path as route
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from tutor.audio_files import audio_format

CHUNK_BYTES = 64 * 1024
CACHE_CONTROL = "public, max-age=86400"
# Positions of more than 20 digits are past any file (and Python refuses to read thousands of digits).
_RANGE = re.compile(r"bytes=(?P<first>[0-9]{0,20})-(?P<last>[0-9]{0,20})")


class Unsatisfiable(Exception):
    """The range asked for lies past the end of the file."""


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """Return the (first, last) byte a single `Range` header asks of a file of `size` bytes.

    None means "send the whole file" (200): no header, a malformed one (a position of more than 20 digits
    included), or several ranges. A range that
    covers the whole file is still a range: Chromium opens with `bytes=0-` and takes a 206 as the sign
    that it may seek by range. A range starting past the end raises Unsatisfiable.
    """
    match = _RANGE.fullmatch(header.strip())
    if not match or not (match["first"] or match["last"]):
        return None
    if match["first"]:
        first = int(match["first"])
        last = min(int(match["last"]), size - 1) if match["last"] else size - 1
        if match["last"] and int(match["last"]) < first:
            return None
    else:  # a suffix: the last N bytes
        first, last = max(size - int(match["last"]), 0), size - 1
        if int(match["last"]) == 0:
            raise Unsatisfiable
    if first >= size:
        raise Unsatisfiable
    return first, last


@require_safe
def serve(request, path: str):
    """Answer a stored recording, whole or the byte range asked for."""
    kind = audio_format(path)
    try:
        file = Path(default_storage.path(path)).resolve()
    except SuspiciousFileOperation as exc:
        raise Http404("No such file.") from exc
    # Resolved, a link inside MEDIA_ROOT that leads out of it is not served.
    if kind is None or not file.is_relative_to(Path(settings.MEDIA_ROOT).resolve()) or not file.is_file():
        raise Http404("No such file.")
    stat = file.stat()
    try:
        asked = byte_range(request.headers.get("Range", ""), stat.st_size)
    except Unsatisfiable:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{stat.st_size}"
        return _headed(response, stat.st_mtime)
    if asked is None:
        response = FileResponse(file.open("rb"), content_type=kind.content_type)
        return _headed(response, stat.st_mtime)
    first, last = asked
    response = StreamingHttpResponse(_chunks(file, first, last), status=206, content_type=kind.content_type)
    response["Content-Length"] = str(last - first + 1)
    response["Content-Range"] = f"bytes {first}-{last}/{stat.st_size}"
    return _headed(response, stat.st_mtime)


def _chunks(file: Path, first: int, last: int):
    with file.open("rb") as stream:
        stream.seek(first)
        left = last - first + 1
        while left > 0:
            chunk = stream.read(min(CHUNK_BYTES, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def _headed(response: HttpResponse, modified: float) -> HttpResponse:
    response["Accept-Ranges"] = "bytes"
    response["Last-Modified"] = http_date(modified)
    response["Cache-Control"] = CACHE_CONTROL
    return response


def urlpatterns() -> list:
    """The route of MEDIA_URL to this view, when uploads are stored on this server's disk (else none)."""
    if not isinstance(default_storage, FileSystemStorage):
        return []
    return [route(settings.MEDIA_URL.lstrip("/") + "<path:path>", serve, name="media")]
