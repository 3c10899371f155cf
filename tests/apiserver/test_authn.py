"""Authentication: certificates, tokens, service accounts, anonymous, and the 401."""

import pytest

from kube_teach.api.errors import StatusError
from kube_teach.apiserver.authn import (
    AuthRequest,
    ClientCertificate,
    ServiceAccountTokens,
    TokenFileAuthenticator,
    authenticate,
    new_authenticator,
)
from kube_teach.apiserver.request import UserInfo
from kube_teach.sim.duration import SECOND

T0 = 1_700_000_000 * SECOND
TOKENS = TokenFileAuthenticator.from_csv(
    's3cret,alice,1001,"dev,ops"\nroot-token,admin,1,system:masters\n'
)
SA = ServiceAccountTokens(
    lookup=lambda ns, name: {"metadata": {"uid": "u-1"}} if (ns, name) == ("dev", "app") else None
)


def bearer(token):
    return AuthRequest(headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize(
    ("anonymous", "req", "name", "groups"),
    [
        pytest.param(True, AuthRequest(client_cert=ClientCertificate("bob", ("system:masters",))), "bob",
                     ("system:masters", "system:authenticated"), id="a client certificate: CN is the user, O the groups"),
        pytest.param(True, bearer("s3cret"), "alice", ("dev", "ops", "system:authenticated"), id="a static token"),
        pytest.param(True, AuthRequest(), "system:anonymous", ("system:unauthenticated",), id="no credentials: anonymous"),
        pytest.param(True, AuthRequest(headers={"Authorization": "Basic abc"}), "system:anonymous", ("system:unauthenticated",),
                     id="a non-bearer Authorization header is ignored"),
    ],
)  # fmt: skip
def test_who_is_asking(anonymous, req, name, groups):
    user = authenticate(
        new_authenticator(token_file=TOKENS, service_accounts=SA, anonymous=anonymous), req, T0
    )
    assert (user.name, user.groups) == (name, groups)


@pytest.mark.parametrize(
    ("anonymous", "req"),
    [
        pytest.param(False, AuthRequest(), id="no credentials with anonymous auth off"),
        pytest.param(True, bearer("wrong"), id="a bad token is 401 even when anonymous auth is on"),
        pytest.param(
            True,
            AuthRequest(client_cert=ClientCertificate("eve", issuer="evil-ca")),
            id="a certificate from an unknown CA",
        ),
        pytest.param(
            True,
            AuthRequest(client_cert=ClientCertificate("old", not_after_ns=T0 - 1)),
            id="an expired certificate",
        ),
    ],
)
def test_unauthorized(anonymous, req):
    with pytest.raises(StatusError) as err:
        authenticate(
            new_authenticator(token_file=TOKENS, service_accounts=SA, anonymous=anonymous), req, T0
        )
    assert err.value.code == 401
    assert err.value.status["message"] == "Unauthorized"
    assert err.value.status["reason"] == "Unauthorized"


def test_service_account_token_carries_its_namespace_groups():
    token = SA.issue(
        "dev",
        "app",
        "u-1",
        T0,
        jti="j1",
        pod={"metadata": {"name": "p", "uid": "pu"}, "spec": {"nodeName": "n1"}},
    )
    user = authenticate(new_authenticator(service_accounts=SA), bearer(token), T0 + 10 * SECOND)
    assert user.name == "system:serviceaccount:dev:app"
    assert user.groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:dev",
        "system:authenticated",
    )
    assert user.extra["authentication.kubernetes.io/pod-name"] == ("p",)
    assert user.extra["authentication.kubernetes.io/credential-id"] == ("JTI=j1",)


@pytest.mark.parametrize(
    ("issue", "at", "error"),
    [
        pytest.param(("dev", "app", "u-1"), T0 + 3661 * SECOND, "service account token has expired", id="expired after exp and leeway"),
        pytest.param(("dev", "gone", "u-2"), T0, "service account dev/gone has been deleted", id="deleted account"),
        pytest.param(("dev", "app", "u-old"), T0, "service account UID (u-1) does not match claim (u-old)", id="recreated account"),
    ],
)  # fmt: skip
def test_service_account_token_rejections(issue, at, error):
    token = SA.issue(*issue, T0)
    result = SA.authenticate_token(token, at)
    assert not result.ok and result.error == error


def test_a_token_inside_the_leeway_still_works():
    token = SA.issue("dev", "app", "u-1", T0, expiration_seconds=600)
    assert SA.authenticate_token(token, T0 + 630 * SECOND).ok


def test_token_file_users_keep_uid():
    assert TOKENS.tokens["s3cret"] == UserInfo("alice", "1001", ("dev", "ops"))
