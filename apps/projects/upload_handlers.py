"""Bounding multipart uploads while they stream in, before anything is read into memory.

`BoundedUploadHandler` comes first in FILE_UPLOAD_HANDLERS. It refuses a request whose
Content-Length is above STUDIO_MAX_UPLOAD_BYTES before the first file is read, and stops
reading as soon as the running total of file bytes passes that limit. It then abandons the
rest of the body (the connection is closed) and leaves the reason on the request as
`upload_refused`, which the import views turn into a clear error (form fields before the
first file, such as the CSRF token, are still parsed).
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from apps.projects.content.archives import UploadError


class UploadTooLarge(UploadError):
    """The request is larger than STUDIO_MAX_UPLOAD_BYTES (answered 413)."""


def upload_limit() -> int:
    return settings.STUDIO_MAX_UPLOAD_BYTES


def too_large_message(size: int | None = None) -> str:
    limit = upload_limit()
    if size is None:
        return f"the upload is larger than the limit of {limit} bytes (STUDIO_MAX_UPLOAD_BYTES)"
    return f"the upload is {size} bytes, larger than the limit of {limit} bytes"


def declared_length(request) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def check_declared_length(request) -> None:
    """UploadTooLarge when the request says it is larger than the limit (nothing read yet)."""
    size = declared_length(request)
    if size > upload_limit():
        raise UploadTooLarge(too_large_message(size))


def check_refused(request) -> None:
    """UploadTooLarge if the upload handler stopped reading this request."""
    refused = getattr(request, "upload_refused", None)
    if refused:
        raise UploadTooLarge(*refused)


class BoundedUploadHandler(FileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.limit = upload_limit()
        self.total = 0
        self.refused = False

    def _refuse(self, message: str):
        self.refused = True
        if self.request is not None and not getattr(self.request, "upload_refused", None):
            self.request.upload_refused = (message, None)
        raise StopUpload(connection_reset=True)

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > self.limit:
            # Parse the small fields that come first (the CSRF token), stop at the first file.
            self.refused = True
            if self.request is not None:
                self.request.upload_refused = (too_large_message(content_length), None)
        return None

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        if self.refused:
            raise StopUpload(connection_reset=True)

    def receive_data_chunk(self, raw_data, start):
        self.total += len(raw_data)
        if self.total > self.limit:
            self._refuse(too_large_message())
        return raw_data

    def file_complete(self, file_size):
        return None


def read_uploaded(files) -> list[tuple[str, bytes]]:
    """(name, content) of each UploadedFile, checking its size and the running total before
    reading it, and reading at most one byte past the limit (the per-file limits of loose files
    and of zip entries are checked by `read_files`)."""
    limit = upload_limit()
    total = 0
    out = []
    for upload in files:
        total += upload.size or 0
        if total > limit:
            raise UploadTooLarge(too_large_message(total))
        upload.seek(0)
        content = upload.read(limit + 1)
        total += len(content) - (upload.size or 0)
        if len(content) > limit or total > limit:
            raise UploadTooLarge(too_large_message())
        out.append((upload.name, content))
    return out
