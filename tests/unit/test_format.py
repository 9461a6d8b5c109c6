"""--format: Go templates, docker's tables and units, checked against the seeds' outputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lamina.errors import InvalidArgument
from lamina.format import table
from lamina.format.template import compile_template
from lamina.format.units import (
    created_since,
    format_rfc3339nano,
    human_duration,
    human_size,
    parse_size,
    parse_time,
)

# seed 002's `docker image inspect` subjects, trimmed to the fields its examples use
WEBSVR = {
    "Id": "sha256:dce7086f0579209099b9e686eeeeaf52449ec82ddbeffe1b7fcc05071848d37",
    "RepoTags": ["lab/websvr:v0.2", "problems:bad-web-server", "websvr:latest"],
    "Parent": "sha256:2392c04e694138e499490491efccae406a2fea5e487c47498ada2ef281d7f136",
    "Size": 195428379,
    "Config": {
        "ExposedPorts": {"80/tcp": {}},
        "Env": ["PATH=/usr/local/apache2/bin:/usr/local/sbin", "HTTPD_PREFIX=/usr/local/apache2"],
        "Cmd": ["httpd-foreground"],
        "WorkingDir": "/usr/local/apache2",
        "Labels": {"build-date": "20160729", "license": "GPLv2", "name": "CentOS Base Image", "vendor": "CentOS"},
    },
}


def render(text: str, data=WEBSVR) -> str:
    return compile_template(text).render(data)


@pytest.mark.parametrize(
    "fmt, expected",
    [
        ("{{.Id}}", WEBSVR["Id"]),
        ("{{.RepoTags}}", "[lab/websvr:v0.2 problems:bad-web-server websvr:latest]"),
        ("{{.Parent}}", WEBSVR["Parent"]),
        ("{{.Size}}", "195428379"),
        ("{{.Config.ExposedPorts}}", "map[80/tcp:{}]"),
        ("{{.Config.Env}}", "[PATH=/usr/local/apache2/bin:/usr/local/sbin HTTPD_PREFIX=/usr/local/apache2]"),
        ("{{.Config.Cmd}}", "[httpd-foreground]"),
        ("{{.Config.WorkingDir}}", "/usr/local/apache2"),
        (
            "{{json .Config.Labels}}",
            '{"build-date":"20160729","license":"GPLv2","name":"CentOS Base Image","vendor":"CentOS"}',
        ),
    ],
)
def test_seed_002_inspect_examples(fmt, expected):
    assert render(fmt) == expected


def test_seed_002_range_example_with_a_declared_newline():
    fmt = '{{range $t := .RepoTags}}TAG: {{$t}}{{"\\n"}}{{end}}Total: {{len .RepoTags}}'
    assert render(fmt) == "TAG: lab/websvr:v0.2\nTAG: problems:bad-web-server\nTAG: websvr:latest\nTotal: 3"


def test_seed_002_range_example_as_printed_is_a_go_parse_error():
    # the seed writes {{$n}} without declaring it; Go (and so docker) refuses to parse that
    with pytest.raises(InvalidArgument, match='undefined variable "\\$n"'):
        compile_template("{{range $t := .RepoTags}}TAG: {{$t}}{{$n}}{{end}}Total: {{len .RepoTags}}")


def test_seed_002_images_format_keeps_tabs_without_table():
    rows = [{"Repository": "sam/thriftdev", "Tag": "0.9.1", "Size": "290 MB"}]
    out = table.render("{{.Repository}}\\t{{.Tag}}/t{{.Size}}", rows, "table {{.ID}}", {})
    assert out == "sam/thriftdev\t0.9.1/t290 MB\n"


def test_seed_001_image_table_layout():
    rows = [
        {"Repository": "docker.io/httpd-modified", "Tag": "latest", "ID": "551df82cb2b7", "CreatedSince": "6 seconds ago", "Size": "166 MB"},
        {"Repository": "docker.io/httpd", "Tag": "latest", "ID": "bdc169d27d36", "CreatedSince": "11 days ago", "Size": "166 MB"},
    ]
    headers = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED", "Size": "SIZE"}
    out = table.render(None, rows, "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}", headers)
    assert out.splitlines() == [
        "REPOSITORY                 TAG                 IMAGE ID            CREATED             SIZE",
        "docker.io/httpd-modified   latest              551df82cb2b7        6 seconds ago       166 MB",
        "docker.io/httpd            latest              bdc169d27d36        11 days ago         166 MB",
    ]


def test_table_with_no_rows_prints_header_and_unknown_fields_upper_case():
    assert table.render("table {{.ID}}\t{{.Foo}}", [], "", {"ID": "IMAGE ID"}) == "IMAGE ID            FOO\n"


def test_tabwriter_column_blocks_end_at_a_line_without_the_cell():
    out = table.tabwrite(["a\tb\n", "longer-than-twenty-chars\tc\n", "no tabs here\n", "x\ty\n"])
    assert out.splitlines() == [
        "a                          b",
        "longer-than-twenty-chars   c",
        "no tabs here",
        "x                   y",
    ]


@pytest.mark.parametrize(
    "fmt, expected",
    [
        ("{{range $i, $v := .L}}{{$i}}:{{$v}} {{end}}", "0:a 1:b "),
        ("{{range .Empty}}x{{else}}none{{end}}", "none"),
        ("{{range $k, $v := .M}}{{$k}}={{$v}},{{end}}", "a=2,b=1,"),
        ("{{if .Empty}}y{{else if .L}}l{{else}}n{{end}}", "l"),
        ("{{with .M}}{{.a}}{{end}}", "2"),
        ("{{with .Nope}}x{{else}}empty{{end}}", "empty"),
        ("{{$x := 5}}{{if gt $x 3}}big{{end}}", "big"),
        ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
        ("{{index .M \"b\"}}", "1"),
        ("{{join .L \",\" | upper}}", "A,B"),
        ("{{printf \"%s-%03d-%v-%q\" \"x\" 7 true \"y\"}}", 'x-007-true-"y"'),
        ("{{print 1 2 \"a\" 3}}", "1 2a3"),
        ("{{len .L}} {{len .M}} {{len \"abc\"}}", "2 2 3"),
        ("{{split \"a,b,c\" \",\"}}", "[a b c]"),
        ("{{lower \"AbC\"}}{{title \"hello world\"}}", "abcHello World"),
        ("{{truncate \"abcdef\" 3}}|{{pad \"x\" 1 2}}|", "abc| x  |"),
        ("{{json .}}", '{"L":["a","b"],"M":{"b":1,"a":2},"Empty":[],"Html":"<a&b>","F":1.5,"N":null}'),
        ("{{.Html}} {{html .Html}}", "<a&b> &lt;a&amp;b&gt;"),
        ("{{.F}} {{.N}} {{not .N}}", "1.5 <no value> true"),
        ("{{and 1 0}} {{or 0 \"x\"}} {{eq 1 2 1}} {{ne 1 2}}", "0 x true true"),
        ("{{range .L}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}", "a"),
        ("{{range .L}}{{if eq . \"a\"}}{{continue}}{{end}}{{.}}{{end}}", "b"),
        ("a {{- \" b \" -}} c", "a b c"),
        ("{{/* comment */}}x{{- /* trimmed */ -}} y", "xy"),
        ("{{(index .L 1)}}{{$.F}}", "b1.5"),
        ("{{slice .L 1}}", "[b]"),
    ],
)
def test_go_template_features(fmt, expected):
    data = {"L": ["a", "b"], "M": {"b": 1, "a": 2}, "Empty": [], "Html": "<a&b>", "F": 1.5, "N": None}
    assert render(fmt, data) == expected


@pytest.mark.parametrize(
    "fmt", ["{{.A", "{{foo}}", "{{end}}", "{{if .A}}x", "{{$x}}", "{{range .A}}{{else}}{{else}}{{end}}", "{{)}}"]
)
def test_parse_errors_are_one_line_invalid_argument(fmt):
    with pytest.raises(InvalidArgument) as err:
        compile_template(fmt)
    assert str(err.value).startswith("template parsing error: template: :1:")
    assert "\n" not in str(err.value)


def test_execution_errors_name_the_problem():
    with pytest.raises(InvalidArgument, match="index out of range"):
        render("{{index .L 5}}", {"L": []})
    with pytest.raises(InvalidArgument, match="can't evaluate field X"):
        render("{{.S.X}}", {"S": "text"})
    with pytest.raises(InvalidArgument, match="nil pointer"):
        render("{{.Missing.X}}", {})


@pytest.mark.parametrize(
    "size, expected",
    [(0, "0 B"), (999, "999 B"), (1840, "1.84 kB"), (193_000_000, "193 MB"), (289_100_000, "289.1 MB"), (7_740_000, "7.74 MB"), (2.5e12, "2.5 TB")],
)
def test_human_size_matches_the_seeds(size, expected):
    assert human_size(size) == expected


@pytest.mark.parametrize(
    "seconds, expected",
    [
        (0.5, "Less than a second"),
        (1, "1 second"),
        (6, "6 seconds"),
        (60, "About a minute"),
        (11 * 60, "11 minutes"),
        (3600, "About an hour"),
        (5 * 3600, "5 hours"),
        (6 * 86400, "6 days"),
        (12 * 86400, "12 days"),
        (21 * 86400, "3 weeks"),
        (65 * 86400, "2 months"),
        (14 * 30 * 86400, "14 months"),
        (3 * 365 * 86400, "3 years"),
    ],
)
def test_human_duration_thresholds(seconds, expected):
    assert human_duration(seconds) == expected


def test_times():
    moment = parse_time("2016-07-29T12:34:56.123456789Z")
    assert moment == datetime(2016, 7, 29, 12, 34, 56, 123456, UTC)
    assert parse_time("2016-07-29T14:34:56+02:00") == datetime(2016, 7, 29, 12, 34, 56, tzinfo=UTC)
    assert created_since(moment, moment + timedelta(days=21)) == "3 weeks ago"
    assert format_rfc3339nano(datetime(2020, 1, 2, 3, 4, 5, 120000, UTC)) == "2020-01-02T03:04:05.12Z"
    with pytest.raises(InvalidArgument):
        parse_time("yesterday")


def test_parse_size():
    assert parse_size("512k") == 512 * 1024
    assert parse_size("1.5GB") == int(1.5 * (1 << 30))
    assert parse_size("100") == 100
    with pytest.raises(InvalidArgument):
        parse_size("ten megs")


def test_format_json_is_dockers_shorthand_for_json_dot():
    rows = [{"Repository": "a", "Tag": "1"}, {"Repository": "b", "Tag": "2"}]
    out = table.render(" json ", rows, "table {{.Repository}}\t{{.Tag}}")
    assert out == '{"Repository":"a","Tag":"1"}\n{"Repository":"b","Tag":"2"}\n'


def test_go_durations_and_docker_timestamps():
    from lamina.format.units import parse_go_duration, parse_timestamp_filter

    assert parse_go_duration("1h30m") == 5400 and parse_go_duration("1.5s") == 1.5
    assert parse_go_duration("-2h") == -7200 and parse_go_duration("250ms") == 0.25
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    assert parse_timestamp_filter("24h", now) == now.timestamp() - 86400
    assert parse_timestamp_filter("1700000000.5", now) == 1700000000.5
    assert parse_timestamp_filter("2024-01-01T00:00:00Z", now) == 1704067200
    for bad in ("", "h", "10x", "1h30", "yesterday"):
        with pytest.raises(InvalidArgument):
            parse_timestamp_filter(bad, now)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kolkata"])
def test_created_at_is_go_time_string_in_local_time(monkeypatch, zone):
    """format_time_created_at (from Unix seconds, no datetime) matches the datetime reading of
    Go's Time.String(): whole seconds, local offset and zone name."""
    import time
    from datetime import UTC, datetime

    from lamina.format.units import format_time_created_at

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        for ts in (0.0, 1_700_000_000.999999, 1_719_792_000.5, 946_684_799.0, -86_400.25):
            local = datetime.fromtimestamp(ts, UTC).replace(microsecond=0).astimezone()
            expected = f"{local:%Y-%m-%d %H:%M:%S} {local.strftime('%z')} {local.tzname()}"
            assert format_time_created_at(ts) == expected
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_plain_time_reads_what_the_time_pattern_reads():
    """``parse_time``'s re-free path (the lean ``history``) accepts only what the pattern
    accepts and reads the same fields; everything else is the pattern's to decide."""
    import random

    from lamina.format import units

    rng = random.Random(3)
    pattern = units._rx(units._TIME_RE)
    samples = ["2020-05-05T05:05:05.123456789Z", "2017-01-01T00:00:00Z", "2017-01-01 00:00:00+05:30",
               "2017-01-01t00:00:00.1z", "2017-01-01T00:00:00.Z", "2017-01-01T00:00:00.1234567890Z",
               "2017-01-01T00:00:00-0530", "２０17-01-01T00:00:00Z", "2017-01-01T00:00:00Z\n", " 2017-01-01T00:00:00Z"]
    pieces = "0123456789-:.TtZz +٣"
    base = list("2017-01-01T00:00:00.123Z")
    for _ in range(5000):
        text = base[:]
        for _ in range(rng.randint(1, 3)):
            text[rng.randrange(len(text))] = rng.choice(pieces)
        samples.append("".join(text)[: rng.randint(18, len(text))])
    for text in samples:
        plain = units._plain_time(text.strip())
        match = pattern.match(text.strip())
        if plain is not None:
            assert match is not None and plain == match.groups(), text
    accepted = sum(units._plain_time(t.strip()) is not None for t in samples)
    assert accepted > 100  # the common shapes really take the plain path
