"""The `serviceaccounts/token` subresource: POST a TokenRequest, get a signed token back.

Semantics: pkg/registry/core/serviceaccount/storage/token.go with the defaulting and validation
of the authentication.k8s.io API (expirationSeconds defaults to 3600 s, must be at least 10
minutes and at most 2^32 s; validation runs before the ServiceAccount is read, so a bad request
for a missing account is a 422, not a 404). A token may be bound to a Pod or a Secret of the
same namespace; the audiences default to the API server's own. A generator of etcd requests,
as store.py's operations are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..api.errors import FieldError, StatusError, aggregate
from ..api.kinds import KINDS
from ..sim.duration import SECOND
from .authn import ServiceAccountTokens
from .etcd3 import Op
from .store import ObjectStore, rfc3339

GROUP = "authentication.k8s.io"
API_VERSION = f"{GROUP}/v1"
KIND = "TokenRequest"
DEFAULT_EXPIRATION_SECONDS = 3600  # SetDefaults_TokenRequestSpec
MIN_TOKEN_AGE_SECONDS = 10 * 60  # validation.MinTokenAgeSec
MAX_TOKEN_AGE_SECONDS = 1 << 32
_BINDABLE = ("Pod", "Secret")


def _decode_error(field: str, value: Any, go_type: str) -> StatusError:
    """The 400 a JSON body of the wrong shape gets from the decoder."""
    kind = {bool: "bool", str: "string", list: "array", dict: "object"}.get(type(value), "number")
    return StatusError.bad_request(
        f'{KIND} in version "v1" cannot be handled as a {KIND}: json: cannot unmarshal {kind} '
        f"into Go struct field {field} of type {go_type}"
    )


def _spec(body: Any) -> dict[str, Any]:
    """The request's spec, decoded and defaulted (a 400 for a body that cannot be decoded)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise StatusError.bad_request("the body of the request was in an unknown format")
    if body.get("apiVersion") not in (None, API_VERSION) or body.get("kind") not in (None, KIND):
        raise StatusError.bad_request(
            f"the kind in the data ({body.get('apiVersion')}, Kind={body.get('kind')}) does not "
            f"match the expected kind ({API_VERSION}, Kind={KIND})"
        )
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise _decode_error("TokenRequest.spec", spec, "v1.TokenRequestSpec")
    exp = spec.get("expirationSeconds")
    if exp is None:
        exp = DEFAULT_EXPIRATION_SECONDS
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise _decode_error("TokenRequestSpec.spec.expirationSeconds", exp, "int64")
    audiences = spec.get("audiences") or []
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise _decode_error("TokenRequestSpec.spec.audiences", audiences, "string")
    ref = spec.get("boundObjectRef")
    if ref is not None and not isinstance(ref, dict):
        raise _decode_error("TokenRequestSpec.spec.boundObjectRef", ref, "v1.BoundObjectReference")
    return {"audiences": list(audiences), "boundObjectRef": ref, "expirationSeconds": exp}


def validate_token_request(spec: Mapping[str, Any]) -> list[FieldError]:
    """ValidateTokenRequest: the lifetime must lie within [10 minutes, 2^32 seconds]."""
    errors = []
    exp = spec["expirationSeconds"]
    if exp < MIN_TOKEN_AGE_SECONDS:
        errors.append(
            FieldError.invalid(
                "spec.expirationSeconds", exp, "may not specify a duration less than 10 minutes"
            )
        )
    if exp > MAX_TOKEN_AGE_SECONDS:
        errors.append(
            FieldError.invalid(
                "spec.expirationSeconds", exp, "may not specify a duration larger than 2^32 seconds"
            )
        )
    return errors


def _invalid(errors: list[FieldError]) -> StatusError:
    causes = [{"reason": e.reason, "message": e.body(), "field": e.field} for e in errors]
    return StatusError(
        "Invalid",
        422,
        f'{KIND}.{GROUP} "" is invalid: {aggregate(errors)}',
        {"group": GROUP, "kind": KIND, "causes": causes},
    )


def _bound_object(store: ObjectStore, name: str, namespace: str, ref: Mapping[str, Any]) -> Op:
    """The Pod (or Secret) the token is bound to; a 400, 404 or 409 as upstream answers."""
    api_version, kind = ref.get("apiVersion") or "", ref.get("kind") or ""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    if group or kind not in _BINDABLE:
        version = api_version.rpartition("/")[2]
        raise StatusError.bad_request(
            f"cannot bind token to object of type {group}/{version}, Kind={kind}"
        )
    obj = yield from store.get_op(KINDS[kind], ref.get("name") or "", namespace)
    if kind == "Pod" and (obj.get("spec") or {}).get("serviceAccountName") != name:
        raise StatusError.bad_request(
            f'cannot bind token for serviceaccount "{name}" to pod running with different '
            "serviceaccount name."
        )
    uid = ref.get("uid") or ""
    if uid and uid != obj.uid:
        raise StatusError(
            "Conflict",
            409,
            f'Operation cannot be fulfilled on {kind} "{ref.get("name")}": the UID in the bound '
            f"object reference ({uid}) does not match the UID in record. The object might have "
            "been deleted and then recreated",
            {"name": ref.get("name"), "kind": kind},
        )
    return obj


def create_token_op(
    store: ObjectStore,
    tokens: ServiceAccountTokens,
    name: str,
    namespace: str,
    body: Any,
    max_expiration_seconds: int = 0,
) -> Op:
    """POST serviceaccounts/<name>/token: the TokenRequest, with status.token and
    status.expirationTimestamp filled in."""
    spec = _spec(body)
    errors = validate_token_request(spec)
    if errors:
        raise _invalid(errors)
    sa = yield from store.get_op(KINDS["ServiceAccount"], name, namespace)
    pod = None
    ref = spec["boundObjectRef"]
    if ref is not None:
        bound = yield from _bound_object(store, name, namespace, ref)
        pod = bound if bound.kind == "Pod" else None
    audiences: Sequence[str] = spec["audiences"] or list(tokens.audiences)
    spec["audiences"] = list(audiences)
    exp = spec["expirationSeconds"]
    if max_expiration_seconds > 0 and exp > max_expiration_seconds:
        spec["expirationSeconds"] = exp = max_expiration_seconds
    now_ns = store.unix_ns
    token = tokens.issue(
        namespace, name, sa.uid, now_ns, exp, audiences, pod=pod,
        jti=store.seeds.uid("serviceaccount-token-jti"),
    )  # fmt: skip
    expires = (now_ns // SECOND + exp) * SECOND
    meta = dict((body or {}).get("metadata") or {}) if isinstance(body, dict) else {}
    meta.setdefault("name", name)
    meta.setdefault("namespace", namespace)
    meta.setdefault("creationTimestamp", None)
    return {
        "kind": KIND,
        "apiVersion": API_VERSION,
        "metadata": meta,
        "spec": spec,
        "status": {"token": token, "expirationTimestamp": rfc3339(expires)},
    }


__all__ = [
    "DEFAULT_EXPIRATION_SECONDS",
    "MIN_TOKEN_AGE_SECONDS",
    "create_token_op",
    "validate_token_request",
]
