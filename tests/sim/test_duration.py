import pytest
from hypothesis import given
from hypothesis import strategies as st

from kube_teach.sim.duration import (
    DurationError,
    format_duration,
    parse_duration,
)

MS, S, M, H = 10**6, 10**9, 60 * 10**9, 3600 * 10**9


# Cases from Go's time.ParseDuration tests (parseDurationTests).
@pytest.mark.parametrize(
    ("text", "ns"),
    [
        pytest.param("0", 0, id="a bare zero needs no unit"),
        pytest.param("5s", 5 * S, id="seconds"),
        pytest.param("30s", 30 * S, id="two-digit seconds"),
        pytest.param("1478s", 1478 * S, id="many seconds"),
        pytest.param("-5s", -5 * S, id="a minus sign"),
        pytest.param("+5s", 5 * S, id="a plus sign"),
        pytest.param("-0", 0, id="minus zero"),
        pytest.param("5.0s", 5 * S, id="a zero fraction"),
        pytest.param("5.6s", 5 * S + 600 * MS, id="a fraction of a second"),
        pytest.param("5.s", 5 * S, id="a trailing dot"),
        pytest.param(".5s", 500 * MS, id="a leading dot"),
        pytest.param("1.004s", 1 * S + 4 * MS, id="milliseconds as a fraction"),
        pytest.param("100.00100s", 100 * S + 1 * MS, id="trailing zeros in the fraction"),
        pytest.param("10ns", 10, id="nanoseconds"),
        pytest.param("11us", 11_000, id="microseconds spelt us"),
        pytest.param("12µs", 12_000, id="microseconds with the micro sign"),
        pytest.param("12μs", 12_000, id="microseconds with the Greek mu"),
        pytest.param("13ms", 13 * MS, id="milliseconds"),
        pytest.param("15m", 15 * M, id="minutes"),
        pytest.param("16h", 16 * H, id="hours"),
        pytest.param("3h30m", 3 * H + 30 * M, id="hours and minutes"),
        pytest.param("10.5s4m", 4 * M + 10 * S + 500 * MS, id="units in any order"),
        pytest.param("-2m3.4s", -(2 * M + 3 * S + 400 * MS), id="negative compound"),
        pytest.param("1h2m3s4ms5us6ns", H + 2 * M + 3 * S + 4 * MS + 5006, id="every unit"),
        pytest.param("39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS, id="a long one"),
        pytest.param("0.3333333333333333333h", 20 * M, id="fractional nanoseconds truncate"),
        pytest.param("9223372036854775807ns", 2**63 - 1, id="the largest duration"),
    ],
)
def test_parse_duration(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", 'time: invalid duration ""', id="empty"),
        pytest.param("3", 'time: missing unit in duration "3"', id="a number without unit"),
        pytest.param("-", 'time: invalid duration "-"', id="only a sign"),
        pytest.param("s", 'time: invalid duration "s"', id="only a unit"),
        pytest.param(".", 'time: invalid duration "."', id="only a dot"),
        pytest.param("-.", 'time: invalid duration "-."', id="sign and dot"),
        pytest.param(".s", 'time: invalid duration ".s"', id="dot and unit"),
        pytest.param("1d", 'time: unknown unit "d" in duration "1d"', id="days are no unit"),
        pytest.param(
            "9223372036854775808ns",
            'time: invalid duration "9223372036854775808ns"',
            id="one past the largest",
        ),
    ],
)
def test_parse_duration_errors(text, message):
    with pytest.raises(DurationError) as err:
        parse_duration(text)
    assert str(err.value) == message


# Cases from Go's durationTests for Duration.String().
@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1100, "1.1µs"),
        (2200 * 1000, "2.2ms"),
        (3300 * MS, "3.3s"),
        (4 * M + 5 * S, "4m5s"),
        (4 * M + 5001 * MS, "4m5.001s"),
        (5 * H + 6 * M + 7001 * MS, "5h6m7.001s"),
        (8 * M + 1, "8m0.000000001s"),
        (-1, "-1ns"),
        (100 * MS, "100ms"),
        (H, "1h0m0s"),
    ],
)
def test_format_duration(ns, text):
    assert format_duration(ns) == text


@given(st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1))
def test_format_then_parse_round_trips(ns):
    assert parse_duration(format_duration(ns)) == ns
