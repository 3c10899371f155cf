"""Authentication: who sent this request? Client certificates, bearer tokens, anonymous.

Semantics: apiserver's x509 (CN is the user, O the groups), tokenfile and bearertoken
authenticators, kube-apiserver's service-account JWTs, the union of authenticators, the
`system:authenticated` group adder and the anonymous fallback, and the 401 `Unauthorized` Status.
Time is passed in (`now_ns`, Unix nanoseconds); nothing here reads a clock.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..api.errors import StatusError
from ..sim.duration import SECOND
from .request import (
    ALL_AUTHENTICATED,
    ALL_SERVICE_ACCOUNTS_GROUP,
    ALL_UNAUTHENTICATED,
    ANONYMOUS,
    UserInfo,
    service_account_username,
)


@dataclass(frozen=True)
class ClientCertificate:
    """The parts of a verified TLS client certificate that authentication reads."""

    common_name: str
    organizations: tuple[str, ...] = ()
    issuer: str = "kubernetes"
    not_before_ns: int = 0
    not_after_ns: int = 2**62


@dataclass(frozen=True)
class AuthRequest:
    """An incoming request as authenticators see it: headers and the TLS client certificate."""

    headers: Mapping[str, str] = field(default_factory=dict)
    client_cert: ClientCertificate | None = None

    def header(self, name: str) -> str:
        """A header's value, matched without regard to case; "" when absent."""
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return ""


@dataclass(frozen=True)
class AuthResult:
    """authenticator.Response: `user` when `ok`; `error` when the credentials were bad."""

    user: UserInfo | None = None
    ok: bool = False
    error: str | None = None


class Authenticator(Protocol):
    def authenticate(self, req: AuthRequest, now_ns: int) -> AuthResult: ...


class TokenAuthenticator(Protocol):
    def authenticate_token(self, token: str, now_ns: int) -> AuthResult: ...


class X509Authenticator:
    """Client certificates signed by a trusted CA: CN -> user name, O -> groups."""

    def __init__(self, trusted_issuers: Sequence[str] = ("kubernetes",)) -> None:
        self.trusted_issuers = tuple(trusted_issuers)

    def authenticate(self, req: AuthRequest, now_ns: int) -> AuthResult:
        cert = req.client_cert
        if cert is None:
            return AuthResult()
        if cert.issuer not in self.trusted_issuers:
            return AuthResult(error="x509: certificate signed by unknown authority")
        if not cert.not_before_ns <= now_ns <= cert.not_after_ns:
            return AuthResult(error="x509: certificate has expired or is not yet valid")
        if not cert.common_name:  # CommonNameUserConversion: no CN, no opinion
            return AuthResult()
        return AuthResult(UserInfo(cert.common_name, groups=cert.organizations), True)


class TokenFileAuthenticator:
    """`--token-auth-file`: a static map of bearer tokens to users."""

    def __init__(self, tokens: Mapping[str, UserInfo]) -> None:
        self.tokens = dict(tokens)

    @classmethod
    def from_csv(cls, text: str) -> TokenFileAuthenticator:
        """Parse the CSV file format: `token,user,uid,"group1,group2"` (groups optional)."""
        tokens: dict[str, UserInfo] = {}
        for i, row in enumerate(csv.reader(io.StringIO(text))):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) < 3:
                raise ValueError(f"token file is invalid: line {i + 1}: at least 3 fields")
            token, name, uid = row[0], row[1], row[2]
            groups = (
                tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            )
            tokens[token] = UserInfo(name, uid, groups)
        return cls(tokens)

    def authenticate_token(self, token: str, now_ns: int) -> AuthResult:
        user = self.tokens.get(token)
        return AuthResult(user, True) if user is not None else AuthResult()


