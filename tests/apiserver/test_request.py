"""RequestInfoFactory cases, after apiserver's requestinfo_test.go."""

import pytest

from kube_teach.apiserver.request import (
    RequestInfoError,
    UserInfo,
    is_long_running,
    request_info,
)


@pytest.mark.parametrize(
    ("method", "url", "verb", "group", "version", "ns", "resource", "sub", "name", "parts"),
    [
        ("GET", "/api/v1/namespaces", "list", "", "v1", "", "namespaces", "", "", ["namespaces"]),
        ("GET", "/api/v1/namespaces/other", "get", "", "v1", "other", "namespaces", "", "other", ["namespaces", "other"]),
        ("GET", "/api/v1/namespaces/other/pods", "list", "", "v1", "other", "pods", "", "", ["pods"]),
        ("GET", "/api/v1/namespaces/other/pods/foo", "get", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]),
        ("HEAD", "/api/v1/namespaces/other/pods/foo", "get", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]),
        ("GET", "/api/v1/pods", "list", "", "v1", "", "pods", "", "", ["pods"]),
        ("HEAD", "/api/v1/pods", "list", "", "v1", "", "pods", "", "", ["pods"]),
        ("GET", "/api/v1/proxy/namespaces/other/pods/foo", "proxy", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]),
        ("GET", "/api/v1/proxy/namespaces/other/pods/foo/subpath/not/a/subresource", "proxy", "", "v1", "other", "pods", "", "foo",
         ["pods", "foo", "subpath", "not", "a", "subresource"]),
        ("GET", "/api/v1/watch/pods", "watch", "", "v1", "", "pods", "", "", ["pods"]),
        ("GET", "/api/v1/pods?watch=true", "watch", "", "v1", "", "pods", "", "", ["pods"]),
        ("GET", "/api/v1/pods?watch=false", "list", "", "v1", "", "pods", "", "", ["pods"]),
        ("GET", "/api/v1/watch/namespaces/other/pods", "watch", "", "v1", "other", "pods", "", "", ["pods"]),
        ("GET", "/api/v1/namespaces/other/pods?watch=1", "watch", "", "v1", "other", "pods", "", "", ["pods"]),
        ("GET", "/api/v1/namespaces/other/pods?watch=0", "list", "", "v1", "other", "pods", "", "", ["pods"]),
        ("GET", "/api/v1/namespaces/other/pods/foo/status", "get", "", "v1", "other", "pods", "status", "foo", ["pods", "foo", "status"]),
        ("GET", "/api/v1/namespaces/other/pods/foo/proxy/subpath", "get", "", "v1", "other", "pods", "proxy", "foo", ["pods", "foo", "proxy", "subpath"]),
        ("PUT", "/api/v1/namespaces/other/finalize", "update", "", "v1", "other", "namespaces", "finalize", "other", ["namespaces", "other", "finalize"]),
        ("PUT", "/api/v1/namespaces/other/status", "update", "", "v1", "other", "namespaces", "status", "other", ["namespaces", "other", "status"]),
        ("PATCH", "/api/v1/namespaces/other/pods/foo", "patch", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]),
        ("DELETE", "/api/v1/namespaces/other/pods/foo", "delete", "", "v1", "other", "pods", "", "foo", ["pods", "foo"]),
        ("POST", "/api/v1/namespaces/other/pods", "create", "", "v1", "other", "pods", "", "", ["pods"]),
        ("DELETE", "/api/v1/nodes", "deletecollection", "", "v1", "", "nodes", "", "", ["nodes"]),
        ("DELETE", "/api/v1/namespaces", "deletecollection", "", "v1", "", "namespaces", "", "", ["namespaces"]),
        ("DELETE", "/api/v1/namespaces/other/pods", "deletecollection", "", "v1", "other", "pods", "", "", ["pods"]),
        ("DELETE", "/apis/extensions/v1/namespaces/other/pods", "deletecollection", "extensions", "v1", "other", "pods", "", "", ["pods"]),
        ("POST", "/apis/extensions/v1/namespaces/other/pods", "create", "extensions", "v1", "other", "pods", "", "", ["pods"]),
        ("POST", "/apis/extensions/v1beta3/namespaces/other/pods", "create", "extensions", "v1beta3", "other", "pods", "", "", ["pods"]),
        ("GET", "/api/v1/namespaces/default/pods/web/log", "get", "", "v1", "default", "pods", "log", "web", ["pods", "web", "log"]),
        ("GET", "/apis/apps/v1/deployments", "list", "apps", "v1", "", "deployments", "", "", ["deployments"]),
        ("PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale", "update", "apps", "v1", "default", "deployments", "scale", "web",
         ["deployments", "web", "scale"]),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("/") else None,
)  # fmt: skip
def test_resource_paths(method, url, verb, group, version, ns, resource, sub, name, parts):
    info = request_info(method, url)
    assert info.is_resource_request
    assert (info.verb, info.api_group, info.api_version) == (verb, group, version)
    assert (info.namespace, info.resource, info.subresource, info.name) == (ns, resource, sub, name)
    assert list(info.parts) == parts


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("/api/version/resource", True, id="simple groupless"),
        pytest.param("/apis/group/version/resource/name/subresource", True, id="simple group"),
        pytest.param("/api/version/resource/name/subresource", True, id="more steps"),
        pytest.param("/apis/batch/v1/job", True, id="group list"),
        pytest.param("/apis/batch/v1/job/foo/scale", True, id="group subresource"),
        pytest.param("/not-api/version/resource", False, id="bad root"),
        pytest.param("/apis/extensions/v1beta1", False, id="group without enough steps"),
        pytest.param("/apis/extensions/v1beta1/", False, id="group without enough steps 2"),
        pytest.param("/api/version", False, id="not enough steps"),
        pytest.param("/api", False, id="one step"),
        pytest.param("/", False, id="zero step"),
        pytest.param("", False, id="empty"),
        pytest.param("/apis/version/resource", False, id="missing api group"),
        pytest.param("/healthz", False, id="healthz"),
    ],
)
def test_non_resource_paths(url, expected):
    info = request_info("GET", url)
    assert info.is_resource_request is expected
    if not expected:
        assert info.verb == "get"


