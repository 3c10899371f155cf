"""Patch semantics: RFC 7386 and RFC 6902 examples, json-patch v4's behaviour and texts, and
strategic merge patch cases from apimachinery's strategicpatch tests and from `kubectl patch`."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kube_teach.api.errors import StatusError
from kube_teach.apiserver import strategicpatch as patchmod
from kube_teach.apiserver.patch import apply_json_patch, apply_merge_patch, apply_patch
from kube_teach.apiserver.strategicpatch import apply_strategic_merge_patch, go_stable_sort

GENERIC_422 = "the server rejected our request due to an error in our request"


def status_of(fn, *args):
    with pytest.raises(StatusError) as info:
        fn(*args)
    return info.value


# -- JSON merge patch: RFC 7386 appendix A ---------------------------------------------------------
@pytest.mark.parametrize(
    ("original", "patch", "want"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
    ids=lambda v: json.dumps(v),
)
def test_merge_patch_rfc7386_examples(original, patch, want):
    before = copy.deepcopy(original)
    assert apply_merge_patch(original, patch) == want
    assert original == before  # the input is never modified


@pytest.mark.parametrize(
    "patch",
    [
        pytest.param(None, id="a null body (RFC: replace by null) is Invalid JSON Patch"),
        pytest.param("bar", id="a string value is Invalid JSON Patch"),
        pytest.param(3, id="a number is Invalid JSON Patch"),
        pytest.param("{not json", id="text that does not parse is Invalid JSON Patch"),
    ],
)
def test_merge_patch_bad_bodies_are_400(patch):
    err = status_of(apply_merge_patch, {"a": "foo"}, patch)
    assert (err.code, err.reason, err.message) == (400, "BadRequest", "Invalid JSON Patch")


def test_merge_patch_takes_json_text_as_kubectl_sends_it():
    got = apply_merge_patch({"spec": {"replicas": 1}}, '{"spec":{"replicas":3}}')
    assert got == {"spec": {"replicas": 3}}


# -- JSON patch: RFC 6902 appendix A ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("doc", "ops", "want"),
    [
        pytest.param({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}],
                     {"foo": "bar", "baz": "qux"}, id="A.1 adding an object member"),
        pytest.param({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
                     {"foo": ["bar", "qux", "baz"]}, id="A.2 adding an array element"),
        pytest.param({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}],
                     {"foo": "bar"}, id="A.3 removing an object member"),
        pytest.param({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}],
                     {"foo": ["bar", "baz"]}, id="A.4 removing an array element"),
        pytest.param({"baz": "qux", "foo": "bar"},
                     [{"op": "replace", "path": "/baz", "value": "boo"}],
                     {"baz": "boo", "foo": "bar"}, id="A.5 replacing a value"),
        pytest.param({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
                     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
                     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
                     id="A.6 moving a value"),
        pytest.param({"foo": ["all", "grass", "cows", "eat"]},
                     [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
                     {"foo": ["all", "cows", "eat", "grass"]}, id="A.7 moving an array element"),
        pytest.param({"baz": "qux", "foo": ["a", 2, "c"]},
                     [{"op": "test", "path": "/baz", "value": "qux"},
                      {"op": "test", "path": "/foo/1", "value": 2}],
                     {"baz": "qux", "foo": ["a", 2, "c"]}, id="A.8 testing a value: success"),
        pytest.param({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
                     {"foo": "bar", "child": {"grandchild": {}}}, id="A.10 adding a nested member"),
        pytest.param({"foo": "bar"},
                     [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
                     {"foo": "bar", "baz": "qux"}, id="A.11 ignoring unrecognized elements"),
        pytest.param({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}],
                     {"/": 9, "~1": 10}, id="A.14 ~01 unescapes to ~1, not to /"),
        pytest.param({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
                     {"foo": ["bar", ["abc", "def"]]}, id="A.16 adding an array value with -"),
        pytest.param({"a": {"b/c": 1, "d~e": 2}},
                     [{"op": "remove", "path": "/a/b~1c"}, {"op": "replace", "path": "/a/d~0e", "value": 3}],
                     {"a": {"d~e": 3}}, id="~1 and ~0 escape / and ~ in keys"),
        pytest.param({"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/-1"}], {"a": [1, 2]},
                     id="json-patch v4: a negative index counts from the end"),
        pytest.param({"a": {}}, [{"op": "replace", "path": "/a/b", "value": 1}], {"a": {"b": 1}},
                     id="json-patch v4: replace of an absent object key adds it"),
        pytest.param({"a": {"x": 1}}, [{"op": "copy", "from": "/a/nope", "path": "/b"}],
                     {"a": {"x": 1}, "b": None}, id="json-patch v4: copying an absent key copies null"),
        pytest.param({"a": 1}, [{"op": "test", "path": "/missing", "value": None}], {"a": 1},
                     id="test: an absent member matches null"),
        pytest.param({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}], {"b": 2},
                     id="replace of the whole document"),
    ],
)  # fmt: skip
def test_json_patch_rfc6902_examples(doc, ops, want):
    before = copy.deepcopy(doc)
    assert apply_json_patch(doc, ops) == want
    assert doc == before


@pytest.mark.parametrize(
    ("doc", "ops", "cause"),
    [
        pytest.param({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}],
                     "testing value /baz failed: test failed", id="A.9 a failed test"),
        pytest.param({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}],
                     'add operation does not apply: doc is missing path: "/baz/bat": missing value',
                     id="A.12 adding to a nonexistent target"),
        pytest.param({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}],
                     "testing value /~01 failed: test failed", id="A.15 a string is not a number"),
        pytest.param({"a": 1}, [{"op": "test", "path": "/a", "value": 1.0}],
                     "testing value /a failed: test failed", id="1.0 is not 1: values compare as JSON text"),
        pytest.param({"foo": [1]}, [{"op": "add", "path": "/foo/5", "value": 2}],
                     "error in add for path: '/foo/5': Unable to access invalid index: 5: invalid index referenced",
                     id="adding past the end of an array"),
        pytest.param({"foo": [1]}, [{"op": "add", "path": "/foo/x", "value": 2}],
                     "error in add for path: '/foo/x': value was not a proper array index: 'x': "
                     'strconv.Atoi: parsing "x": invalid syntax', id="a non-numeric array index"),
        pytest.param({"a": 1}, [{"op": "remove", "path": "/b"}],
                     "error in remove for path: '/b': Unable to remove nonexistent key: b: missing value",
                     id="removing a missing member"),
        pytest.param({"a": [1]}, [{"op": "replace", "path": "/a/3", "value": 2}],
                     "replace operation does not apply: doc is missing key: /a/3: missing value",
                     id="replacing a missing array element"),
        pytest.param({"a": 1}, [{"op": "move", "from": "/b", "path": "/c"}],
                     "error in move for path: 'b': Unable to remove nonexistent key: b: missing value",
                     id="moving a missing member names the key, as json-patch does"),
        pytest.param({"a": 1}, [{"op": "bogus", "path": "/a"}], "Unexpected kind: bogus",
                     id="an unknown op"),
        pytest.param({"a": 1}, [{"path": "/a"}], "Unexpected kind: unknown", id="no op at all"),
        pytest.param({"a": 1}, [{"op": "add", "value": 1}],
                     "add operation failed to decode path: missing value", id="add without a path"),
        pytest.param({"a": 1}, [{"op": "move", "path": "/b"}],
                     "move operation failed to decode from: operation, missing from field: missing value",
                     id="move without from"),
        pytest.param({"a": 1}, [{"op": "replace", "path": "", "value": 3}],
                     "replace operation value must be object or array: %!w(<nil>)",
                     id="the document replaced by a scalar (Go's %w of a nil error, verbatim)"),
    ],
)  # fmt: skip
def test_json_patch_failures_are_422_with_json_patch_text_as_cause(doc, ops, cause):
    before = copy.deepcopy(doc)
    err = status_of(apply_json_patch, doc, ops)
    assert (err.code, err.reason, err.message) == (422, "Invalid", GENERIC_422)
    assert str(err.__cause__) == cause
    assert doc == before


def test_a_failed_operation_applies_nothing():
    doc = {"spec": {"replicas": 1}}
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 5}, {"op": "remove", "path": "/x"}]
    status_of(apply_json_patch, doc, ops)
    assert doc == {"spec": {"replicas": 1}}


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
        (["add"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
        ("[{", "unexpected end of JSON input"),
        ("[1 2]", "invalid character '2' after array element"),
    ],
)
def test_json_patch_bodies_that_do_not_decode_are_400(ops, message):
    err = status_of(apply_json_patch, {}, ops)
    assert (err.code, err.reason, err.message) == (400, "BadRequest", message)


def test_json_patch_operation_cap_is_413():
    ops = [{"op": "test", "path": "/a", "value": 1}] * 10001
    err = status_of(apply_json_patch, {"a": 1}, ops)
    assert err.code == 413 and err.reason == "RequestEntityTooLarge"
    assert err.message == (
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001"
    )


# -- strategic merge patch: apimachinery's test type ----------------------------------------------
MERGE_ITEM = {
    "mergingList": ("merge", "name", "mergeItem"),
    "mergingIntList": ("merge", "", None),
    "retainKeysMap": ("retainKeys", "", "mergeItem"),
    "retainKeysMergingList": ("merge,retainKeys", "name", "mergeItem"),
    "replacingItem": ("replace", "", None),
}


@pytest.fixture
def merge_item(monkeypatch):
    """strategicpatch's `mergeItem` test struct, with its tags, as a kind."""
    monkeypatch.setitem(patchmod._TYPES, "mergeItem", MERGE_ITEM)
    monkeypatch.setattr(patchmod, "_BUILTIN", patchmod._BUILTIN | {"mergeItem"})


