"""API errors as the Kubernetes API server reports them: a `Status` object with reason and code.

Semantics: apimachinery's `api/errors` and `util/validation/field` packages. The message texts are
upstream's, so `str(err)` is what `kubectl` would print after `Error from server (<Reason>): `.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .gofmt import go_json, go_quote
from .kinds import KindInfo

# field.ErrorType -> (the text after the path, the cause `reason` in Status details)
_FIELD_TYPES = {
    "Required": ("Required value", "FieldValueRequired"),
    "Invalid": ("Invalid value", "FieldValueInvalid"),
    "NotSupported": ("Unsupported value", "FieldValueNotSupported"),
    "Duplicate": ("Duplicate value", "FieldValueDuplicate"),
    "NotFound": ("Not found", "FieldValueNotFound"),
    "Forbidden": ("Forbidden", "FieldValueForbidden"),
    "TooLong": ("Too long", "FieldValueTooLong"),
    "TooMany": ("Too many", "FieldValueTooMany"),
    "TypeInvalid": ("Invalid value", "FieldValueTypeInvalid"),
}
_OMIT = object()


def _render_value(value: Any) -> str:
    """A bad value as field.Error prints it (since 1.34): strings as Go's %q, numbers bare
    (a whole float without `.0`), everything else as Go's JSON, map fields in the order given."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if value is None:
        return "null"
    return go_json(value)


@dataclass(frozen=True)
class FieldError:
    """One validation failure at a field path, e.g. `spec.replicas: Invalid value: -1: ...`."""

    type: str
    field: str
    detail: str = ""
    bad_value: Any = _OMIT

    def body(self) -> str:
        """The text after `<field>: `, as apimachinery's `field.Error.ErrorBody`."""
        label, _ = _FIELD_TYPES[self.type]
        parts = [label]
        if self.type == "NotSupported":
            parts = (
                [f"{label}: {_render_value(self.bad_value)}"]
                if self.bad_value is not _OMIT
                else parts
            )
        elif (
            self.type in ("Invalid", "Duplicate", "NotFound", "TypeInvalid")
            and self.bad_value is not _OMIT
        ):
            parts = [f"{label}: {_render_value(self.bad_value)}"]
        text = parts[0]
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    @property
    def reason(self) -> str:
        return _FIELD_TYPES[self.type][1]

    # Constructors named as apimachinery's field package names them.
    @classmethod
    def required(cls, field: str, detail: str = "") -> FieldError:
        return cls("Required", field, detail)

    @classmethod
    def invalid(cls, field: str, value: Any, detail: str = "") -> FieldError:
        return cls("Invalid", field, detail, value)

    @classmethod
    def not_supported(cls, field: str, value: Any, supported: list[str]) -> FieldError:
        detail = "supported values: " + ", ".join(json.dumps(s) for s in supported)
        return cls("NotSupported", field, detail, value)

    @classmethod
    def duplicate(cls, field: str, value: Any) -> FieldError:
        return cls("Duplicate", field, "", value)

    @classmethod
    def not_found(cls, field: str, value: Any) -> FieldError:
        return cls("NotFound", field, "", value)

    @classmethod
    def forbidden(cls, field: str, detail: str) -> FieldError:
        return cls("Forbidden", field, detail)

    @classmethod
    def too_long(cls, field: str, max_length: int) -> FieldError:
        return cls("TooLong", field, f"may not be more than {max_length} bytes")

    @classmethod
    def too_many(cls, field: str, actual: int, max_items: int) -> FieldError:
        noun = "item" if max_items == 1 else "items"
        return cls("TooMany", field, f"must have at most {max_items} {noun}", actual)


def aggregate(errors: list[FieldError]) -> str:
    """One error unbracketed, several as `[e1, e2]`, as utilerrors.NewAggregate prints them."""
    texts = list(dict.fromkeys(str(e) for e in errors))  # duplicates dropped, as upstream
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


class StatusError(Exception):
    """An API error carrying a metav1 `Status`; `str()` is the message kubectl shows."""

    def __init__(
        self,
        reason: str,
        code: int,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.code = code
        self.message = message
        self.details = details or {}

    @property
    def status(self) -> dict[str, Any]:
        """The `Status` object the API server returns in the response body."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body

    def kubectl(self) -> str:
        """What kubectl prints for this error: `Error from server (NotFound): pods "web" not
        found`; for Invalid, kubectl's own form built from the details' kind, name and causes:
        `The Deployment "web" is invalid: spec.replicas: ...`, one `* cause` line each if several.
        """
        if self.reason == "Invalid":
            kind, name = self.details.get("kind", ""), self.details.get("name", "")
            head = (
                f"The {kind} {json.dumps(name)} is invalid"
                if kind or name
                else "The request is invalid"
            )
            causes: list[str] = []
            for c in self.details.get("causes") or []:
                text = f"{c.get('field', '')}: {c.get('message', '')}"
                if text not in causes:
                    causes.append(text)
            if not causes:
                return head
            if len(causes) == 1:
                return f"{head}: {causes[0]}"
            return f"{head}: \n" + "\n".join(f"* {c}" for c in causes)
        if self.reason == "Unauthorized":
            return f"error: You must be logged in to the server ({self.message})"
        if self.reason:
            return f"Error from server ({self.reason}): {self.message}"
        return f"Error from server: {self.message}"

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"StatusError({self.reason}, {self.code}, {self.message!r})"

    # The constructors below follow apimachinery's errors.NewXxx.
    @classmethod
    def not_found(cls, info: KindInfo, name: str) -> StatusError:
        return cls(
            "NotFound",
            404,
            f'{info.qualified_resource} "{name}" not found',
            {"name": name, "group": info.group, "kind": info.resource},
        )

    @classmethod
    def already_exists(cls, info: KindInfo, name: str) -> StatusError:
        return cls(
            "AlreadyExists",
            409,
            f'{info.qualified_resource} "{name}" already exists',
            {"name": name, "group": info.group, "kind": info.resource},
        )

    @classmethod
    def conflict(cls, info: KindInfo, name: str, detail: str = "") -> StatusError:
        detail = detail or (
            "the object has been modified; please apply your changes to the latest version "
            "and try again"
        )
        return cls(
            "Conflict",
            409,
            f'Operation cannot be fulfilled on {info.qualified_resource} "{name}": {detail}',
            {"name": name, "group": info.group, "kind": info.resource},
        )

    @classmethod
    def invalid(cls, info: KindInfo, name: str, errors: list[FieldError]) -> StatusError:
        causes = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors]
        return cls(
            "Invalid",
            422,
            f'{info.qualified_kind} "{name}" is invalid: {aggregate(errors)}',
            {"name": name, "group": info.group, "kind": info.kind, "causes": causes},
        )

    @classmethod
    def forbidden(cls, info: KindInfo, name: str, reason: str) -> StatusError:
        target = f'{info.qualified_resource} "{name}"' if name else info.qualified_resource
        return cls(
            "Forbidden",
            403,
            f"{target} is forbidden: {reason}",
            {"name": name, "group": info.group, "kind": info.resource},
        )

    @classmethod
    def bad_request(cls, message: str) -> StatusError:
        return cls("BadRequest", 400, message)

    @classmethod
    def too_many_requests(cls, message: str, retry_after_seconds: int = 1) -> StatusError:
        return cls("TooManyRequests", 429, message, {"retryAfterSeconds": retry_after_seconds})

    @classmethod
    def gone(cls, message: str) -> StatusError:
        return cls("Expired", 410, message)

    @classmethod
    def internal(cls, message: str) -> StatusError:
        return cls("InternalError", 500, f"Internal error occurred: {message}")
