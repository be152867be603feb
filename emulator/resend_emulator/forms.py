"""``multipart/form-data`` request bodies (contact imports), parsed by python-multipart.

A form becomes a dict: text fields as ``str``, file fields as ``bytes`` (under ``MAX_FILE_BYTES``;
python-multipart spools large parts to a temporary file, so memory holds one file at most).
"""

from __future__ import annotations

from typing import Any

from python_multipart import parse_form
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import Field, File

__all__ = ["MAX_BODY_BYTES", "FormError", "parse_multipart"]

# Resend's limit for an import's CSV is 50 MB (OpenAPI CreateContactImportOptions.file); the rest of
# a form is a few JSON fields. A larger body is refused before it is read.
MAX_BODY_BYTES = 51 * 1024 * 1024


class FormError(ValueError):
    """The body is not a readable multipart form."""


def parse_multipart(content_type: str, content_length: int, stream: Any) -> dict[str, Any]:
    form: dict[str, Any] = {}

    def on_field(field: Field) -> None:
        if field.field_name is not None:
            form[field.field_name.decode()] = (field.value or b"").decode("utf-8", errors="replace")

    def on_file(file: File) -> None:
        if file.field_name is None:
            return
        handle = file.file_object
        handle.seek(0)
        form[file.field_name.decode()] = handle.read()
        file.close()

    headers = {"Content-Type": content_type.encode(), "Content-Length": str(content_length).encode()}
    try:
        parse_form(headers, stream, on_field, on_file)
    except (FormParserError, ValueError) as exc:
        raise FormError(f"invalid multipart body: {type(exc).__name__}") from None
    return form