# (current, patch, result) from strategicMergePatchRawTestCases, the ThreeWay patch applied to Current.
UPSTREAM = [
    ("delete items in lists of scalars",
     "mergingIntList: [1, 2, 3, 4]", "$deleteFromPrimitiveList/mergingIntList: [3]",
     "mergingIntList: [1, 2, 4]"),
    ("delete all duplicate items in lists of scalars",
     "mergingIntList: [1, 2, 3, 3, 4]", "$deleteFromPrimitiveList/mergingIntList: [3]",
     "mergingIntList: [1, 2, 4]"),
    ("add and delete an item in a list and preserve order",
     "mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}, {name: 3, value: 3}]",
     "{$setElementOrder/mergingList: [{name: 4}, {name: 2}, {name: 1}],"
     " mergingList: [{name: 4, value: 4}, {name: 3, $patch: delete}]}",
     "mergingList: [{name: 4, value: 4}, {name: 2, value: 2, other: b}, {name: 1, other: a}]"),
    ("set elements order in a list with server-only items",
     "mergingList: [{name: 1, other: a}, {name: 3, value: 3}, {name: 4, value: 4},"
     " {name: 2, value: 2}, {name: 9}]",
     "$setElementOrder/mergingList: [{name: 4}, {name: 2}, {name: 3}, {name: 1}]",
     "mergingList: [{name: 4, value: 4}, {name: 2, value: 2}, {name: 3, value: 3},"
     " {name: 1, other: a}, {name: 9}]"),
    ("set elements order in a list with server-only items 2",
     "mergingList: [{name: 1, other: a}, {name: 2, value: 2}, {name: 9}, {name: 3, value: 3},"
     " {name: 4, value: 4}]",
     "$setElementOrder/mergingList: [{name: 2}, {name: 1}, {name: 4}, {name: 3}]",
     "mergingList: [{name: 2, value: 2}, {name: 1, other: a}, {name: 9}, {name: 4, value: 4},"
     " {name: 3, value: 3}]"),
    ("set elements order in a int list with server-only items 3",
     "mergingIntList: [1, 2, 7, 9, 8, 3, 4]", "$setElementOrder/mergingIntList: [2, 1, 4, 3]",
     "mergingIntList: [2, 1, 7, 9, 8, 4, 3]"),
    ("add and delete an item in a int list and preserve order",
     "mergingIntList: [1, 2, 3]",
     "{$setElementOrder/mergingIntList: [4, 2, 1], mergingIntList: [4],"
     " $deleteFromPrimitiveList/mergingIntList: [3]}",
     "mergingIntList: [4, 2, 1]"),
    ("behavior of set element order for a merging int list with duplicate",
     "mergingIntList: [1, 2, 3, 2, 4]", "$setElementOrder/mergingIntList: [2, 1, 4, 3, 2]",
     "mergingIntList: [2, 2, 1, 4, 3]"),
    ("retainKeys map should clear defaulted field",
     "retainKeysMap: {value: foo}", "retainKeysMap: {$retainKeys: [other], other: bar}",
     "retainKeysMap: {other: bar}"),
    ("retainKeys map deletes a field and clears a field",
     "retainKeysMap: {name: foo, value: bar, other: a}",
     "retainKeysMap: {$retainKeys: [name], value: null}", "retainKeysMap: {name: foo}"),
    ("replace RawExtension field, rest unchanged",
     "{name: my-object, replacingItem: {Some: Generic, Yaml: Inside}}",
     "replacingItem: {Newly: Modified, Yaml: Inside}",
     "{name: my-object, replacingItem: {Newly: Modified, Yaml: Inside}}"),
    ("$patch: replace on a map replaces it whole",
     "retainKeysMap: {name: a, value: b}", "retainKeysMap: {$patch: replace, name: x, other: null}",
     "retainKeysMap: {name: x}"),
    ("$patch: replace in a list replaces the list",
     "mergingList: [{name: 1}, {name: 2}]", "mergingList: [{name: 3}, {$patch: replace}]",
     "mergingList: [{name: 3}]"),
    ("$patch: delete on a map empties it",
     "{retainKeysMap: {name: a, value: b}}", "retainKeysMap: {$patch: delete}", "retainKeysMap: {}"),
    ("a patch repeating an item of a list of scalars adds only the new ones",
     "mergingIntList: [1, 2]", "mergingIntList: [1, 3]", "mergingIntList: [1, 3, 2]"),
    ("quirk: an empty $setElementOrder on a new list reverses it (upstream's sort comparator)",
     "{name: a}", "{$setElementOrder/mergingIntList: [], mergingIntList: [1, 2, 3]}",
     "{name: a, mergingIntList: [3, 2, 1]}"),
    ("a list without a merge strategy is replaced",
     "nonMergingList: [{name: 1}, {name: 2}]", "nonMergingList: [{name: 3}]",
     "nonMergingList: [{name: 3}]"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "current", "patch", "want"), UPSTREAM, ids=[c[0] for c in UPSTREAM]
)
def test_strategic_merge_patch_upstream_cases(merge_item, name, current, patch, want):
    current = yaml.safe_load(current)
    got = apply_strategic_merge_patch(current, yaml.safe_load(patch), "mergeItem")
    assert got == yaml.safe_load(want)


