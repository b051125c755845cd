"""OpenAPI documents for ``/swagger.json``, built as the reference builds them.

A user's own ``swagger.json`` / ``swagger2.json`` / ``swagger3.json`` / ``swagger3.1.json`` in the app root
wins; otherwise the document is generated from the inference-schema decorators of run() (an undecorated
run() gets an open object schema). Versions a script's schema cannot express are left out.
"""

import json
import os
from collections.abc import Callable
from typing import Any

ALL_VERSIONS = ("2.0", "3.0", "3.1")
# version -> (the aliases ?version= accepts, the user files that replace generation, in order)
VERSIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "2": (("2", "2.0"), ("swagger.json", "swagger2.json")),
    "3": (("3", "3.0"), ("swagger3.json",)),
    "3.1": (("3.1",), ("swagger3.1.json",)),
}
SCHEMA_VERSION = {"2": "2.0", "3": "3.0", "3.1": "3.1"}

HEALTH_DESCRIPTION = "Simple health check endpoint to ensure the service is up at any given point."
HEALTHY_DESCRIPTION = "If service is up and running, this response will be returned with the content 'Healthy'"
ERROR_DESCRIPTION = "The service failed to execute due to an error."
SCORE_DESCRIPTION = "Run web service's model and get the prediction output"
PAYLOAD_DESCRIPTION = "The input payload for executing the real-time machine learning service."
RESULT_DESCRIPTION = "The service processed the input correctly and provided a result prediction, if applicable."
OPEN_OBJECT: dict[str, Any] = {"type": "object", "example": {}}


def _service() -> tuple[str, str, str]:
    name = os.environ.get("SERVICE_NAME", "ML service")
    version = os.environ.get("SERVICE_VERSION", "1.0")
    prefix = os.environ.get("SERVICE_PATH_PREFIX", "")
    return name, version, f"/{prefix.strip('/')}" if prefix else ""


def _info(name: str, version: str) -> dict[str, str]:
    return {
        "title": name,
        "description": f"API specification for the Azure Machine Learning service {name}",
        "version": version,
    }


def _error_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {"message": {"type": "string"}}}


def _placeholder_definitions() -> dict[str, Any]:
    return {
        "ServiceInput": {
            "type": "object",
            "properties": {"param": {"type": "object", "additionalProperties": {"type": "object"}}},
        },
        "ServiceOutput": {"type": "object", "additionalProperties": {"type": "object"}},
        "ErrorResponse": _error_schema(),
    }


def _bearer() -> dict[str, str]:
    return {"type": "apiKey", "name": "Authorization", "in": "header", "description": "For example: Bearer abc123"}


def _operation(operation_id: str, description: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "description": description, **extra, "responses": responses}


def _paths(
    prefix: str, error: Any, healthy: Any, score: dict[str, Any], result: Any, version_parameter: Any, document: Any
) -> dict[str, Any]:
    """The three documented routes; only the version-specific parts differ between swagger 2 and OpenAPI 3."""
    return {
        f"{prefix}/": {"get": _operation("ServiceHealthCheck", HEALTH_DESCRIPTION, {"200": healthy, "default": error})},
        f"{prefix}/score": {
            "post": _operation(
                "RunMLService", SCORE_DESCRIPTION, {"200": result, "default": error}, security=[{"Bearer": []}], **score
            )
        },
        f"{prefix}/swagger.json": {
            "get": _operation(
                "GetSwaggerSpec",
                "Get the Swagger specification.",
                {"200": {"description": "The Swagger specification.", **document}, "default": error},
                parameters=[{"name": "version", "in": "query", "required": False, **version_parameter}],
            )
        },
    }


def _definitions(input_schema: Any, output_schema: Any) -> dict[str, Any]:
    definitions = _placeholder_definitions()
    definitions["ServiceInput"] = input_schema
    definitions["ServiceOutput"] = output_schema
    return definitions