# Extra keys a bound service-account token adds to the user.
POD_NAME_KEY = "authentication.kubernetes.io/pod-name"
POD_UID_KEY = "authentication.kubernetes.io/pod-uid"
NODE_NAME_KEY = "authentication.kubernetes.io/node-name"
CREDENTIAL_ID_KEY = "authentication.kubernetes.io/credential-id"
_JWT_LEEWAY_NS = 60 * SECOND  # go-jose's DefaultLeeway


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ServiceAccountTokens:
    """Issues and verifies bound service-account tokens (JWTs, HMAC-signed in the simulation).

    `lookup(namespace, name)` returns the ServiceAccount dict or None; a token whose account
    is gone, or whose uid differs, is rejected as kube-apiserver rejects it.
    """

    def __init__(
        self,
        key: bytes = b"kube-teach-service-account-key",
        issuer: str = "https://kubernetes.default.svc.cluster.local",
        audiences: Sequence[str] | None = None,
        lookup: Callable[[str, str], Mapping[str, Any] | None] | None = None,
    ) -> None:
        self.key = key
        self.issuer = issuer
        self.audiences = tuple(audiences or (issuer,))
        self.lookup = lookup

    def issue(
        self,
        namespace: str,
        name: str,
        uid: str,
        now_ns: int,
        expiration_seconds: int = 3600,
        audiences: Sequence[str] | None = None,
        pod: Mapping[str, Any] | None = None,
        jti: str = "",
    ) -> str:
        """A signed token as the TokenRequest API returns it."""
        iat = now_ns // SECOND
        claims: dict[str, Any] = {
            "aud": list(audiences or self.audiences),
            "exp": iat + expiration_seconds,
            "iat": iat,
            "iss": self.issuer,
        }
        if jti:
            claims["jti"] = jti
        k8s: dict[str, Any] = {"namespace": namespace}
        if pod is not None:
            meta = pod.get("metadata", {})
            k8s["pod"] = {"name": meta.get("name", ""), "uid": meta.get("uid", "")}
            node = (pod.get("spec") or {}).get("nodeName")
            if node:
                k8s["node"] = {"name": node}
        k8s["serviceaccount"] = {"name": name, "uid": uid}
        claims["kubernetes.io"] = k8s
        claims["nbf"] = iat
        claims["sub"] = service_account_username(namespace, name)
        header = _b64(json.dumps({"alg": "HS256", "kid": "sim"}, separators=(",", ":")).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = hmac.new(self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(sig)}"

    def authenticate_token(self, token: str, now_ns: int) -> AuthResult:
        parts = token.split(".")
        if len(parts) != 3:
            return AuthResult()  # not a JWT: another authenticator may know it
        try:
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeDecodeError):
            return AuthResult()
        if not isinstance(claims, dict) or claims.get("iss") != self.issuer:
            return AuthResult()  # someone else's token
        expected = hmac.new(self.key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(parts[2])):
            return AuthResult(error="square/go-jose: error in cryptographic primitive")
        aud = claims.get("aud") or []
        if not any(a in self.audiences for a in aud):
            return AuthResult(
                error="token audiences "
                + json.dumps(aud)
                + " is invalid for the target audiences "
                + json.dumps(list(self.audiences))
            )
        if now_ns > claims.get("exp", 0) * SECOND + _JWT_LEEWAY_NS:
            return AuthResult(error="service account token has expired")
        k8s = claims.get("kubernetes.io") or {}
        ns = k8s.get("namespace", "")
        sa = k8s.get("serviceaccount") or {}
        if self.lookup is not None:
            found = self.lookup(ns, sa.get("name", ""))
            if found is None:
                return AuthResult(
                    error=f"service account {ns}/{sa.get('name', '')} has been deleted"
                )
            found_uid = (found.get("metadata") or {}).get("uid", "")
            if found_uid and sa.get("uid") and found_uid != sa["uid"]:
                return AuthResult(
                    error=f"service account UID ({found_uid}) does not match claim ({sa['uid']})"
                )
        extra: dict[str, tuple[str, ...]] = {}
        if k8s.get("pod"):
            extra[POD_NAME_KEY] = (k8s["pod"]["name"],)
            extra[POD_UID_KEY] = (k8s["pod"]["uid"],)
        if k8s.get("node"):
            extra[NODE_NAME_KEY] = (k8s["node"]["name"],)
        if claims.get("jti"):
            extra[CREDENTIAL_ID_KEY] = (f"JTI={claims['jti']}",)
        user = UserInfo(
            service_account_username(ns, sa.get("name", "")),
            sa.get("uid", ""),
            (ALL_SERVICE_ACCOUNTS_GROUP, f"{ALL_SERVICE_ACCOUNTS_GROUP}:{ns}"),
            extra,
        )
        return AuthResult(user, True)