@pytest.mark.parametrize(
    ("current", "patch", "status"),
    [
        pytest.param("mergingList: [{name: 1}]", "mergingList: [{value: 1}]",
                     (500, "", "map: map[value:1] does not contain declared merge key: name"),
                     id="a merging-list item without its merge key"),
        pytest.param("mergingList: [{name: 1}]", "mergingList: [{name: 1, $patch: merge}]",
                     (500, "", "merging lists cannot yet be specified in the patch"),
                     id="$patch: merge in a list"),
        pytest.param("{name: a}", "{$patch: bogus}",
                     (500, "", "unknown patch type: bogus in map: map[$patch:bogus]"), id="unknown $patch"),
        pytest.param("mergingIntList: [[1]]", "mergingIntList: [[2]]",
                     (422, "Invalid", GENERIC_422), id="lists of lists are not supported"),
        pytest.param("mergingIntList: [1]", "mergingIntList: [a]",
                     (500, "", "list element types are not identical: [[1] [a]]"), id="mixed element types"),
        pytest.param("retainKeysMap: {name: a}", "retainKeysMap: {$retainKeys: [name], value: b}",
                     (400, "BadRequest", "invalid patch format of retainKeys"),
                     id="a patched key missing from $retainKeys"),
        pytest.param("mergingIntList: [1]", "$deleteFromPrimitiveListmergingIntList: [1]",
                     (400, "BadRequest", "invalid patch format of primitive list"),
                     id="a malformed $deleteFromPrimitiveList key"),
        pytest.param("mergingList: [{name: 1}]",
                     "{$setElementOrder/mergingList: [{name: 1}], mergingList: [{name: 2}]}",
                     (500, "", "The order in patch list:\n[map[name:2]]\n doesn't match "
                               "$setElementOrder list:\n[map[name:1]]\n"),
                     id="a patch item missing from $setElementOrder"),
    ],
)  # fmt: skip
def test_strategic_merge_patch_errors(merge_item, current, patch, status):
    err = status_of(
        apply_strategic_merge_patch, yaml.safe_load(current), yaml.safe_load(patch), "mergeItem"
    )
    assert (err.code, err.reason, err.message) == status