def _v2(input_schema: Any, output_schema: Any) -> dict[str, Any]:
    name, version, prefix = _service()
    paths = _paths(
        prefix,
        error={"description": ERROR_DESCRIPTION, "schema": {"$ref": "#/definitions/ErrorResponse"}},
        healthy={
            "description": HEALTHY_DESCRIPTION,
            "schema": {"type": "string"},
            "examples": {"application/json": "Healthy"},
        },
        score={
            "parameters": [
                {
                    "name": "serviceInputPayload",
                    "in": "body",
                    "description": PAYLOAD_DESCRIPTION,
                    "schema": {"$ref": "#/definitions/ServiceInput"},
                }
            ]
        },
        result={"description": RESULT_DESCRIPTION, "schema": {"$ref": "#/definitions/ServiceOutput"}},
        version_parameter={"type": "integer", "enum": [2, 3]},
        document={"schema": {"type": "string"}},
    )
    return {
        "swagger": "2.0",
        "info": _info(name, version),
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {"Bearer": _bearer()},
        "paths": paths,
        "definitions": _definitions(input_schema, output_schema),
    }


def _json_content(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _v3(input_schema: Any, output_schema: Any, openapi: str) -> dict[str, Any]:
    name, version, prefix = _service()
    paths = _paths(
        prefix,
        error={"description": ERROR_DESCRIPTION, "content": _json_content("ErrorResponse")},
        healthy={
            "description": HEALTHY_DESCRIPTION,
            "content": {"text/plain": {"schema": {"type": "string", "example": "Healthy"}}},
        },
        score={"requestBody": {"description": PAYLOAD_DESCRIPTION, "content": _json_content("ServiceInput")}},
        result={"description": RESULT_DESCRIPTION, "content": _json_content("ServiceOutput")},
        version_parameter={"schema": {"type": "integer", "enum": [2, 3]}},
        document={"content": {"text/plain": {"schema": {"type": "string"}}}},
    )
    return {
        "openapi": openapi,
        "info": _info(name, version),
        "security": [{"Bearer": []}],
        "paths": paths,
        "components": {
            "schemas": _definitions(input_schema, output_schema),
            "securitySchemes": {"Bearer": _bearer()},
        },
    }


def _schemas(run: Callable[..., Any]) -> tuple[list[str], Any, Any]:
    """(versions the schema supports, input schema, output schema) of run()."""
    try:
        from inference_schema.schema_util import (
            get_input_schema,
            get_output_schema,
            get_supported_versions,
            is_schema_decorated,
        )
    except ImportError:
        return list(ALL_VERSIONS), OPEN_OBJECT, OPEN_OBJECT
    if not is_schema_decorated(run):
        return get_supported_versions(run), OPEN_OBJECT, OPEN_OBJECT
    return get_supported_versions(run), get_input_schema(run), get_output_schema(run)


def _user_document(app_root: str, names: tuple[str, ...]) -> Any:
    for name in names:
        path = os.path.join(app_root, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as file:
                return json.load(file)
    return None


def build_documents(app_root: str, run: Callable[..., Any]) -> tuple[dict[str, bytes], list[str]]:
    """({alias: JSON body}, supported versions) for every swagger version this script can have."""
    supported, input_schema, output_schema = _schemas(run)
    documents: dict[str, bytes] = {}
    versions: list[str] = []
    for version, (aliases, user_files) in VERSIONS.items():
        document = _user_document(app_root, user_files)
        if document is None and SCHEMA_VERSION[version] in supported:
            if version == "2":
                document = _v2(input_schema, output_schema)
            else:
                document = _v3(input_schema, output_schema, "3.1.0" if version == "3.1" else "3.0.3")
        if document is not None:
            body = json.dumps(document).encode()
            documents.update(dict.fromkeys(aliases, body))
            versions.append(version)
    return documents, sorted(versions)


def valid_aliases() -> set[str]:
    return {alias for aliases, _ in VERSIONS.values() for alias in aliases}
