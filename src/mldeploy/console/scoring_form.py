"""The test form: one field per input the service's ``/swagger.json`` declares (its sample pre-filled), or one
raw body for a script without a schema; the request body made from what was typed, with a clear message for
a value that is not JSON."""

import json
from dataclasses import dataclass
from typing import Any

from ..workspace.services import ServiceRecord
from .reach import Unreachable, read

RAW = "__body__"  # the field name of the raw body editor


class BadInput(ValueError):
    """What was typed cannot be sent: the message names the field and the fix."""


@dataclass
class Field:
    name: str
    kind: str  # the schema's type (and format), shown beside the field
    sample: str  # JSON, pre-filled


@dataclass
class Form:
    fields: list[Field]
    note: str = ""  # why the raw editor is shown, or why the schema could not be read

    @property
    def raw(self) -> bool:
        return [field.name for field in self.fields] == [RAW]

    def sample_body(self) -> str:
        """The request body the pre-filled form sends."""
        return body_of({field.name: field.sample for field in self.fields}, self).decode()


def _kind(schema: dict[str, Any]) -> str:
    kind = str(schema.get("type", "any"))
    if kind == "array" and isinstance(schema.get("items"), dict):
        kind = f"array of {_kind(schema['items'])}"
    return f"{kind} ({schema['format']})" if schema.get("format") else kind


def from_swagger(document: dict[str, Any]) -> Form:
    """The fields of the document's ``ServiceInput`` (swagger 2) or ``components.schemas.ServiceInput`` (3)."""
    definitions = document.get("definitions") or document.get("components", {}).get("schemas", {})
    service_input = definitions.get("ServiceInput") or {}
    properties = service_input.get("properties") or {}
    example = service_input.get("example") or {}
    if not properties or not isinstance(example, dict):
        return raw_form("The script declares no input schema: type the request body as the script expects it.")
    fields = [Field(name, _kind(schema), json.dumps(example.get(name))) for name, schema in properties.items()]
    return Form(fields)


def raw_form(note: str) -> Form:
    return Form([Field(RAW, "request body", "")], note)


def form_for(record: ServiceRecord) -> Form:
    try:
        status, body = read(record, "/swagger.json")
    except Unreachable as error:
        return raw_form(f"{error} The raw body editor is shown instead of a form.")
    try:
        document = json.loads(body) if status == 200 else {}
    except ValueError:
        document = {}
    return from_swagger(document if isinstance(document, dict) else {})


def body_of(typed: dict[str, str], form: Form) -> bytes:
    """The request body: the raw text as typed, or a JSON object of every field's JSON value."""
    if form.raw:
        return typed.get(RAW, "").encode()
    values = {}
    for field in form.fields:
        text = typed.get(field.name, "").strip()
        try:
            values[field.name] = json.loads(text)
        except ValueError as error:
            raise BadInput(
                f"The value of {field.name!r} is not JSON ({error.msg}, at character {error.pos}): type it as JSON, "
                f"e.g. {field.sample}"
            ) from None
    return json.dumps(values).encode()