# -- strategic merge patch on real kinds: what `kubectl patch` does -------------------------------
DEPLOY = yaml.safe_load("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default, finalizers: [example.com/a], labels: {app: web}}
spec:
  replicas: 3
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}
  template:
    metadata: {labels: {app: web}}
    spec:
      tolerations: [{key: a, operator: Exists}]
      volumes: [{name: data, emptyDir: {}}]
      containers:
      - name: web
        image: nginx:1.25
        ports: [{containerPort: 80, protocol: TCP}]
        env: [{name: MODE, value: prod}]
        volumeMounts: [{name: data, mountPath: /data}]
      - name: sidecar
        image: busybox:1.36
status:
  conditions: [{type: Available, status: "True"}, {type: Progressing, status: "True"}]
""")


def containers(obj):
    return obj["spec"]["template"]["spec"]["containers"]


def spec(patch_yaml):
    return yaml.safe_load(patch_yaml)


@pytest.mark.parametrize(
    ("patch", "check"),
    [
        pytest.param("spec: {template: {spec: {containers: [{name: web, image: nginx:1.26}]}}}",
                     lambda d: [c["image"] for c in containers(d)] == ["nginx:1.26", "busybox:1.36"]
                     and containers(d)[0]["env"] == [{"name": "MODE", "value": "prod"}],
                     id="kubectl set image: one container changes, the rest is kept"),
        pytest.param("spec: {template: {spec: {containers: [{name: debug, image: alpine}]}}}",
                     lambda d: [c["name"] for c in containers(d)] == ["debug", "web", "sidecar"],
                     id="a new container goes first (patch items lead, server-only items follow)"),
        pytest.param("spec: {template: {spec: {containers: [{name: sidecar, $patch: delete}]}}}",
                     lambda d: [c["name"] for c in containers(d)] == ["web"],
                     id="$patch: delete removes a container by name"),
        pytest.param("spec: {template: {spec: {containers: [{name: web, env: [{name: DEBUG, value: '1'}]}]}}}",
                     lambda d: containers(d)[0]["env"] == [{"name": "DEBUG", "value": "1"},
                                                           {"name": "MODE", "value": "prod"}],
                     id="env merges by name"),
        pytest.param("spec: {template: {spec: {containers: [{name: web, ports: [{containerPort: 80, name: http}]}]}}}",
                     lambda d: containers(d)[0]["ports"] == [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                     id="ports merge by containerPort"),
        pytest.param("spec: {template: {spec: {tolerations: [{key: b, operator: Exists}]}}}",
                     lambda d: d["spec"]["template"]["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}],
                     id="tolerations have no patch strategy: the list is replaced"),
        pytest.param("spec: {strategy: {$retainKeys: [type], type: Recreate}}",
                     lambda d: d["spec"]["strategy"] == {"type": "Recreate"},
                     id="switching to Recreate clears rollingUpdate via $retainKeys"),
        pytest.param("spec: {strategy: {type: Recreate}}",
                     lambda d: d["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == "25%",
                     id="without $retainKeys rollingUpdate stays (and validation then rejects it)"),
        pytest.param("metadata: {finalizers: [example.com/b]}",
                     lambda d: d["metadata"]["finalizers"] == ["example.com/b", "example.com/a"],
                     id="finalizers merge as a set of strings"),
        pytest.param("metadata: {$deleteFromPrimitiveList/finalizers: [example.com/a]}",
                     lambda d: d["metadata"]["finalizers"] == [], id="$deleteFromPrimitiveList drops one"),
        pytest.param("metadata: {labels: {app: null, tier: web}}",
                     lambda d: d["metadata"]["labels"] == {"tier": "web"}, id="null deletes a map key"),
        pytest.param("status: {conditions: [{type: Available, status: 'False'}]}",
                     lambda d: [c["status"] for c in d["status"]["conditions"]] == ["False", "True"],
                     id="conditions merge by type"),
        pytest.param("spec: {template: {spec: {volumes: [{name: data, $retainKeys: [name, configMap], configMap: {name: cm}}]}}}",
                     lambda d: d["spec"]["template"]["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cm"}}],
                     id="a volume changes source with $retainKeys"),
        pytest.param("spec: {template: {spec: {nodeSelector: {disk: ssd}, containers: [{name: new, image: x, $patch: delete}]}}}",
                     lambda d: "nodeSelector" in d["spec"]["template"]["spec"]
                     and [c["name"] for c in containers(d)] == ["web", "sidecar"],
                     id="deleting a container that is not there changes nothing"),
    ],
)  # fmt: skip
def test_kubectl_patch_on_a_deployment(patch, check):
    before = copy.deepcopy(DEPLOY)
    got = apply_strategic_merge_patch(DEPLOY, spec(patch), "Deployment")
    assert check(got)
    assert DEPLOY == before
    assert "$" not in json.dumps(got)  # directives never reach storage


def test_pod_status_patch_as_the_kubelet_sends_it():
    pod = {"kind": "Pod", "status": {"conditions": [{"type": "Ready", "status": "False"}],
                                     "podIPs": [{"ip": "10.0.0.5"}]}}  # fmt: skip
    patch = {
        "status": {
            "$setElementOrder/conditions": [{"type": "PodScheduled"}, {"type": "Ready"}],
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "True"},
            ],
        }
    }
    got = apply_strategic_merge_patch(pod, patch, "Pod")
    assert got["status"]["conditions"] == [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "True"},
    ]


def test_metadata_merges_on_every_built_in_kind():
    cm = {"kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a"]}, "data": {"x": "1"}}
    got = apply_strategic_merge_patch(
        cm, {"metadata": {"finalizers": ["b"]}, "data": {"y": "2"}}, "ConfigMap"
    )
    assert got["metadata"]["finalizers"] == ["b", "a"] and got["data"] == {"x": "1", "y": "2"}


@pytest.mark.parametrize("kind", ["Widget", "Container", "ObjectMeta"])
def test_strategic_merge_patch_on_a_kind_the_server_does_not_build_in_is_415(kind):
    err = status_of(apply_strategic_merge_patch, {"kind": kind}, {}, kind)
    assert err.code == 415


def test_strategic_merge_patch_on_a_custom_resource_is_415():
    err = status_of(apply_strategic_merge_patch, {"kind": "Widget"}, {}, "Widget")
    assert err.code == 415 and err.reason == "UnsupportedMediaType"
    assert err.message.endswith(
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("[1]", "json: cannot unmarshal array into Go value of type map[string]interface {}"),
        ('{"a": }', "invalid character '}' looking for beginning of value"),
    ],
)
def test_strategic_merge_patch_bodies_that_do_not_decode_are_400(patch, message):
    err = status_of(apply_strategic_merge_patch, DEPLOY, patch, "Deployment")
    assert (err.code, err.reason, err.message) == (400, "BadRequest", message)


@pytest.mark.parametrize(
    ("patch_type", "patch", "replicas"),
    [
        ("json", [{"op": "replace", "path": "/spec/replicas", "value": 5}], 5),
        ("merge", {"spec": {"replicas": 6}}, 6),
        ("strategic", {"spec": {"replicas": 7}}, 7),
        ("application/merge-patch+json; charset=utf-8", {"spec": {"replicas": 8}}, 8),
    ],
)
def test_apply_patch_dispatches_on_type(patch_type, patch, replicas):
    assert apply_patch(DEPLOY, patch, patch_type, "Deployment")["spec"]["replicas"] == replicas


def test_apply_patch_unknown_type_is_415():
    err = status_of(apply_patch, DEPLOY, {}, "application/yaml", "Deployment")
    assert err.code == 415
    assert "application/strategic-merge-patch+json" in err.message


def test_merge_patch_replaces_lists_where_strategic_merges_them():
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "x"}]}}}}
    assert len(containers(apply_merge_patch(DEPLOY, patch))) == 1
    assert len(containers(apply_strategic_merge_patch(DEPLOY, patch, "Deployment"))) == 2


# -- properties ------------------------------------------------------------------------------------
json_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["a", "b"])
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abcd"), inner, max_size=3)
    ),
    max_leaves=12,
)


def rfc7386(target, patch):
    """The RFC's own pseudo-code, plus json-patch's one deviation: a value that does not replace
    an object has its objects' nulls dropped, inside arrays too."""
    if not isinstance(patch, dict):
        return patch if isinstance(target, dict) else drop_nulls(patch)
    target = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = rfc7386(target.get(k), v)
    return target


