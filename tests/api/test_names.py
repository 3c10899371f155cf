"""Name, label and port validators against upstream's cases and exact messages.

Cases come from apimachinery's pkg/util/validation/validation_test.go, ip_test.go and
pkg/api/validate/content/kube_test.go.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.api.names import (
    is_c_identifier,
    is_config_map_key,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_env_var_name,
    is_qualified_name,
    is_relaxed_env_var_name,
    is_valid_ip,
    is_valid_label_value,
    is_valid_port_name,
    is_valid_port_num,
)

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("validate", "value", "want"),
    [
        pytest.param(is_dns1123_label, "my-name", [], id="a lowercase hyphenated label is valid"),
        pytest.param(
            is_dns1123_label,
            "a.b",
            ["must not contain dots"],
            id="a label with dots is told only that",
        ),
        pytest.param(
            is_dns1123_label, "A", [LABEL_MSG], id="a label with capitals fails the pattern"
        ),
        pytest.param(
            is_dns1123_label,
            "a" * 64,
            ["must be no more than 63 characters"],
            id="a 64-character label is too long",
        ),
        pytest.param(
            is_dns1123_label,
            "a" * 63 + ".",
            ["must be no more than 63 characters", LABEL_MSG],
            id="a long label with a trailing dot gets both messages",
        ),
        pytest.param(
            is_dns1123_subdomain, "example.com", [], id="a dotted name is a valid subdomain"
        ),
        pytest.param(
            is_dns1123_subdomain, "a..b", [SUBDOMAIN_MSG], id="an empty subdomain part is invalid"
        ),
        pytest.param(
            is_dns1123_subdomain,
            "a" * 254,
            ["must be no more than 253 characters"],
            id="a 254-character subdomain is too long",
        ),
        pytest.param(
            is_dns1123_subdomain, "abc\n", [SUBDOMAIN_MSG], id="a trailing newline is not ignored"
        ),
        pytest.param(
            is_dns1035_label, "1a", [DNS1035_MSG], id="a DNS-1035 label cannot start with a digit"
        ),
        pytest.param(is_dns1035_label, "web-1", [], id="a service-style name is a DNS-1035 label"),
        pytest.param(
            is_qualified_name, "example.com/MyName", [], id="a prefixed key with capitals is valid"
        ),
        pytest.param(
            is_qualified_name,
            "only/one/slash",
            [
                "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and "
                "must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
                "or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
                "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ],
            id="two slashes get one whole-key message",
        ),
        pytest.param(
            is_qualified_name,
            "/simple",
            ["prefix part must be non-empty"],
            id="an empty prefix is invalid",
        ),
        pytest.param(
            is_qualified_name,
            "example.com/",
            ["name part must be non-empty", NAME_PART_MSG],
            id="an empty name is told both non-empty and the pattern",
        ),
        pytest.param(
            is_qualified_name,
            "Example.com/abc",
            ["prefix part " + SUBDOMAIN_MSG],
            id="a prefix with capitals is invalid",
        ),
        pytest.param(
            is_qualified_name,
            "a" * 254 + "/abc",
            ["prefix part must be no more than 253 bytes"],
            id="a prefix over 253 bytes is too long",
        ),
        pytest.param(
            is_qualified_name,
            "a" * 64,
            ["name part must be no more than 63 bytes"],
            id="a name part over 63 bytes is too long",
        ),
        pytest.param(
            is_qualified_name,
            "é" * 32,
            ["name part must be no more than 63 bytes", NAME_PART_MSG],
            id="length is counted in bytes not characters",
        ),
        pytest.param(is_valid_label_value, "", [], id="an empty label value is valid"),
        pytest.param(
            is_valid_label_value,
            "-starts-with-dash",
            [VALUE_MSG],
            id="a value cannot start with a dash",
        ),
        pytest.param(
            is_valid_label_value,
            "a" * 64,
            ["must be no more than 63 bytes"],
            id="a 64-byte value is too long",
        ),
        pytest.param(
            is_valid_port_num, 0, ["must be between 1 and 65535, inclusive"], id="port 0 is invalid"
        ),
        pytest.param(is_valid_port_num, 65535, [], id="port 65535 is valid"),
        pytest.param(
            is_valid_port_name,
            "whois++",
            ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"],
            id="a port name with plus signs is invalid",
        ),
        pytest.param(
            is_valid_port_name,
            "",
            [
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must contain at least one letter (a-z)",
            ],
            id="an empty port name breaks two rules",
        ),
        pytest.param(
            is_valid_port_name,
            "-a--",
            ["must not contain consecutive hyphens", "must not begin or end with a hyphen"],
            id="hyphen rules are reported separately",
        ),
        pytest.param(
            is_valid_port_name,
            "longerthan15characters",
            ["must be no more than 15 characters"],
            id="a port name over 15 characters is too long",
        ),
        pytest.param(
            is_c_identifier,
            "1abc",
            [
                "a valid C identifier must start with alphabetic character or '_', followed by a "
                "string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or "
                "'MyName', regex used for validation is '[A-Za-z_][A-Za-z0-9_]*')"
            ],
            id="a C identifier cannot start with a digit",
        ),
        pytest.param(
            is_relaxed_env_var_name,
            "",
            ["environment variable name must be non-empty"],
            id="an empty env var name is invalid",
        ),
        pytest.param(
            is_relaxed_env_var_name,
            "a=b",
            [
                "a valid environment variable name must consist only of printable ASCII "
                "characters other than '='"
            ],
            id="an env var name cannot contain equals",
        ),
        pytest.param(
            is_relaxed_env_var_name, "0 a", [], id="a relaxed env var name may start with a digit"
        ),
        pytest.param(
            is_env_var_name,
            "..",
            ["must not be '..'"],
            id="the strict env var rule refuses dot-dot",
        ),
        pytest.param(
            is_config_map_key,
            "..data",
            ["must not start with '..'"],
            id="a config map key cannot start with dot-dot",
        ),
    ],
)
def test_validator_messages(validate, value, want):
    assert validate(value) == want


def sentences(validate, values, verdict):
    """One param per value, with a sentence id naming the verdict."""
    name = validate.__name__.removeprefix("is_").replace("_", " ")
    params = []
    for value in values:
        shown = repr(value) if len(value) <= 20 else f"a {len(value)}-character string"
        params.append(
            pytest.param(
                validate, value, verdict, id=f"{shown} is {'' if verdict else 'not '}a {name}"
            )
        )
    return params


GOOD_LABELS = [
    "a",
    "ab",
    "abc",
    "a1",
    "a-1",
    "a--1--2--b",
    "0",
    "01",
    "012",
    "1a",
    "1-a",
    "1--a--b--2",
    "a" * 63,
]
BAD_LABELS = [
    "",
    "A",
    "ABC",
    "aBc",
    "A1",
    "A-1",
    "1-A",
    "-",
    "a-",
    "-a",
    "1-",
    "-1",
    "_",
    "a_",
    "_a",
    "a_b",
]
BAD_LABELS += [
    "1_",
    "_1",
    "1_2",
    ".",
    "a.",
    ".a",
    "a.b",
    "1.",
    ".1",
    "1.2",
    " ",
    "a ",
    " a",
    "a b",
    "a" * 64,
]
GOOD_SUBDOMAINS = [
    "a.a",
    "ab.a",
    "a--1--2--b.a",
    "a.1",
    "0.a",
    "1--a--b--2.1",
    "a.b.c.d.e",
    "1.2.3.4.5",
    "a" * 253,
]
BAD_SUBDOMAINS = [
    "a..b",
    "1..2",
    "A.a",
    "aB.a",
    "ab.A",
    "0.A",
    "a.B.c.d.e",
    "a@b",
    "a,b",
    "a;b",
    "a:b",
]
BAD_SUBDOMAINS += ["a%b", "a?b", "a$b", "a" * 254]
GOOD_1035 = ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "a" * 63]
BAD_1035 = [
    "0",
    "01",
    "012",
    "1a",
    "1-a",
    "1--a--b--2",
    "",
    "A",
    "a-",
    "-a",
    "a.b",
    "a b",
    "a" * 64,
]
GOOD_KEYS = [
    "simple",
    "now-with-dashes",
    "1-starts-with-num",
    "1234",
    "simple/simple",
    "now.with.dots/simple",
]
GOOD_KEYS += [
    "1-num.2-num/3-num",
    "1.2.3.4/5678",
    "Uppercase_Is_OK_123",
    "example.com/Uppercase_Is_OK_123",
]
GOOD_KEYS += ["requests.storage-foo", "a" * 63, "a" * 253 + "/" + "b" * 63]
BAD_KEYS = ["nospecialchars%^=@", "cantendwithadash-", "-cantstartwithadash-", "only/one/slash"]
BAD_KEYS += [
    "Example.com/abc",
    "example_com/abc",
    "example.com/",
    "/simple",
    "a" * 64,
    "a" * 254 + "/abc",
]
GOOD_VALUES = [
    "simple",
    "now-with-dashes",
    "1-starts-with-num",
    "end-with-num-1",
    "1234",
    "a" * 63,
    "",
]
BAD_VALUES = ["nospecialchars%^=@", "Tama-nui-te-rā.is.Māori.sun", "\\backslashes\\are\\bad"]
BAD_VALUES += [
    "-starts-with-dash",
    "ends-with-dash-",
    ".starts.with.dot",
    "ends.with.dot.",
    "a" * 64,
]
GOOD_PORT_NAMES = ["telnet", "re-mail-ck", "pop3", "a", "a-1", "1-a", "a-1-b-2-c", "1-a-2-b-3"]
BAD_PORT_NAMES = [
    "longerthan15characters",
    "",
    "a" * 16,
    "12345",
    "1-2-3-4",
    "-begin",
    "end-",
    "two--hyphens",
]
GOOD_RELAXED = [
    "-",
    ":",
    "_",
    "+a",
    ">a",
    "<a",
    "a.",
    "a..",
    "*a",
    "%a",
    "?a",
    "a:a",
    "a_a",
    "aAz",
    "~a",
    "|a",
]
GOOD_RELAXED += ["a0a", "a9", "/a", "a ", "#a", "0a", "0 a", "'a", "(a", "@a"]
BAD_RELAXED = [
    "",
    "=",
    "a=",
    "1=a",
    "a=b",
    "#%=&&",
    "\x01abc",
    "\x82abc",
    "Ç ç",
    "Ä ä",
    "Ñ ñ",
    "Ø ø",
]


@pytest.mark.parametrize(
    ("validate", "value", "valid"),
    sentences(is_dns1123_label, GOOD_LABELS, True)
    + sentences(is_dns1123_label, BAD_LABELS, False)
    + sentences(is_dns1123_subdomain, GOOD_LABELS + GOOD_SUBDOMAINS, True)
    + sentences(is_dns1123_subdomain, BAD_SUBDOMAINS, False)
    + sentences(is_dns1035_label, GOOD_1035, True)
    + sentences(is_dns1035_label, BAD_1035, False)
    + sentences(is_qualified_name, GOOD_KEYS, True)
    + sentences(is_qualified_name, BAD_KEYS, False)
    + sentences(is_valid_label_value, GOOD_VALUES, True)
    + sentences(is_valid_label_value, BAD_VALUES, False)
    + sentences(is_valid_port_name, GOOD_PORT_NAMES, True)
    + sentences(is_valid_port_name, BAD_PORT_NAMES, False)
    + sentences(is_relaxed_env_var_name, GOOD_RELAXED, True)
    + sentences(is_relaxed_env_var_name, BAD_RELAXED, False),
)
def test_upstream_good_and_bad_values(validate, value, valid):
    assert (validate(value) == []) is valid


@pytest.mark.parametrize(
    ("port", "valid"),
    [pytest.param(p, True, id=f"port {p} is valid") for p in (1, 2, 1000, 16384, 32768, 65535)]
    + [pytest.param(p, False, id=f"port {p} is invalid") for p in (0, -1, 65536, 100000)],
)
def test_port_numbers(port, valid):
    assert (is_valid_port_num(port) == []) is valid


@pytest.mark.parametrize(
    ("ip", "want"),
    [
        # TestIsValidIP
        pytest.param("1.2.3.4", [], id="a dotted quad is valid"),
        pytest.param("0.0.0.0", [], id="the IPv4 any address is valid"),
        pytest.param("255.255.255.255", [], id="the IPv4 broadcast address is valid"),
        pytest.param("1234::abcd", [], id="a compressed IPv6 address is valid"),
        pytest.param("::", [], id="the IPv6 any address is valid"),
        pytest.param(
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", [], id="the largest IPv6 address is valid"
        ),
        pytest.param(
            "0:0:0:0:0:0:0:0",
            ['must be in canonical form ("::")'],
            id="expanded zeros are not canonical",
        ),
        pytest.param(
            "0001:002:03:4::",
            ['must be in canonical form ("1:2:3:4::")'],
            id="IPv6 leading zeros are not canonical",
        ),
        pytest.param(
            "1234::ABCD",
            ['must be in canonical form ("1234::abcd")'],
            id="capital hex digits are not canonical",
        ),
        pytest.param(
            "1.1.1.01",
            ["must not have leading 0s"],
            id="an IPv4 octet with a leading zero is refused",
        ),
        pytest.param(
            "::ffff:1.1.1.1",
            ["must not be an IPv4-mapped IPv6 address"],
            id="an IPv4-mapped IPv6 address is refused",
        ),
        pytest.param(
            "",
            ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
            id="the empty string is not an IP",
        ),
        pytest.param(
            "myhost.mydomain",
            ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
            id="a domain name is not an IP",
        ),
        pytest.param(
            "1.2.3.0/24",
            ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
            id="a CIDR is not an IP",
        ),
        pytest.param(
            "1.2.3.400",
            ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
            id="an octet over 255 is not an IP",
        ),
        pytest.param(
            "2001:db8::10005",
            ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
            id="a five-digit hextet is not an IP",
        ),
        pytest.param(
            "1.2.3.4:80",
            ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
            id="an address with a port is not an IP",
        ),
        pytest.param(
            "[2001:db8::1]",
            ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
            id="a bracketed IPv6 is not an IP",
        ),
        pytest.param(
            "1234::abcd%eth0",
            ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
            id="an IPv6 zone is not allowed",
        ),
        pytest.param(
            "169.254.0.0%eth0",
            ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"],
            id="an IPv4 zone is not allowed",
        ),
    ],
)
def test_is_valid_ip(ip, want):
    assert is_valid_ip(ip) == want


@given(st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True))
def test_every_dns1123_label_is_a_subdomain_and_a_label_value(name):
    assert is_dns1123_label(name) == []
    assert is_dns1123_subdomain(name) == []
    assert is_valid_label_value(name) == []