class UnionTokenAuthenticator:
    """Tries token authenticators in order: first success wins, errors are collected."""

    def __init__(self, *authenticators: TokenAuthenticator) -> None:
        self.authenticators = authenticators

    def authenticate_token(self, token: str, now_ns: int) -> AuthResult:
        errors = []
        for a in self.authenticators:
            result = a.authenticate_token(token, now_ns)
            if result.ok:
                return result
            if result.error:
                errors.append(result.error)
        return AuthResult(error=_aggregate(errors)) if errors else AuthResult()


class BearerTokenAuthenticator:
    """Reads `Authorization: Bearer <token>`; an unknown token is an error, not "no opinion"."""

    def __init__(self, tokens: TokenAuthenticator) -> None:
        self.tokens = tokens

    def authenticate(self, req: AuthRequest, now_ns: int) -> AuthResult:
        auth = req.header("Authorization").strip()
        if not auth:
            return AuthResult()
        parts = auth.split(" ", 2)
        if len(parts) < 2 or parts[0].lower() != "bearer":
            return AuthResult()
        token = parts[1]
        if not token:  # empty bearer tokens aren't valid
            return AuthResult()
        result = self.tokens.authenticate_token(token, now_ns)
        if not result.ok and not result.error:
            return AuthResult(error="invalid bearer token")
        return result


class AnonymousAuthenticator:
    """`--anonymous-auth=true`: everyone else is `system:anonymous`."""

    def authenticate(self, req: AuthRequest, now_ns: int) -> AuthResult:
        return AuthResult(UserInfo(ANONYMOUS, groups=(ALL_UNAUTHENTICATED,)), True)


class UnionAuthenticator:
    """Tries authenticators in order. With `fail_on_error`, the first error stops the walk
    (so a bad token is 401 even when anonymous access is on)."""

    def __init__(self, *authenticators: Authenticator, fail_on_error: bool = False) -> None:
        self.authenticators = authenticators
        self.fail_on_error = fail_on_error

    def authenticate(self, req: AuthRequest, now_ns: int) -> AuthResult:
        errors = []
        for a in self.authenticators:
            result = a.authenticate(req, now_ns)
            if result.error:
                if self.fail_on_error:
                    return result
                errors.append(result.error)
                continue
            if result.ok:
                return result
        return AuthResult(error=_aggregate(errors)) if errors else AuthResult()


class AuthenticatedGroupAdder:
    """Adds `system:authenticated` to every authenticated user that lacks it (not anonymous)."""

    def __init__(self, inner: Authenticator) -> None:
        self.inner = inner

    def authenticate(self, req: AuthRequest, now_ns: int) -> AuthResult:
        result = self.inner.authenticate(req, now_ns)
        if not result.ok or result.user is None or result.user.name == ANONYMOUS:
            return result
        groups = result.user.groups
        if ALL_AUTHENTICATED in groups or ALL_UNAUTHENTICATED in groups:
            return result
        u = result.user
        return AuthResult(UserInfo(u.name, u.uid, (*groups, ALL_AUTHENTICATED), u.extra), True)


def new_authenticator(
    *,
    client_ca: bool = True,
    token_file: TokenFileAuthenticator | None = None,
    service_accounts: ServiceAccountTokens | None = None,
    anonymous: bool = True,
) -> Authenticator:
    """The chain kube-apiserver builds from its flags: x509, then bearer tokens (token file,
    service accounts), the authenticated-group adder, then anonymous as a fail-on-error
    fallback when `--anonymous-auth` is on."""
    parts: list[Authenticator] = []
    if client_ca:
        parts.append(X509Authenticator())
    token_auths = [t for t in (token_file, service_accounts) if t is not None]
    if token_auths:
        parts.append(BearerTokenAuthenticator(UnionTokenAuthenticator(*token_auths)))
    chain: Authenticator = AuthenticatedGroupAdder(UnionAuthenticator(*parts))
    if anonymous:
        chain = UnionAuthenticator(chain, AnonymousAuthenticator(), fail_on_error=True)
    return chain


def unauthorized() -> StatusError:
    """The 401 the authentication filter writes: message and reason `Unauthorized`."""
    return StatusError("Unauthorized", 401, "Unauthorized")


def authenticate(authenticator: Authenticator, req: AuthRequest, now_ns: int) -> UserInfo:
    """The authentication stage: the user, or StatusError 401 `Unauthorized`."""
    result = authenticator.authenticate(req, now_ns)
    if not result.ok or result.user is None:
        raise unauthorized()
    return result.user


def _aggregate(errors: list[str]) -> str:
    texts = list(dict.fromkeys(errors))
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
