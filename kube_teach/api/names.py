"""Validators for names, label keys and values, ports, env var names and IPs.

Semantics: apimachinery's pkg/util/validation (validation.go, ip.go) and the
pkg/api/validate/content helpers it now forwards to. Each validator returns upstream's
messages word for word; an empty list means valid. Note the unit in length errors:
util/validation says "characters", the content helpers (label keys and values) say "bytes".
"""

from __future__ import annotations

import ipaddress
import re

__all__ = [
    "DNS1035_LABEL_MAX_LENGTH",
    "DNS1123_LABEL_MAX_LENGTH",
    "DNS1123_SUBDOMAIN_MAX_LENGTH",
    "LABEL_VALUE_MAX_LENGTH",
    "QUALIFIED_NAME_MAX_LENGTH",
    "empty_error",
    "inclusive_range_error",
    "is_c_identifier",
    "is_config_map_key",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_env_var_name",
    "is_label_key",
    "is_qualified_name",
    "is_relaxed_env_var_name",
    "is_valid_ip",
    "is_valid_label_value",
    "is_valid_port_name",
    "is_valid_port_num",
    "max_len_error",
    "regex_error",
]

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
QUALIFIED_NAME_MAX_LENGTH = 63  # the name part of a label key

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _LABEL_KEY_FMT + ")?"
_C_IDENTIFIER_FMT = "[A-Za-z_][A-Za-z0-9_]*"
_ENV_VAR_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_C_IDENTIFIER_MSG = (
    "a valid C identifier must start with alphabetic character or '_', "
    "followed by a string of alphanumeric characters or '_'"
)
_ENV_VAR_NAME_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, "
    "'_', '-', or '.', and must not start with a digit"
)
_RELAXED_ENV_VAR_NAME_MSG = "a valid environment variable name must consist only of printable ASCII characters other than '='"
_CONFIG_MAP_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"