def drop_nulls(v):
    if isinstance(v, dict):
        return {k: drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [drop_nulls(x) for x in v]
    return v


def no_nulls_in_objects(v):
    if isinstance(v, dict):
        return all(x is not None and no_nulls_in_objects(x) for x in v.values())
    if isinstance(v, list):
        return all(no_nulls_in_objects(x) for x in v)
    return True


@settings(max_examples=150)
@given(
    target=st.dictionaries(st.sampled_from("abcd"), json_values, max_size=4).filter(
        no_nulls_in_objects
    ),
    patch=st.dictionaries(st.sampled_from("abcd"), json_values, max_size=4),
)
def test_merge_patch_matches_the_rfc_pseudocode(target, patch):
    assert apply_merge_patch(target, patch) == rfc7386(target, patch)


@settings(max_examples=100)
@given(doc=st.dictionaries(st.sampled_from("abcd"), json_values, max_size=4), value=json_values)
def test_json_patch_add_then_test_then_remove_round_trips(doc, value):
    key = "zz"
    ops = [
        {"op": "add", "path": f"/{key}", "value": value},
        {"op": "test", "path": f"/{key}", "value": value},
        {"op": "remove", "path": f"/{key}"},
    ]
    assert apply_json_patch(doc, ops) == doc


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers()), max_size=70))
def test_go_stable_sort_matches_a_stable_sort_for_a_consistent_order(items):
    got = list(items)
    go_stable_sort(got, lambda a, b: a[0] < b[0])  # past 20 items SymMerge takes part
    assert got == sorted(items, key=lambda t: t[0])


