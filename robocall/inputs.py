"""Input from the network read into typed models (pydantic): one way to refuse bad input, naming the field.

The JSON API, the SMS campaign API and the carrier callbacks each declare what they accept as a
pydantic model; `parse` turns a body into it or raises `BadInput` with the field's name and a
message (Vietnamese, then English), which the routes answer as 400 ``{"error": ..., "field": ...}``.
The same models give the OpenAPI document its schemas (robocall/web/openapi.py), so what the
document says and what the server accepts cannot drift apart.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

# Ids are INTEGER columns: 32-bit signed on PostgreSQL (64-bit on SQLite); a larger one names nothing
# and would overflow PostgreSQL's parameter (a 500).
MAX_ID = 2**31 - 1
# Free text people type: a note, an assignee, an SMS text.  Caps keep one request from storing or
# sending a book (a 200,000-character SMS was 1,308 segments a message).
NAME_MAX = 100
NOTE_MAX = 2000
SMS_TEXT_MAX = 1000  # 15 concatenated UCS-2 parts: far beyond any notice, far below abuse
PHONES_MAX = 100_000  # numbers in one API request; larger lists go through `robocall sms send`

# An identifier or a number from the network: no control character (a NUL is refused by PostgreSQL, a
# line break forges log lines).  Free text is kept instead, cleaned (robocall.text.storable_text).
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """A request body: unknown fields refused, strings trimmed, no type coercion from other types."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class BadInput(ValueError):
    """Input refused; `field` names where (a dotted path, "body" for the whole), the text says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message

    def to_json(self) -> dict[str, str]:
        return {"error": str(self), "field": self.field}


_MESSAGES = {  # pydantic's error types, said in Vietnamese first
    "missing": "thiếu trường này / field required",
    "extra_forbidden": "trường không được nhận / unknown field",
    "string_type": "cần một chuỗi / must be a string",
    "list_type": "cần một danh sách / must be a list",
    "bool_type": "cần true hoặc false / must be true or false",
    "int_type": "cần một số nguyên / must be an integer",
    "dict_type": "cần một đối tượng JSON / must be a JSON object",
    "model_type": "cần một đối tượng JSON / must be a JSON object",
    "model_attributes_type": "cần một đối tượng JSON / must be a JSON object",
    "literal_error": "giá trị không hợp lệ / not one of the allowed values",
    "string_too_long": "quá dài / too long",
    "string_too_short": "quá ngắn / too short",
    "too_long": "quá nhiều phần tử / too many items",
    "too_short": "quá ít phần tử / too few items",
    "string_unicode": "không phải chuỗi Unicode hợp lệ / not a valid Unicode string",
    "string_pattern_mismatch": "có ký tự không được nhận (ký tự điều khiển) / holds a character not accepted (a control character)",
    "int_from_float": "cần một số nguyên / must be an integer",
    "int_parsing": "cần một số nguyên / must be an integer",
    "float_type": "cần một số / must be a number",
    "float_parsing": "cần một số / must be a number",
    "datetime_from_date_parsing": "cần ngày giờ ISO 8601 / must be an ISO 8601 date and time",
    "datetime_parsing": "cần ngày giờ ISO 8601 / must be an ISO 8601 date and time",
    "datetime_type": "cần ngày giờ ISO 8601 / must be an ISO 8601 date and time",
}


def parse(model: type[M], data: Any) -> M:
    """`data` (decoded JSON, or a form as a dict) as `model`, or BadInput naming the first wrong field."""
    if not isinstance(data, dict):
        raise BadInput("body", _MESSAGES["dict_type"])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        text = _MESSAGES.get(first["type"], first["msg"])
        if first["type"] in ("string_too_long", "too_long") and "max_length" in first.get("ctx", {}):
            text += f" (tối đa / at most {first['ctx']['max_length']})"
        raise BadInput(field, text) from None