# Go's regexp anchors "^...$" match the whole text only, so fullmatch, never re.match + "$"
# (Python's "$" would also accept a trailing newline).
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(_DNS1035_LABEL_FMT)
_LABEL_KEY_RE = re.compile(_LABEL_KEY_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_C_IDENTIFIER_RE = re.compile(_C_IDENTIFIER_FMT)
_ENV_VAR_NAME_RE = re.compile(_ENV_VAR_NAME_FMT)
_CONFIG_MAP_KEY_RE = re.compile(_CONFIG_MAP_KEY_FMT)
_PORT_NAME_CHARSET_RE = re.compile("[-a-z0-9]+")
_PORT_NAME_LETTER_RE = re.compile("[a-z]")


def max_len_error(length: int) -> str:
    """util/validation's "too long" message. It says "characters" though Go counts UTF-8 bytes."""
    return f"must be no more than {length} characters"


def _content_max_len_error(length: int) -> str:
    # pkg/api/validate/content words the same check in bytes.
    return f"must be no more than {length} bytes"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """A failed-pattern message: `msg (e.g. 'a',  or 'b', regex used for validation is 'fmt')`.

    The doubled space before "or" is upstream's, and kept.
    """
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def empty_error() -> str:
    """The message for a value that must not be empty."""
    return "must be non-empty"


def inclusive_range_error(lo: int, hi: int) -> str:
    """The message for a number outside [lo, hi]."""
    return f"must be between {lo} and {hi}, inclusive"


def _byte_len(value: str) -> int:
    # Go's len() counts bytes, so "é" is 2 long.
    return len(value.encode("utf-8", "surrogatepass"))


def is_dns1123_label(value: str) -> list[str]:
    """Errors for an RFC 1123 label (Namespace names, ...): at most 63, `[a-z0-9]`, inner `-`.

    A value that is a valid subdomain but not a label is told only "must not contain dots".
    """
    errs = []
    if _byte_len(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            # Length was already reported, so what is left is the dots.
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """Errors for an RFC 1123 subdomain (most object names): at most 253, dot-separated labels."""
    errs = []
    if _byte_len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def _content_dns1123_subdomain(value: str) -> list[str]:
    # The copy in pkg/api/validate/content, used for label-key prefixes: same rule, "bytes".
    errs = []
    if _byte_len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(_content_max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    """Errors for an RFC 1035 label (Service names): at most 63, must start with a letter."""
    errs = []
    if _byte_len(value) > DNS1035_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if not _DNS1035_LABEL_RE.fullmatch(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """Errors for a label or annotation key: `[prefix/]name`.

    name: 1-63 bytes of `[A-Za-z0-9._-]`, alphanumeric at both ends. prefix: a non-empty
    lowercase DNS-1123 subdomain. More than one "/" gets a single whole-key message. Each
    failure is reported, so "example.com/" is told both "non-empty" and the pattern.
    """
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend("prefix part " + msg for msg in _content_dns1123_subdomain(prefix))
    else:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + empty_error())
    elif _byte_len(name) > QUALIFIED_NAME_MAX_LENGTH:
        errs.append("name part " + _content_max_len_error(QUALIFIED_NAME_MAX_LENGTH))
    if not _LABEL_KEY_RE.fullmatch(name):
        errs.append(
            "name part "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


is_label_key = is_qualified_name  # content.IsLabelKey, the name upstream now prefers


def is_valid_label_value(value: str) -> list[str]:
    """Errors for a label value: empty, or 1-63 bytes shaped like a key's name part."""
    errs = []
    if _byte_len(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(_content_max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_valid_port_num(port: int) -> list[str]:
    """Errors for a port number, which must be in 1..65535."""
    if 1 <= port <= 65535:
        return []
    return [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    """Errors for a named port (IANA_SVC_NAME): at most 15 of `[-a-z0-9]`, at least one letter,
    no leading, trailing or doubled hyphen. Every rule broken adds its own message."""
    errs = []
    if _byte_len(port) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARSET_RE.fullmatch(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_LETTER_RE.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_c_identifier(value: str) -> list[str]:
    """Errors for a C identifier, `[A-Za-z_][A-Za-z0-9_]*` (format only, no length limit).

    Container env var names no longer use this rule: see `is_relaxed_env_var_name`.
    """
    if _C_IDENTIFIER_RE.fullmatch(value):
        return []
    return [regex_error(_C_IDENTIFIER_MSG, _C_IDENTIFIER_FMT, "my_name", "MY_NAME", "MyName")]


def _chdir_prefix_errors(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def is_env_var_name(value: str) -> list[str]:
    """Errors under the legacy, strict env var name rule `[-._a-zA-Z][-._a-zA-Z0-9]*`.

    The API server applied this only while the RelaxedEnvironmentVariableValidation gate was
    off; the gate is GA and locked on since Kubernetes 1.34, so pods are now checked with
    `is_relaxed_env_var_name`. Kept for teaching the old rule.
    """
    errs = []
    if not _ENV_VAR_NAME_RE.fullmatch(value):
        errs.append(
            regex_error(
                _ENV_VAR_NAME_MSG, _ENV_VAR_NAME_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1"
            )
        )
    errs.extend(_chdir_prefix_errors(value))
    return errs


def is_relaxed_env_var_name(value: str) -> list[str]:
    """Errors for a container env var name as validated today: non-empty, printable ASCII
    (space included), no "=". At most one message per rule."""
    errs = []
    if not value:
        errs.append("environment variable name " + empty_error())
    if any(not (" " <= ch <= "~") or ch == "=" for ch in value):
        errs.append(_RELAXED_ENV_VAR_NAME_MSG)
    return errs


def is_config_map_key(value: str) -> list[str]:
    """Errors for a ConfigMap or Secret data key: at most 253 of `[-._a-zA-Z0-9]`, not "." or
    "..", and not starting with ".."."""
    errs = []
    if _byte_len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _CONFIG_MAP_KEY_RE.fullmatch(value):
        errs.append(
            regex_error(
                _CONFIG_MAP_KEY_MSG, _CONFIG_MAP_KEY_FMT, "key.name", "KEY_NAME", "key-name"
            )
        )
    errs.extend(_chdir_prefix_errors(value))
    return errs


_IPV4_SLOPPY_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")


def _parse_ipv4_sloppy(text: str) -> tuple[int, bool] | None:
    # Kubernetes' ParseIPSloppy takes decimal octets with leading zeros ("010" is ten).
    # Returns the address and whether any octet had a leading zero.
    if not text.isascii() or not _IPV4_SLOPPY_RE.fullmatch(text):
        return None
    octets = text.split(".")
    if any(int(octet) > 255 for octet in octets):
        return None
    value = 0
    for octet in octets:
        value = value * 256 + int(octet)
    leading_zero = any(len(octet) > 1 and octet[0] == "0" for octet in octets)
    return value, leading_zero


def _parse_ip_sloppy(
    text: str,
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, bool] | None:
    if ":" not in text:
        parsed = _parse_ipv4_sloppy(text)
        return None if parsed is None else (ipaddress.IPv4Address(parsed[0]), parsed[1])
    if "%" in text or not text.isascii():  # no zones, as net.ParseIP
        return None
    head, _, tail = text.rpartition(":")
    leading_zero = False
    if "." in tail:  # an embedded IPv4 tail is parsed sloppily too
        parsed = _parse_ipv4_sloppy(tail)
        if parsed is None:
            return None
        leading_zero = parsed[1]
        text = f"{head}:{parsed[0] >> 16:x}:{parsed[0] & 0xFFFF:x}"
    try:
        return ipaddress.IPv6Address(text), leading_zero
    except ValueError:
        return None


def is_valid_ip(value: str) -> list[str]:
    """Errors for an IP address in a new-style API field (upstream's IsValidIP, strict form).

    Rejected: anything that is not an IPv4 or IPv6 address (zones, ports, brackets and CIDRs
    included); IPv4 octets with leading zeros; IPv4-mapped IPv6 ("::ffff:1.2.3.4"); and then
    any non-canonical spelling ("must be in canonical form ("::")"). Messages are the field
    error details, without the path.
    """
    parsed = _parse_ip_sloppy(value)
    if parsed is None:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    ip, leading_zero = parsed
    errs = []
    if leading_zero:
        errs.append("must not have leading 0s")
    elif isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        errs.append("must not be an IPv4-mapped IPv6 address")
    if errs:
        return errs
    # Go prints IPv6 per RFC 5952, as Python's compressed form does.
    canonical = str(ip)
    if value != canonical:
        errs.append(f'must be in canonical form ("{canonical}")')
    return errs