@pytest.mark.parametrize(
    ("method", "url", "name", "verb", "fs", "ls"),
    [
        pytest.param("GET", "/apis/group/version/resource", "", "list", "", "", id="no selector"),
        pytest.param("GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1", "name1", "list", "metadata.name=name1", "",
                     id="a metadata.name selector names the object"),
        pytest.param("GET", "/apis/group/version/resource?watch=true&fieldSelector=metadata.name=name1", "name1", "watch",
                     "metadata.name=name1", "", id="metadata.name selector with watch"),
        pytest.param("GET", "/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux", "", "list", "foo=bar", "baz=qux",
                     id="random selector"),
        pytest.param("GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo", "", "list",
                     "metadata.name=name1,foo", "", id="an invalid selector names nothing"),
        pytest.param("GET", "/apis/group/version/resource?fieldSelector=metadata.name=name1,foo&watch=true", "", "watch",
                     "metadata.name=name1,foo", "", id="an invalid selector still honours watch"),
        pytest.param("DELETE", "/apis/group/version/resource?fieldSelector=foo=bar&labelSelector=baz=qux", "", "deletecollection",
                     "foo=bar", "baz=qux", id="selector on deletecollection is honored"),
        pytest.param("GET", "/apis/group/version/resource?fieldSelector=metadata.name=foo&fieldSelector=metadata.name=bar&labelSelector=foo=bar&labelSelector=foo=baz",
                     "foo", "list", "metadata.name=foo", "foo=bar", id="the first of repeated parameters counts"),
        pytest.param("GET", "/apis/group/version/resource/name?fieldSelector=foo=bar&labelSelector=foo=bar", "name", "get", "", "",
                     id="selector on other verb is ignored"),
        pytest.param("GET", "/apis/group/version/watch/resource?fieldSelector=metadata.name=foo&labelSelector=foo=bar", "", "watch", "", "",
                     id="selector on deprecated root type watch is not parsed"),
        pytest.param("GET", "/apis/group/version/watch/resource/name?fieldSelector=metadata.name=foo&labelSelector=foo=bar", "name", "watch",
                     "", "", id="selector on deprecated root item watch is not parsed"),
    ],
)  # fmt: skip
def test_selector_parsing(method, url, name, verb, fs, ls):
    info = request_info(method, url)
    assert (info.name, info.verb, info.field_selector, info.label_selector) == (name, verb, fs, ls)


def test_a_special_verb_with_nothing_after_it_is_an_error():
    with pytest.raises(RequestInfoError):
        request_info("GET", "/api/v1/watch")


@pytest.mark.parametrize(
    ("method", "url", "long"),
    [
        ("GET", "/api/v1/pods?watch=true", True),
        ("GET", "/api/v1/namespaces/d/pods/p/log", True),
        ("POST", "/api/v1/namespaces/d/pods/p/exec", True),
        ("GET", "/api/v1/namespaces/d/pods/p", False),
        ("GET", "/healthz", False),
    ],
)
def test_long_running(method, url, long):
    assert is_long_running(request_info(method, url)) is long


def test_user_groups_follow_the_authenticators():
    assert UserInfo.named("alice").groups == ("system:authenticated",)
    assert UserInfo.named("system:anonymous").groups == ("system:unauthenticated",)
    assert UserInfo.named("system:serviceaccount:dev:app").groups == (
        "system:serviceaccounts",
        "system:serviceaccounts:dev",
        "system:authenticated",
    )
