"""ServiceAccount tokens end to end: the TokenRequest subresource, bearer authentication in a
Cluster, RBAC for the service account's user, expiry, forgery and `kubectl create token`.

Expected texts are kube-apiserver's and kubectl's: the registry's TokenRequest validation
(`may not specify a duration less than 10 minutes`), the authentication filter's 401
`Unauthorized`, the authorization filter's 403 naming `system:serviceaccount:<ns>:<name>`.
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach import Cluster
from kube_teach.api.errors import StatusError
from kube_teach.api.kinds import KINDS
from kube_teach.apiserver.authn import ServiceAccountTokens
from kube_teach.apiserver.tokenrequest import validate_token_request
from kube_teach.cluster import SERVICE_ACCOUNT_ISSUER, ClientError

RBAC = "rbac.authorization.k8s.io"
PODS = "/api/v1/namespaces/default/pods"
TOKEN = "/api/v1/namespaces/default/serviceaccounts/{}/token"
SA_USER = "system:serviceaccount:default:default"
DENY_LIST_PODS = (
    f'pods is forbidden: User "{SA_USER}" cannot list resource "pods" in API group "" in the '
    'namespace "default"'
)
TOO_SHORT = (
    'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: '
    "{}: may not specify a duration less than 10 minutes"
)
TOO_LONG = (
    'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: Invalid value: '
    "{}: may not specify a duration larger than 2^32 seconds"
)


def _cluster(seed: int = 0) -> Cluster:
    return Cluster(nodes=0, controllers=[], scheduler=False, seed=seed)


@pytest.fixture(scope="module")
def _shared():
    return _cluster()


_SCRATCH = ("Role", "RoleBinding", "ServiceAccount", "Pod", "ConfigMap", "Secret")


def _keys(cluster):
    return {(k, o.namespace, o.name) for k in _SCRATCH for o in cluster.store.list(KINDS[k])}


@pytest.fixture
def shared(_shared):
    """One cluster for the quick cases; what a case creates is deleted after it."""
    before = _keys(_shared)
    yield _shared
    for kind, ns, name in sorted(_keys(_shared) - before):
        _shared.store.delete(KINDS[kind], name, ns or None)


@pytest.fixture
def cluster():
    return _cluster()


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def outcome(view, method="GET", path=PODS, body=None):
    """ "allowed", or (code, reason, message) of the error."""
    try:
        view.request(method, path, body)
    except StatusError as err:
        return err.code, err.reason, err.message
    return "allowed"


def role_and_binding(subject: dict) -> list[dict]:
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    return [
        {"apiVersion": f"{RBAC}/v1", "kind": "Role",
         "metadata": {"name": "pod-reader", "namespace": "default"}, "rules": rules},
        {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding",
         "metadata": {"name": "read-pods", "namespace": "default"},
         "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "pod-reader"},
         "subjects": [subject]},
    ]  # fmt: skip


SA_SUBJECT = {"kind": "ServiceAccount", "name": "default", "namespace": "default"}
FORBIDDEN = (403, "Forbidden", DENY_LIST_PODS)
UNAUTHORIZED = (401, "Unauthorized", "Unauthorized")


# -- the walk of the brief: a token, a 403, a RoleBinding, then allowed ---------------------------
def test_a_token_is_the_service_account_until_rbac_grants_it_pods(shared):
    view = shared.as_token(shared.create_token("default"))
    assert outcome(view) == FORBIDDEN
    shared.apply(role_and_binding(SA_SUBJECT))
    assert outcome(view) == "allowed"
    assert outcome(view, path="/api/v1/namespaces/kube-system/pods")[0] == 403


# The user the authenticator builds: name system:serviceaccount:<ns>:<name>, groups
# system:serviceaccounts, system:serviceaccounts:<ns> and system:authenticated. A binding to
# any of them lets the token in; one to another namespace's group does not.
@pytest.mark.parametrize(
    ("subject", "allowed"),
    [
        (SA_SUBJECT, True),
        ({"kind": "User", "apiGroup": RBAC, "name": SA_USER}, True),
        ({"kind": "Group", "apiGroup": RBAC, "name": "system:serviceaccounts"}, True),
        ({"kind": "Group", "apiGroup": RBAC, "name": "system:serviceaccounts:default"}, True),
        ({"kind": "Group", "apiGroup": RBAC, "name": "system:authenticated"}, True),
        ({"kind": "Group", "apiGroup": RBAC, "name": "system:serviceaccounts:kube-system"}, False),
        ({"kind": "Group", "apiGroup": RBAC, "name": "system:unauthenticated"}, False),
        ({"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"}, False),
        ({"kind": "User", "apiGroup": RBAC, "name": "default"}, False),
    ],
)
def test_the_user_and_groups_a_token_carries(shared, subject, allowed):
    for obj in role_and_binding(subject):
        shared.store.create(obj)
    view = shared.as_token(shared.create_token("default"))
    assert outcome(view) == ("allowed" if allowed else FORBIDDEN)


def test_the_token_request_answer_and_its_claims(shared):
    sa = shared.store.get(KINDS["ServiceAccount"], "default", "default")
    before = shared._unix_ns() // 10**9
    reply = shared.token_request("default")
    assert (reply["apiVersion"], reply["kind"]) == ("authentication.k8s.io/v1", "TokenRequest")
    assert reply["spec"]["expirationSeconds"] == 3600  # the default
    assert reply["spec"]["audiences"] == [SERVICE_ACCOUNT_ISSUER]  # the API server's own
    c = claims(reply["status"]["token"])
    assert c["iss"] == SERVICE_ACCOUNT_ISSUER
    assert c["sub"] == SA_USER
    assert c["aud"] == [SERVICE_ACCOUNT_ISSUER]
    assert c["exp"] - c["iat"] == 3600 and c["nbf"] == c["iat"] and c["iat"] >= before
    assert c["kubernetes.io"]["namespace"] == "default"
    assert c["kubernetes.io"]["serviceaccount"] == {"name": "default", "uid": sa.uid}
    assert len(c["jti"]) == 36
    from kube_teach.api.printers import parse_time

    assert parse_time(reply["status"]["expirationTimestamp"]) == c["exp"] * 10**9


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [(None, 3600), (0, 3600), ("10m", 600), (601, 601), ("48h", 172800), (2**32, 2**32)],
)
def test_requested_lifetimes(shared, duration, seconds):
    c = claims(shared.create_token("default", duration=duration))
    assert c["exp"] - c["iat"] == seconds


# -- validation and errors of the TokenRequest endpoint, in upstream's words ----------------------
@pytest.mark.parametrize(
    ("sa", "spec", "want"),
    [
        ("default", {"expirationSeconds": 300}, (422, "Invalid", TOO_SHORT.format(300))),
        ("default", {"expirationSeconds": 599}, (422, "Invalid", TOO_SHORT.format(599))),
        ("default", {"expirationSeconds": 0}, (422, "Invalid", TOO_SHORT.format(0))),
        ("default", {"expirationSeconds": -1}, (422, "Invalid", TOO_SHORT.format(-1))),
        ("default", {"expirationSeconds": 2**32 + 1},
         (422, "Invalid", TOO_LONG.format(2**32 + 1))),
        # validation comes before the ServiceAccount is read
        ("nope", {"expirationSeconds": 300}, (422, "Invalid", TOO_SHORT.format(300))),
        ("nope", {}, (404, "NotFound", 'serviceaccounts "nope" not found')),
        ("default", {"expirationSeconds": "600"},
         (400, "BadRequest", 'TokenRequest in version "v1" cannot be handled as a TokenRequest: '
          "json: cannot unmarshal string into Go struct field "
          "TokenRequestSpec.spec.expirationSeconds of type int64")),
        ("default", {"boundObjectRef": {"apiVersion": "v1", "kind": "ConfigMap", "name": "c"}},
         (400, "BadRequest", "cannot bind token to object of type /v1, Kind=ConfigMap")),
        ("default", {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "gone"}},
         (404, "NotFound", 'pods "gone" not found')),
        ("default", {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "other"}},
         (400, "BadRequest", 'cannot bind token for serviceaccount "default" to pod running '
          "with different serviceaccount name.")),
        ("default", {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "mine",
                                        "uid": "0d4691ed-659b-4935-a832-355f77ee47cc"}},
         (409, "Conflict", 'Operation cannot be fulfilled on Pod "mine": the UID in the bound '
          "object reference (0d4691ed-659b-4935-a832-355f77ee47cc) does not match the UID in "
          "record. The object might have been deleted and then recreated")),
        ("default", {"boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "mine"}},
         "allowed"),
        ("default", {"boundObjectRef": {"apiVersion": "v1", "kind": "Secret", "name": "s"}},
         "allowed"),
        ("default", {"expirationSeconds": 600}, "allowed"),
        ("default", {"expirationSeconds": 2**32}, "allowed"),
    ],
)  # fmt: skip
def test_token_request_validation(shared, sa, spec, want):
    shared.store.create_all(
        [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": n, "namespace": "default"},
             "spec": {"serviceAccountName": acct, "containers": [{"name": "c", "image": "i"}]}}
            for n, acct in (("mine", "default"), ("other", "builder"))
        ]
        + [{"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "default"}}]
    )  # fmt: skip
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    assert outcome(shared, "POST", TOKEN.format(sa), body) == want


def test_a_pod_bound_token_names_its_pod_and_node(shared):
    shared.store.create(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "mine", "namespace": "default"},
         "spec": {"serviceAccountName": "default", "nodeName": "node-1",
                  "containers": [{"name": "c", "image": "i"}]}}
    )  # fmt: skip
    pod = shared.store.get(KINDS["Pod"], "mine", "default")
    ref = {"apiVersion": "v1", "kind": "Pod", "name": "mine"}
    body = {"spec": {"boundObjectRef": ref}}
    reply = shared.request("POST", TOKEN.format("default"), body)
    c = claims(reply["status"]["token"])["kubernetes.io"]
    assert c["pod"] == {"name": "mine", "uid": pod.uid}
    assert c["node"] == {"name": "node-1"}


@given(st.integers(min_value=-(2**40), max_value=2**40))
def test_validation_accepts_exactly_ten_minutes_to_two_to_the_32_seconds(seconds):
    errors = validate_token_request({"expirationSeconds": seconds})
    assert (not errors) == (600 <= seconds <= 2**32)
    assert all(e.field == "spec.expirationSeconds" for e in errors)


def test_creating_a_token_needs_create_on_serviceaccounts_token(shared):
    body = {"spec": {}}
    assert outcome(shared.as_user("jane"), "POST", TOKEN.format("default"), body) == (
        403,
        "Forbidden",
        'serviceaccounts "default" is forbidden: User "jane" cannot create resource '
        '"serviceaccounts/token" in API group "" in the namespace "default"',
    )


# -- bad tokens: 401 Unauthorized ------------------------------------------------------------------
def _forge(token: str, **changes) -> str:
    header, payload, sig = token.split(".")
    c = claims(token)
    c.update(changes)
    raw = base64.urlsafe_b64encode(json.dumps(c).encode()).rstrip(b"=").decode()
    return f"{header}.{raw}.{sig}"


def test_forged_and_foreign_tokens_are_401(shared):
    good = shared.create_token("default")
    other_key = ServiceAccountTokens(key=b"not-the-cluster-key", issuer=SERVICE_ACCOUNT_ISSUER)
    sa = shared.store.get(KINDS["ServiceAccount"], "default", "kube-system")
    forged = [
        _forge(good, sub="system:serviceaccount:kube-system:default"),  # payload changed
        good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),  # signature changed
        other_key.issue("kube-system", "default", sa.uid, shared._unix_ns()),  # wrong key
        _cluster(seed=1).create_token("default"),  # another cluster's
        "not-a-jwt",
        "a.b.c",
    ]
    for token in forged:
        assert outcome(shared.as_token(token)) == UNAUTHORIZED, token
    assert outcome(shared.as_token(good)) == FORBIDDEN


def test_a_token_for_another_audience_is_401(shared):
    token = shared.create_token("default", audiences=["vault"])
    assert claims(token)["aud"] == ["vault"]
    assert outcome(shared.as_token(token)) == UNAUTHORIZED
    both = shared.create_token("default", audiences=["vault", SERVICE_ACCOUNT_ISSUER])
    assert outcome(shared.as_token(both)) == FORBIDDEN


def test_a_token_of_a_deleted_or_recreated_service_account_is_401(shared):
    sa = {"apiVersion": "v1", "kind": "ServiceAccount",
          "metadata": {"name": "builder", "namespace": "default"}}  # fmt: skip
    shared.apply(sa)
    token = shared.create_token("builder")
    who = 'User "system:serviceaccount:default:builder"'
    code, _, message = outcome(shared.as_token(token))
    assert code == 403 and who in message
    shared.delete("serviceaccount", "builder")
    assert outcome(shared.as_token(token)) == UNAUTHORIZED
    shared.apply(sa)  # the same name, a new uid: the old token stays refused
    assert outcome(shared.as_token(token)) == UNAUTHORIZED


def test_a_token_expires_after_its_lifetime_and_the_jwt_leeway(cluster):
    token = cluster.create_token("default", duration="10m")
    view = cluster.as_token(token)
    exp = claims(token)["exp"]
    cluster.run(exp - cluster._unix_ns() / 1e9 + 59)  # inside go-jose's 60 s of leeway
    assert outcome(view) == FORBIDDEN
    cluster.run(2)
    assert outcome(view) == UNAUTHORIZED
    assert outcome(cluster.as_token(cluster.create_token("default"))) == FORBIDDEN  # a new one


def test_the_same_seed_signs_the_same_token():
    assert _cluster(seed=7).create_token("default") == _cluster(seed=7).create_token("default")


# -- the client side: create_token's checks and kubectl create token ------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration": "1.5s"}, "--duration cannot be expressed in units less than seconds"),
        ({"duration": -60}, "--duration must be greater than or equal to 0"),
        ({"duration": "ten"}, 'invalid argument "ten" for "--duration" flag: '
                              'time: invalid duration "ten"'),
        ({"audiences": [""]}, "--audience must not be an empty string"),
    ],
)  # fmt: skip
def test_create_token_client_errors(shared, kwargs, message):
    with pytest.raises(ClientError) as err:
        shared.create_token("default", **kwargs)
    assert str(err.value) == message


def test_as_token_needs_a_token(shared):
    with pytest.raises(ClientError, match="non-empty string"):
        shared.as_token("")


def test_kubectl_create_token(shared):
    token = shared.kubectl("create token default --duration 20m")
    c = claims(token)
    assert c["sub"] == SA_USER and c["exp"] - c["iat"] == 1200
    system = claims(shared.kubectl("create token default -n kube-system"))
    assert system["sub"] == "system:serviceaccount:kube-system:default"
    assert shared.kubectl("create token nope") == (
        'error: failed to create token: serviceaccounts "nope" not found'
    )
    assert shared.kubectl("create token default --duration 5m") == (
        "error: failed to create token: " + TOO_SHORT.format(300)
    )
    assert shared.kubectl("create token") == (
        "error: exactly one NAME is required, got 0\n"
        "See 'kubectl create token -h' for help and examples"
    )
    out = shared.kubectl("create token default -o yaml --audience vault")
    assert "kind: TokenRequest" in out and "- vault" in out and "token: ey" in out