smp_keys = st.sampled_from(
    ["metadata", "spec", "template", "containers", "name", "env", "image", "finalizers",
     "$patch", "$retainKeys", "$setElementOrder/containers", "$deleteFromPrimitiveList/finalizers",
     "$setElementOrderX/a", "strategy", "type"]
)  # fmt: skip
smp_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(0, 3)
    | st.sampled_from(["delete", "replace", "merge", "web", "name"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(smp_keys, inner, max_size=4),
    max_leaves=15,
)


@settings(max_examples=150)
@given(
    original=st.dictionaries(smp_keys, smp_values, max_size=4),
    patch=st.dictionaries(smp_keys, smp_values, max_size=4),
)
def test_strategic_merge_patch_never_fails_with_a_python_error(original, patch):
    try:
        got = apply_strategic_merge_patch(original, patch, "Deployment")
    except StatusError as err:
        assert err.code in (400, 422, 500) and err.message
    else:
        assert isinstance(got, dict)


pointers = st.sampled_from(["", "/", "/a", "/a/0", "/a/-", "/a/-1", "/a/9", "/b/c", "/x~1y", "a"])


@settings(max_examples=150)
@given(
    doc=st.dictionaries(st.sampled_from("abx"), json_values, max_size=3),
    ops=st.lists(
        st.fixed_dictionaries(
            {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"])},
            optional={"path": pointers | st.integers(), "from": pointers, "value": json_values},
        ),
        max_size=4,
    ),
)
def test_json_patch_never_fails_with_a_python_error(doc, ops):
    try:
        apply_json_patch(doc, ops)
    except StatusError as err:
        assert err.code == 422 and err.__cause__ is not None


TUTORIAL = yaml.safe_load("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: patch-demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: nginx}}
  template:
    metadata: {labels: {app: nginx}}
    spec:
      containers: [{name: patch-demo-ctr, image: nginx}]
      tolerations: [{effect: NoSchedule, key: dedicated, value: test-team}]
""")


def test_the_kubectl_patch_tutorial():
    """The steps of the Kubernetes task "Update API Objects in Place Using kubectl patch"."""
    smp = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}
        }
    }
    deploy = apply_strategic_merge_patch(TUTORIAL, smp, "Deployment")
    assert containers(deploy) == [
        {"name": "patch-demo-ctr-2", "image": "redis"},  # the new container is listed first
        {"name": "patch-demo-ctr", "image": "nginx"},
    ]
    tolerations = [{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]
    deploy = apply_strategic_merge_patch(
        deploy, {"spec": {"template": {"spec": {"tolerations": tolerations}}}}, "Deployment"
    )
    assert deploy["spec"]["template"]["spec"]["tolerations"] == tolerations  # replaced, not merged
    merge = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "patch-demo-ctr-3", "image": "gcr.io/google-samples/hello-app:2.0"}
                    ]
                }
            }
        }
    }
    deploy = apply_merge_patch(deploy, merge)
    assert [c["name"] for c in containers(deploy)] == ["patch-demo-ctr-3"]
