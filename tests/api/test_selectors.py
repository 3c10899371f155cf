"""Label selectors, LabelSelector dicts, node-affinity terms and field selectors.

Cases come from upstream's pkg/labels/selector_test.go, metav1 helpers_test.go,
component-helpers nodeaffinity_test.go and pkg/fields/selector_test.go.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.api.selectors import (
    FieldSelector,
    InvalidRequirementError,
    LabelSelector,
    Operator,
    Requirement,
    Selector,
    SelectorParseError,
    escape_field_value,
    format_label_selector,
    new_requirement,
    node_selector_matches,
    node_selector_requirement_matches,
    node_selector_requirements_as_selector,
    node_selector_term_matches,
    parse_field_selector,
    parse_selector,
    unescape_field_value,
)

# Upstream's messages, spelled out here so the tests check the wording independently.
VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
OPERATORS = "in, notin, =, ==, !=, gt, lt"


# --- parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        # TestSelectorParse: good strings print back without their spaces
        pytest.param("x=a,y=b,z=c", "x=a,y=b,z=c", id="equalities print back unchanged"),
        pytest.param("", "", id="the empty string parses to the empty selector"),
        pytest.param("x!=a,y=b", "x!=a,y=b", id="not-equals prints back unchanged"),
        pytest.param("x=", "x=", id="a missing value is the empty value"),
        pytest.param("x= ", "x=", id="a blank after = is still the empty value"),
        pytest.param("x=,z= ", "x=,z=", id="two empty values in a row parse"),
        pytest.param("x= ,z= ", "x=,z=", id="blanks before commas are dropped"),
        pytest.param("!x", "!x", id="does-not-exist prints with its bang"),
        pytest.param("x>1", "x>1", id="greater-than prints as >"),
        pytest.param("x>1,z<5", "x>1,z<5", id="greater-than and less-than combine"),
        # TestSetSelectorParser: valid inputs
        pytest.param("\rx", "x", id="a carriage return counts as blank"),
        pytest.param(
            "this-is-a-dns.domain.com/key-with-dash",
            "this-is-a-dns.domain.com/key-with-dash",
            id="a prefixed key alone means exists",
        ),
        pytest.param(
            "this-is-another-dns.domain.com/key-with-dash in (so,what)",
            "this-is-another-dns.domain.com/key-with-dash in (so,what)",
            id="a prefixed key takes a value set",
        ),
        pytest.param(
            "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            "0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)",
            id="dotted values in a notin set lose their blanks",
        ),
        pytest.param("foo  in\t (abc)", "foo in (abc)", id="tabs and spaces around in are ignored"),
        pytest.param("x notin\n (abc)", "x notin (abc)", id="a newline after notin is ignored"),
        pytest.param(
            "x  notin\t\t(abc,def)", "x notin (abc,def)", id="tabs before the set are ignored"
        ),
        pytest.param(
            "x in (abc,)", "x in (,abc)", id="a trailing comma in a set adds the empty value"
        ),
        pytest.param("x in (abc,abc)", "x in (abc)", id="duplicate values collapse"),
        pytest.param("x in ()", "x in ()", id="an empty set means the empty value"),
        pytest.param("x in (a,,)", "x in (,a)", id="doubled commas parse since 1.35"),
        pytest.param("x in (a,,,,,,)", "x in (,a)", id="many commas still give one empty value"),
        pytest.param("x in (a,,a,,a,,a,,)", "x in (,a)", id="repeated values and commas collapse"),
        pytest.param(
            "x notin (abc,,def),bar,z in (),w",
            "bar,w,x notin (,abc,def),z in ()",
            id="requirements are sorted by key",
        ),
        pytest.param("x,y in (a)", "x,y in (a)", id="exists then in keep key order"),
        pytest.param("x notin ( )", "x notin ()", id="a blank-only set is the empty value"),
        pytest.param("x notin (, a)", "x notin (,a)", id="a leading comma adds the empty value"),
        pytest.param("a ", "a", id="a trailing blank is ignored"),
        pytest.param(
            "a in (x,y,notin, z,in)",
            "a in (in,notin,x,y,z)",
            id="in and notin are plain values inside a set",
        ),
        pytest.param("notin=in", "notin=in", id="keywords serve as key and value of an equality"),
        pytest.param("x==a", "x==a", id="double equals prints as written"),
        # String() canonical forms
        pytest.param(
            "env in (prod),tier!=db,!canary",
            "!canary,env in (prod),tier!=db",
            id="the canonical form sorts keys, not operators",
        ),
        pytest.param("x in (def,abc)", "x in (abc,def)", id="values print sorted"),
        pytest.param("z,x=abc,y==jkl", "x=abc,y==jkl,z", id="the canonical form drops blanks"),
        pytest.param("z!=a,z", "z!=a,z", id="requirements on one key keep their order"),
        pytest.param(
            "a=b \0c=d",
            "a=b",
            id="a NUL where a token would start ends the input, as Go's zero byte",
        ),
    ],
)
def test_parse_prints_canonical_form(text, want):
    assert str(parse_selector(text)) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "x=a||y=b",
            f'unable to parse requirement: values[0][x]: Invalid value: "a||y": {VALUE_MSG}',
            id="pipes are part of the value and make it invalid",
        ),
        pytest.param(
            "x=a&b",
            f'unable to parse requirement: values[0][x]: Invalid value: "a&b": {VALUE_MSG}',
            id="a bad string value is quoted as Go's %q does, ampersand and all",
        ),
        pytest.param(
            "x==a==b",
            "found '==', expected: ',' or 'end of string'",
            id="a second == after a value is rejected",
        ),
        pytest.param(
            "!x=a",
            "found '=', expected: ',' or 'end of string'",
            id="does-not-exist takes no value",
        ),
        pytest.param(
            "x<a",
            'unable to parse requirement: values[0]: Invalid value: "a": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
            id="less-than needs an integer",
        ),
        pytest.param(
            "x>-1",
            f'unable to parse requirement: values[0][x]: Invalid value: "-1": {VALUE_MSG}',
            id="a negative bound is not a valid label value",
        ),
        pytest.param(
            "x>a|b",
            'unable to parse requirement: [values[0]: Invalid value: "a|b": '
            "for 'Gt', 'Lt' operators, the value must be an integer, "
            f'values[0][x]: Invalid value: "a|b": {VALUE_MSG}]',
            id="two failures of one requirement are bracketed together",
        ),
        pytest.param(
            "x,,y",
            "found ',', expected: identifier after ','",
            id="an empty requirement between commas is rejected",
        ),
        pytest.param(
            ",x,y",
            "found ',', expected: !, identifier, or 'end of string'",
            id="a leading comma is rejected",
        ),
        pytest.param(
            "x nott in (y)",
            f"unable to parse requirement: found 'nott', expected: {OPERATORS}",
            id="a misspelt operator lists the valid ones",
        ),
        pytest.param(
            "a in (xyz),",
            "found '', expected: identifier after ','",
            id="a trailing comma after a requirement is rejected",
        ),
        pytest.param(
            "a in (xyz)b notin ()",
            "found 'b', expected: ',' or 'end of string'",
            id="requirements need a comma between them",
        ),
        pytest.param(
            "a in (xyz abc)",
            "unable to parse requirement: found 'abc', expected: ',' or ')'",
            id="set values need commas",
        ),
        pytest.param(
            "a notin(",
            "unable to parse requirement: found '', expected: ',', ')' or identifier",
            id="an unclosed empty set is rejected",
        ),
        pytest.param(
            "x in (a",
            "unable to parse requirement: found '', expected: ',' or ')'",
            id="an unclosed set after a value is rejected",
        ),
        pytest.param(
            "x in (a,",
            "unable to parse requirement: found '', expected: ',', or identifier",
            id="an unclosed set after a comma is rejected",
        ),
        pytest.param(
            "a (",
            f"unable to parse requirement: found '(', expected: {OPERATORS}",
            id="a parenthesis is not an operator",
        ),
        pytest.param(
            "(",
            "found '(', expected: !, identifier, or 'end of string'",
            id="a lone parenthesis is rejected",
        ),
        pytest.param(
            "x in in",
            "unable to parse requirement: found 'in' expected: '('",
            id="a set must open with a parenthesis",
        ),
        pytest.param(
            "!,",
            "unable to parse requirement: found ',', expected: identifier",
            id="a bang needs a key",
        ),
        # TestLexer: characters that are not special belong to identifiers
        pytest.param(
            "~",
            f'unable to parse requirement: <nil>: Invalid value: "~": {NAME_PART_MSG}',
            id="a tilde lexes as an identifier and fails as a key at path nil",
        ),
        pytest.param(
            "||",
            f'unable to parse requirement: <nil>: Invalid value: "||": {NAME_PART_MSG}',
            id="double pipes lex as one identifier",
        ),
        pytest.param(
            "ab\0cd",
            f"unable to parse requirement: found 'cd', expected: {OPERATORS}",
            id="a NUL inside an identifier splits it",
        ),
        pytest.param(
            "x=a=b",
            "found '=', expected: ',' or 'end of string'",
            id="a value cannot contain an equals sign",
        ),
        pytest.param(
            "x!==a",
            "unable to parse requirement: found '=', expected: identifier",
            id="the lexer takes the longest token, != then =",
        ),
    ],
)
def test_parse_rejects_with_upstream_message(text, message):
    with pytest.raises(SelectorParseError) as err:
        parse_selector(text)
    assert str(err.value) == message


def test_parse_errors_are_value_errors():
    with pytest.raises(ValueError):
        parse_selector("x,,y")


# --- matching --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "labels", "want"),
    [
        # TestSelectorMatches
        pytest.param("", {"x": "y"}, True, id="the empty selector matches anything"),
        pytest.param("x=y", {"x": "y"}, True, id="an equality matches its value"),
        pytest.param("x=y,z=w", {"x": "y", "z": "w"}, True, id="two equalities both hold"),
        pytest.param("x!=y,z!=w", {"x": "z", "z": "a"}, True, id="two inequalities both hold"),
        pytest.param("notin=in", {"notin": "in"}, True, id="keywords match as key and value"),
        pytest.param("x", {"x": "z"}, True, id="exists matches any value"),
        pytest.param("!x", {"y": "z"}, True, id="does-not-exist matches a missing key"),
        pytest.param("x>1", {"x": "2"}, True, id="2 is greater than 1"),
        pytest.param("x<1", {"x": "0"}, True, id="0 is less than 1"),
        pytest.param("x=z", {}, False, id="an equality needs the key"),
        pytest.param("x=y", {"x": "z"}, False, id="an equality fails on another value"),
        pytest.param("x=y,z=w", {"x": "w", "z": "w"}, False, id="one failed equality fails all"),
        pytest.param(
            "x!=y,z!=w", {"x": "z", "z": "w"}, False, id="one failed inequality fails all"
        ),
        pytest.param("x", {"y": "z"}, False, id="exists fails on a missing key"),
        pytest.param("!x", {"x": "z"}, False, id="does-not-exist fails on a present key"),
        pytest.param("x>1", {"x": "0"}, False, id="0 is not greater than 1"),
        pytest.param("x<1", {"x": "2"}, False, id="2 is not less than 1"),
        pytest.param("foo=bar", {"foo": "bar", "baz": "blah"}, True, id="extra labels are ignored"),
        pytest.param(
            "foo=bar,foobar=bar,baz=blah",
            {"foo": "bar", "baz": "blah"},
            False,
            id="a requirement on an absent key fails",
        ),
        # TestRequirementSelectorMatching
        pytest.param(
            "x in (foo),y notin (alpha)",
            {"x": "foo", "y": "baz"},
            True,
            id="in and notin both hold",
        ),
        pytest.param(
            "x in (foo),y in (alpha)",
            {"x": "foo", "y": "baz"},
            False,
            id="in fails on another value",
        ),
        pytest.param("x notin (),y", {"y": ""}, True, id="notin matches a missing key"),
        pytest.param("!x,y", {"y": ""}, True, id="exists holds for an empty value"),
        pytest.param("x notin (),!y", {"y": ""}, False, id="an empty value still exists"),
        pytest.param("x in ()", {"y": "baz"}, False, id="in the empty value needs the key"),
        pytest.param("x in ()", {"x": ""}, True, id="in the empty value matches an empty label"),
        pytest.param("z>1", {"z": "2"}, True, id="gt compares integers"),
        pytest.param("z>1", {"z": "v2"}, False, id="gt never matches a non-integer label"),
        pytest.param("z<10", {"z": "9"}, True, id="lt compares numerically not lexically"),
        pytest.param("z>1", {}, False, id="gt needs the key"),
        pytest.param("x!=a", {}, True, id="not-equals matches a missing key"),
    ],
)
def test_selector_matches(text, labels, want):
    assert parse_selector(text).matches(labels) is want


@pytest.mark.parametrize(
    ("selector", "labels", "matches", "empty", "text"),
    [
        pytest.param(
            Selector.everything(), {"x": "y"}, True, True, "", id="everything matches and is empty"
        ),
        pytest.param(Selector.everything(), {}, True, True, "", id="everything matches no labels"),
        pytest.param(
            Selector.nothing(), {}, False, False, "", id="nothing matches nothing and is not empty"
        ),
        pytest.param(Selector.nothing(), {"x": "y"}, False, False, "", id="nothing ignores labels"),
        pytest.param(
            parse_selector(""),
            {"a": "b"},
            True,
            True,
            "",
            id="parsing the empty string gives everything",
        ),
        pytest.param(
            Selector.from_set({}), {"a": "b"}, True, True, "", id="an empty set selects everything"
        ),
        pytest.param(
            Selector.from_set(None), {}, True, True, "", id="a None set selects everything"
        ),
        pytest.param(
            Selector.from_set({"app": "foo", "a": "b"}),
            {"app": "foo", "a": "b", "x": "y"},
            True,
            False,
            "a=b,app=foo",
            id="a set selector sorts its keys",
        ),
        pytest.param(
            Selector.nothing().add(new_requirement("a", "exists")),
            {"a": "b"},
            False,
            False,
            "",
            id="adding to nothing is still nothing",
        ),
    ],
)
def test_everything_nothing_and_empty(selector, labels, matches, empty, text):
    assert (selector.matches(labels), selector.empty, str(selector)) == (matches, empty, text)


@pytest.mark.parametrize(
    ("selector", "want"),
    [
        pytest.param(Selector.nothing(), True, id="nothing is known to match nothing"),
        pytest.param(Selector.everything(), False, id="everything is not nothing"),
        pytest.param(parse_selector("a,!a"), False, id="a contradiction is not detected"),
        pytest.param(
            Selector.from_set({"key": "value"}), False, id="a set selector is not nothing"
        ),
    ],
)
def test_matches_nothing(selector, want):
    assert selector.matches_nothing is want


def test_parse_is_deterministic_across_input_order():
    assert parse_selector("x=a,a=x") == parse_selector("a=x,x=a")


@pytest.mark.parametrize(
    ("selector", "label", "want"),
    [
        pytest.param("key in (value)", "key", "value", id="in with one value requires it"),
        pytest.param(
            "key in (value,value2)", "key", None, id="in with two values requires neither"
        ),
        pytest.param(
            "key in (value,value1),key2 in (value2)", "key2", "value2", id="the asked key is found"
        ),
        pytest.param("key=value", "key", "value", id="equals requires its value"),
        pytest.param("key==value", "key", "value", id="double equals requires its value"),
        pytest.param("key!=value", "key", None, id="not-equals requires nothing"),
        pytest.param("key=", "key", "", id="an empty required value is not None"),
        pytest.param("other=value", "key", None, id="an unmentioned key requires nothing"),
    ],
)
def test_requires_exact_match(selector, label, want):
    assert parse_selector(selector).requires_exact_match(label) == want


def test_add_keeps_requirements_sorted_by_key():
    selector = Selector([Requirement("key", Operator.IN, ("value",))])
    added = selector.add(new_requirement("a", "=", ["b"]))
    assert (str(added), str(selector)) == ("a=b,key in (value)", "key in (value)")


# --- NewRequirement --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "operator", "values", "message"),
    [
        # TestRequirementConstructor
        pytest.param(
            "x1",
            "in",
            [],
            "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty",
            id="in needs values",
        ),
        pytest.param(
            "x2",
            "notin",
            [],
            "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty",
            id="notin needs values",
        ),
        pytest.param("x3", "in", ["foo"], None, id="in with one value is valid"),
        pytest.param("x4", "notin", ["foo"], None, id="notin with one value is valid"),
        pytest.param(
            "x5",
            "=",
            ["bar", "foo"],
            'values: Invalid value: ["bar","foo"]: exact-match compatibility requires one single value',
            id="equals takes exactly one value",
        ),
        pytest.param("x6", "exists", [], None, id="exists without values is valid"),
        pytest.param("x7", "!", [], None, id="does-not-exist without values is valid"),
        pytest.param(
            "x8",
            "exists",
            ["foo"],
            'values: Invalid value: ["foo"]: values set must be empty for exists and does not exist',
            id="exists takes no values",
        ),
        pytest.param("x11", "gt", ["1"], None, id="gt with an integer is valid"),
        pytest.param("x12", "lt", ["6"], None, id="lt with an integer is valid"),
        pytest.param(
            "x13",
            "gt",
            [],
            "values: Invalid value: []: for 'Gt', 'Lt' operators, exactly one value is required",
            id="gt needs a value",
        ),
        pytest.param(
            "x14",
            "gt",
            ["bar"],
            "values[0]: Invalid value: \"bar\": for 'Gt', 'Lt' operators, the value must be an integer",
            id="gt needs an integer",
        ),
        pytest.param(
            "x15",
            "lt",
            ["bar"],
            "values[0]: Invalid value: \"bar\": for 'Gt', 'Lt' operators, the value must be an integer",
            id="lt needs an integer",
        ),
        pytest.param(
            "a" * 254,
            "exists",
            [],
            f'key: Invalid value: "{"a" * 254}": name part must be no more than 63 bytes',
            id="a key name over 63 bytes is invalid",
        ),
        pytest.param(
            "x16",
            "=",
            ["a" * 254],
            f'values[0][x16]: Invalid value: "{"a" * 254}": must be no more than 63 bytes',
            id="a value over 63 bytes is invalid",
        ),
        pytest.param(
            "x17",
            "=",
            ["a b"],
            f'values[0][x17]: Invalid value: "a b": {VALUE_MSG}',
            id="a value with a space is invalid",
        ),
        pytest.param(
            "x18",
            "unsupportedOp",
            [],
            'operator: Unsupported value: "unsupportedOp": supported values: '
            '"in", "notin", "=", "==", "!=", "gt", "lt", "exists", "!"',
            id="an unknown operator lists the supported ones",
        ),
        pytest.param(
            "Key",
            "=",
            ["axahm2EJ8Phiephe2eixohbee9eGeiyees1thuozi1xoh0GiuH3diewi8iem7Nui"],
            'values[0][Key]: Invalid value: "axahm2EJ8Phiephe2eixohbee9eGeiyees1thuozi1xoh0GiuH3diewi8iem7Nui": '
            "must be no more than 63 bytes",
            id="a 64-byte value is one byte too long",
        ),
    ],
)
def test_new_requirement_validates(key, operator, values, message):
    if message is None:
        assert new_requirement(key, operator, values).key == key
        return
    with pytest.raises(InvalidRequirementError) as err:
        new_requirement(key, operator, values)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("requirements", "want"),
    [
        # TestToString
        pytest.param(
            [("x", "in", ["abc", "def"]), ("y", "notin", ["jkl"]), ("z", "exists", [])],
            "x in (abc,def),y notin (jkl),z",
            id="set operators print with spaced keywords",
        ),
        pytest.param(
            [("x", "notin", ["abc", "def"]), ("y", "!=", ["jkl"]), ("z", "!", [])],
            "x notin (abc,def),y!=jkl,!z",
            id="negations print compactly",
        ),
        pytest.param(
            [("x", "notin", ["abc"]), ("y", "in", ["jkl", "mno"]), ("z", "notin", [""])],
            "x notin (abc),y in (jkl,mno),z notin ()",
            id="the empty value prints as an empty set",
        ),
        pytest.param(
            [("x", "=", ["abc"]), ("y", "==", ["jkl"]), ("z", "!=", ["a"]), ("z", "exists", [])],
            "x=abc,y==jkl,z!=a,z",
            id="equality operators print as given",
        ),
        pytest.param(
            [("x", "gt", ["2"]), ("y", "lt", ["8"]), ("z", "exists", [])],
            "x>2,y<8,z",
            id="comparisons print as angle brackets",
        ),
        pytest.param(
            [("x", "in", ["b", "a", "b"])],
            "x in (a,b,b)",
            id="values print sorted and duplicates are kept",
        ),
    ],
)
def test_selector_string(requirements, want):
    assert str(Selector(new_requirement(k, op, v) for k, op, v in requirements)) == want


def test_validated_set_rejects_a_bad_value():
    with pytest.raises(InvalidRequirementError, match=r"^values\[0\]\[Key\]: Invalid value"):
        Selector.from_set({"Key": "a" * 64}, validate=True)


# --- metav1.LabelSelector --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "want"),
    [
        # TestLabelSelectorAsSelector
        pytest.param(
            {"matchLabels": {"foo": "bar"}},
            "foo=bar",
            id="matchLabels become equalities",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "baz", "operator": "In", "values": ["qux", "norf"]}]},
            "baz in (norf,qux)",
            id="an In expression becomes a set",
        ),
        pytest.param(
            {
                "matchLabels": {"foo": "bar"},
                "matchExpressions": [{"key": "baz", "operator": "In", "values": ["qux", "norf"]}],
            },
            "baz in (norf,qux),foo=bar",
            id="labels and expressions are merged and sorted",
        ),
        pytest.param(
            {
                "matchExpressions": [
                    {"key": "tier", "operator": "NotIn", "values": ["db"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                    {"key": "env", "operator": "Exists", "values": []},
                ]
            },
            "!canary,env,tier notin (db)",
            id="every dict operator maps to its string form",
        ),
        pytest.param({}, "", id="an empty dict prints as the empty string"),
        pytest.param({"matchLabels": {}, "matchExpressions": []}, "", id="empty parts are empty"),
        pytest.param(None, "", id="None prints as the empty string too"),
    ],
)
def test_label_selector_as_selector(selector, want):
    assert str(LabelSelector.from_dict(selector)) == want


@pytest.mark.parametrize(
    ("selector", "labels", "want"),
    [
        pytest.param(None, {}, False, id="a nil selector matches no object"),
        pytest.param(None, {"a": "b"}, False, id="a nil selector matches no labelled object"),
        pytest.param({}, {}, True, id="an empty selector matches every object"),
        pytest.param(
            {"matchLabels": {"app": "web"}},
            {"app": "web", "pod-template-hash": "x"},
            True,
            id="matchLabels ignore extra labels",
        ),
        pytest.param(
            {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}],
            },
            {"app": "web", "env": "prod"},
            False,
            id="matchLabels and matchExpressions are ANDed",
        ),
    ],
)
def test_label_selector_matches(selector, labels, want):
    assert LabelSelector.from_dict(selector).matches(labels) is want


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        pytest.param(
            {"matchExpressions": [{"key": "baz", "operator": "Exists", "values": ["qux", "norf"]}]},
            'values: Invalid value: ["qux","norf"]: values set must be empty for exists and does not exist',
            id="Exists with values is rejected",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "baz", "operator": "DoesNotExist", "values": ["a&b"]}]},
            '[values: Invalid value: ["a\\u0026b"]: values set must be empty for exists and does not exist, '
            f'values[0][baz]: Invalid value: "a&b": {VALUE_MSG}]',
            id="a list is shown as JSON escaping the ampersand, a string as Go's %q does not",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "baz", "operator": "In"}]},
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty",
            id="In without values reports null",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "baz", "operator": "NotIn", "values": []}]},
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty",
            id="an empty values list is copied to nil and reported as null",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "baz", "operator": "Gt", "values": ["1"]}]},
            '"Gt" is not a valid label selector operator',
            id="Gt is for node affinity only",
        ),
        pytest.param(
            {"matchLabels": {"app": "-web"}},
            f'values[0][app]: Invalid value: "-web": {VALUE_MSG}',
            id="a bad matchLabels value is reported at its key",
        ),
    ],
)
def test_label_selector_rejects(selector, message):
    with pytest.raises(InvalidRequirementError) as err:
        LabelSelector.from_dict(selector)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("selector", "want"),
    [
        pytest.param(None, "<none>", id="a nil selector is described as none"),
        pytest.param({}, "<none>", id="an empty selector is described as none"),
        pytest.param(
            {"matchLabels": {"app": "web"}}, "app=web", id="a selector is described by its string"
        ),
        pytest.param(
            {"matchExpressions": [{"key": "a", "operator": "Bad"}]},
            "<error>",
            id="an invalid selector is an error",
        ),
    ],
)
def test_format_label_selector(selector, want):
    assert format_label_selector(selector) == want


# --- node affinity ---------------------------------------------------------------------------------


def expr(key, operator, *values):
    return {"key": key, "operator": operator, "values": list(values)}


@pytest.mark.parametrize(
    ("requirement", "labels", "want"),
    [
        pytest.param(
            expr("zone", "In", "a", "b"), {"zone": "b"}, True, id="In matches one of its values"
        ),
        pytest.param(expr("zone", "In", "a"), {}, False, id="In needs the label"),
        pytest.param(
            expr("zone", "NotIn", "a"), {}, True, id="NotIn matches a node without the label"
        ),
        pytest.param(
            expr("zone", "NotIn", "a"), {"zone": "a"}, False, id="NotIn rejects a listed value"
        ),
        pytest.param(
            {"key": "gpu", "operator": "Exists"},
            {"gpu": ""},
            True,
            id="Exists matches an empty label",
        ),
        pytest.param(
            {"key": "gpu", "operator": "DoesNotExist"},
            {"gpu": "1"},
            False,
            id="DoesNotExist rejects a present label",
        ),
        pytest.param(expr("cores", "Gt", "4"), {"cores": "8"}, True, id="Gt compares as integers"),
        pytest.param(expr("cores", "Gt", "4"), {"cores": "4"}, False, id="Gt is strict"),
        pytest.param(expr("cores", "Lt", "10"), {"cores": "9"}, True, id="Lt compares numerically"),
        pytest.param(
            expr("cores", "Lt", "10"),
            {"cores": "many"},
            False,
            id="Lt never matches a non-integer label",
        ),
        pytest.param(expr("cores", "Gt", "4"), {}, False, id="Gt needs the label"),
        pytest.param(
            expr("cores", "Gt", "4", "5"),
            {"cores": "8"},
            False,
            id="Gt with two values is invalid and matches nothing",
        ),
        pytest.param(
            expr("zone", "In"),
            {"zone": ""},
            False,
            id="In without values is invalid and matches nothing",
        ),
        pytest.param(
            expr("zone", "Equals", "a"),
            {"zone": "a"},
            False,
            id="an unknown operator matches nothing",
        ),
    ],
)
def test_node_selector_requirement_matches(requirement, labels, want):
    assert node_selector_requirement_matches(requirement, labels) is want


@pytest.mark.parametrize(
    ("term", "labels", "node_name", "want"),
    [
        pytest.param({}, {"a": "b"}, "n1", False, id="an empty term matches nothing"),
        pytest.param(None, {}, "n1", False, id="a None term matches nothing"),
        pytest.param(
            {"matchExpressions": [expr("zone", "In", "a"), expr("disk", "In", "ssd")]},
            {"zone": "a", "disk": "ssd"},
            "n1",
            True,
            id="expressions in a term are ANDed",
        ),
        pytest.param(
            {"matchExpressions": [expr("zone", "In", "a"), expr("disk", "In", "ssd")]},
            {"zone": "a", "disk": "hdd"},
            "n1",
            False,
            id="one failed expression fails the term",
        ),
        pytest.param(
            {"matchFields": [expr("metadata.name", "In", "n1")]},
            {},
            "n1",
            True,
            id="matchFields match the node name",
        ),
        pytest.param(
            {"matchFields": [expr("metadata.name", "In", "n1")]},
            {},
            "n2",
            False,
            id="matchFields reject another node",
        ),
        pytest.param(
            {"matchFields": [expr("metadata.name", "NotIn", "n1")]},
            {},
            "n2",
            True,
            id="NotIn on the name excludes one node",
        ),
        pytest.param(
            {"matchFields": [expr("metadata.name", "In", "n1", "n2")]},
            {},
            "n1",
            False,
            id="matchFields In with two values is invalid",
        ),
        pytest.param(
            {"matchFields": [expr("metadata.name", "Exists")]},
            {},
            "n1",
            False,
            id="matchFields take only In and NotIn",
        ),
        pytest.param(
            {"matchFields": [expr("metadata.name", "In", "n1")]},
            {},
            "",
            True,
            id="matchFields are skipped for a node without a name",
        ),
        pytest.param(
            {
                "matchExpressions": [expr("zone", "In", "a")],
                "matchFields": [expr("metadata.name", "In", "n1")],
            },
            {"zone": "b"},
            "n1",
            False,
            id="labels and fields are ANDed",
        ),
        pytest.param(
            {"matchExpressions": [expr("zone", "In", "a"), {"key": "x", "operator": "Bad"}]},
            {"zone": "a"},
            "n1",
            False,
            id="a term with an invalid expression matches nothing",
        ),
    ],
)
def test_node_selector_term_matches(term, labels, node_name, want):
    assert node_selector_term_matches(term, labels, node_name) is want


@pytest.mark.parametrize(
    ("node_selector", "want"),
    [
        pytest.param({"nodeSelectorTerms": []}, False, id="no terms match nothing"),
        pytest.param(
            {
                "nodeSelectorTerms": [
                    {"matchExpressions": [expr("zone", "In", "b")]},
                    {"matchExpressions": [expr("zone", "In", "a")]},
                ]
            },
            True,
            id="terms are ORed",
        ),
        pytest.param(
            {"nodeSelectorTerms": [{}, {"matchExpressions": [expr("zone", "In", "a")]}]},
            True,
            id="an empty term is skipped, not fatal",
        ),
        pytest.param(
            {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "Bad"}]},
                    {"matchFields": [expr("metadata.name", "In", "n1")]},
                ]
            },
            True,
            id="an invalid term does not stop a later one matching",
        ),
    ],
)
def test_node_selector_matches(node_selector, want):
    assert node_selector_matches(node_selector, {"zone": "a"}, "n1") is want


def test_node_selector_errors_are_collected_with_paths():
    with pytest.raises(InvalidRequirementError) as err:
        node_selector_requirements_as_selector(
            [{"key": "a", "operator": "Foo"}, expr("b", "Gt", "x")]
        )
    assert err.value.errors == [
        'matchExpressions[0].operator: Unsupported value: "Foo": supported values: '
        '"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"',
        "matchExpressions[1].values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer",
    ]


# --- field selectors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [
        pytest.param("", "", id="the empty field selector selects everything"),
        pytest.param("metadata.name=web", "metadata.name=web", id="one equality prints back"),
        pytest.param("a==b", "a=b", id="double equals prints as single"),
        pytest.param("b=1,a!=2", "a!=2,b=1", id="terms are sorted"),
        pytest.param("x=a\\,b", "x=a\\,b", id="an escaped comma stays in the value"),
        pytest.param("x=a\\=b\\\\", "x=a\\=b\\\\", id="escaped equals and backslash print escaped"),
        pytest.param("=", "", id="a term with empty field and value is dropped"),
        pytest.param("a=,", "a=", id="an empty term is dropped"),
        pytest.param("a!b=c", "a!b=c", id="the split is at the first operator"),
    ],
)
def test_field_selector_string(text, want):
    assert str(parse_field_selector(text)) == want


@pytest.mark.parametrize(
    ("text", "fields", "want"),
    [
        pytest.param("metadata.name=web", {"metadata.name": "web"}, True, id="an equality matches"),
        pytest.param(
            "status.phase!=Running", {"status.phase": "Pending"}, True, id="an inequality matches"
        ),
        pytest.param(
            "status.phase!=Running", {"status.phase": "Running"}, False, id="an inequality rejects"
        ),
        pytest.param("spec.nodeName=", {}, True, id="a missing field compares as empty"),
        pytest.param("spec.nodeName!=", {}, False, id="not-empty fails on a missing field"),
        pytest.param("a=b,c=d", {"a": "b", "c": "x"}, False, id="terms are ANDed"),
        pytest.param("x=a\\,b", {"x": "a,b"}, True, id="escapes are undone before matching"),
    ],
)
def test_field_selector_matches(text, fields, want):
    assert parse_field_selector(text).matches(fields) is want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "a", "invalid selector: 'a'; can't understand 'a'", id="a term needs an operator"
        ),
        pytest.param(
            "b=c,a",
            "invalid selector: 'b=c,a'; can't understand 'a'",
            id="the whole text and the bad term are quoted",
        ),
        pytest.param(
            "a=b=c",
            "invalid field selector: unescaped character in value: 61",
            id="a bare equals is reported by code point",
        ),
        pytest.param(
            "a=\\x",
            "invalid field selector: invalid escape sequence: \\x",
            id="only three escapes exist",
        ),
        pytest.param(
            "a=b\\",
            "invalid field selector: invalid escape sequence: \\",
            id="a trailing backslash is rejected",
        ),
        pytest.param(
            "a in (b)",
            "invalid selector: 'a in (b)'; can't understand 'a in (b)'",
            id="set syntax is for labels only",
        ),
    ],
)
def test_field_selector_rejects(text, message):
    with pytest.raises(SelectorParseError) as err:
        parse_field_selector(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("selector", "fields", "matches", "empty"),
    [
        pytest.param(
            FieldSelector.everything(), {"a": "b"}, True, True, id="everything matches and is empty"
        ),
        pytest.param(
            FieldSelector.nothing(), {"a": "b"}, False, False, id="nothing matches nothing"
        ),
        pytest.param(
            FieldSelector.from_set({"a": "b"}), {"a": "b"}, True, False, id="a set matches itself"
        ),
    ],
)
def test_field_selector_everything_and_nothing(selector, fields, matches, empty):
    assert (selector.matches(fields), selector.empty) == (matches, empty)


def test_field_selector_requires_exact_match():
    selector = parse_field_selector("spec.nodeName=n1,status.phase!=Failed")
    assert (
        selector.requires_exact_match("spec.nodeName"),
        selector.requires_exact_match("status.phase"),
    ) == ("n1", None)


# --- properties ------------------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,8}[A-Za-z0-9])?", fullmatch=True)
keys = st.builds(
    lambda prefix, name: prefix + name, st.sampled_from(["", "example.com/", "k8s.io/"]), names
)
label_values = st.one_of(st.just(""), names)
label_dicts = st.dictionaries(keys, label_values, max_size=5)


@st.composite
def requirements(draw):
    key = draw(keys)
    operator = draw(st.sampled_from(list(Operator)))
    if operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        values = []
    elif operator in (Operator.IN, Operator.NOT_IN):
        values = sorted(draw(st.sets(label_values, min_size=1, max_size=3)))
    elif operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
        values = [str(draw(st.integers(0, 10**6)))]
    else:
        values = [draw(label_values)]
    return new_requirement(key, operator, values)


@given(st.lists(requirements(), max_size=5), label_dicts)
def test_parse_of_string_round_trips(reqs, labels):
    selector = Selector(reqs)
    parsed = parse_selector(str(selector))
    assert parsed == selector
    assert parsed.matches(labels) == selector.matches(labels)


@given(label_dicts, label_dicts)
def test_a_set_selector_matches_its_own_labels(labels, extra):
    selector = Selector.from_set(labels, validate=True)
    assert selector.matches(labels)
    assert selector.matches({**extra, **labels})
    assert LabelSelector.from_dict({"matchLabels": labels}).matches({**extra, **labels})


@given(requirements(), label_dicts)
def test_negated_operators_are_complements(requirement, labels):
    opposite = {
        "in": "notin",
        "notin": "in",
        "=": "!=",
        "==": "!=",
        "!=": "=",
        "exists": "!",
        "!": "exists",
    }
    if requirement.operator in opposite:
        negated = Requirement(requirement.key, opposite[requirement.operator], requirement.values)
        assert negated.matches(labels) != requirement.matches(labels)


@given(st.text())
def test_field_values_survive_escaping(value):
    assert unescape_field_value(escape_field_value(value)) == value
    assert parse_field_selector("f=" + escape_field_value(value)).matches({"f": value})
