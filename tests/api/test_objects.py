import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.api.objects import ManifestError, Obj, dump, load, load_one
from kube_teach.manifests import manifest, names

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": []}}


def test_yaml_json_dict_and_file_give_the_same_object(tmp_path):
    text = dump(POD)
    path = tmp_path / "pod.json"
    path.write_text(json.dumps(POD))
    loaded = [load(text), load(json.dumps(POD)), load(POD), load(path), load(str(path))]
    assert all(objs == [POD] for objs in loaded)
    assert all(isinstance(objs[0], Obj) for objs in loaded)


def test_several_documents_and_empty_ones():
    text = "---\n" + dump(POD) + "---\n\n---\n" + dump({**POD, "metadata": {"name": "b"}})
    assert [o.name for o in load(text)] == ["web", "b"]


def test_a_list_object_is_unpacked():
    lst = {"apiVersion": "v1", "kind": "List", "items": [POD, POD]}
    assert load(lst) == [POD, POD]


@pytest.mark.parametrize("name", names())
def test_every_seed_manifest_round_trips_unchanged(name):
    objs = load(manifest(name))
    again = load(dump(objs))
    assert again == objs
    assert [list(o) for o in again] == [list(o) for o in objs]  # key order kept too


def test_loading_adds_nothing():
    (obj,) = load("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n")
    assert obj == {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param("kind: Pod\nmetadata: {name: x}\n", "apiVersion not set", id="no apiVersion"),
        pytest.param("apiVersion: v1\nmetadata: {name: x}\n", "kind not set", id="no kind"),
        pytest.param("- a\n- b\n", "cannot unmarshal array into Go value", id="a YAML list"),
        pytest.param("just text", "cannot unmarshal string into Go value", id="a bare string"),
        pytest.param("a: [1, 2\n", "error converting YAML to JSON: yaml: line", id="broken YAML"),
        pytest.param("missing.yaml", 'the path "missing.yaml" does not exist', id="no such file"),
    ],
)
def test_unreadable_manifests_say_why(source, message):
    with pytest.raises(ManifestError, match=message.replace("(", r"\(")):
        load(source)


def test_load_one_wants_exactly_one():
    assert load_one(POD).name == "web"
    with pytest.raises(ManifestError, match="found 2"):
        load_one([POD, POD])


def test_obj_accessors_and_copies_do_not_share_state():
    obj = load_one(POD)
    copy = obj.with_replicas(3).with_("spec.template.spec.nodeName", "node-1")
    assert obj == POD and "replicas" not in obj["spec"]
    assert copy.spec["replicas"] == 3 and copy.spec["template"]["spec"]["nodeName"] == "node-1"
    assert (obj.kind, obj.name, obj.namespace, obj.labels, obj.key) == ("Pod", "web", "", {}, "web")
    assert repr(obj) == "<Pod web>"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@given(
    spec=json_values, labels=st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8))
)
def test_any_json_object_round_trips_through_yaml(spec, labels):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": labels},
           "data": spec}  # fmt: skip
    assert load(dump(obj)) == [obj]
