#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# promcheck.py [FILE]: checks the Prometheus text exposition format (0.0.4,
# "Exposition formats" in the Prometheus documentation) strictly, plus what
# node_exporter's textfile collector and promtool's lint ask, and prints the
# samples as JSON ({"name{label=\"v\",...}": value}, labels sorted) on
# success; exit 1 with "LINE: message" on the first fault.
#   - lines end in \n; "# HELP NAME TEXT", "# TYPE NAME TYPE", other
#     comments, or samples NAME[{LABELS}] VALUE (no timestamp: the textfile
#     collector refuses them)
#   - names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*, not
#     starting with __; label values "..." with only \\ \" \n escapes
#   - one HELP and one TYPE per family, both before its samples; a family's
#     lines are one group; no series twice; no label twice in one sample
#   - counters end in _total and are >= 0; values parse as Go floats
#   --self-test: the checker refuses broken inputs and takes a good one
import json
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|Inf|NaN)")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class Bad(Exception):
    pass


def family_of(name, types):
    """The family a sample belongs to (histogram/summary suffixes)."""
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[: -len(suf)]) in ("histogram", "summary"):
            return name[: -len(suf)]
    return name


def parse_labels(s, i, n):
    """Parse {a="b",...} starting at s[i] == '{'; returns (labels, next i)."""
    labels = {}
    i += 1
    while True:
        if s[i:i + 1] == "}":
            return labels, i + 1
        m = LABEL.match(s, i)
        if not m:
            raise Bad("%d: bad label name at %r" % (n, s[i:i + 20]))
        name = m.group(0)
        if name.startswith("__"):
            raise Bad("%d: label %s is reserved" % (n, name))
        if name in labels:
            raise Bad("%d: label %s twice" % (n, name))
        i = m.end()
        if s[i:i + 2] != '="':
            raise Bad("%d: label %s: no =\"" % (n, name))
        i += 2
        val = []
        while True:
            if i >= len(s):
                raise Bad("%d: label %s: unterminated value" % (n, name))
            c = s[i]
            if c == '"':
                i += 1
                break
            if c == "\\":
                e = s[i + 1:i + 2]
                if e not in ("\\", '"', "n"):
                    raise Bad("%d: label %s: bad escape \\%s" % (n, name, e))
                val.append("\n" if e == "n" else e)
                i += 2
                continue
            val.append(c)
            i += 1
        labels[name] = "".join(val)
        if s[i:i + 1] == ",":
            i += 1
        elif s[i:i + 1] != "}":
            raise Bad("%d: after label %s: %r" % (n, name, s[i:i + 10]))


def check(text):
    if text and not text.endswith("\n"):
        raise Bad("the last line has no newline")
    helps, types, done, sampled, series = {}, {}, set(), set(), {}
    current = None
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME.fullmatch(name):
                    raise Bad("%d: bad metric name %r" % (n, name))
                table = helps if parts[1] == "HELP" else types
                if name in table:
                    raise Bad("%d: second %s for %s" % (n, parts[1], name))
                if name in done or name in sampled:
                    raise Bad("%d: %s for %s after its samples" % (n, parts[1], name))
                if parts[1] == "TYPE":
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise Bad("%d: bad type %r" % (n, line))
                    types[name] = parts[3]
                else:
                    help_text = parts[3] if len(parts) == 4 else ""
                    if re.search(r"\\[^\\n]", help_text):
                        raise Bad("%d: bad escape in HELP" % n)
                    helps[name] = help_text
                if current != name:
                    if current is not None:
                        done.add(current)
                    current = name
            continue
        m = NAME.match(line)
        if not m:
            raise Bad("%d: bad metric name in %r" % (n, line[:40]))
        name, i = m.group(0), m.end()
        labels = {}
        if line[i:i + 1] == "{":
            labels, i = parse_labels(line, i, n)
        rest = line[i:].split(" ")
        if len(rest) < 2 or rest[0] != "" or len(rest) > 2:
            raise Bad("%d: want one space and a value, no timestamp: %r" % (n, line[i:]))
        if not FLOAT.fullmatch(rest[1]):
            raise Bad("%d: bad value %r" % (n, rest[1]))
        fam = family_of(name, types)
        if fam != current:
            if fam in done or fam in helps or fam in types:
                raise Bad("%d: %s: its family's lines are not one group" % (n, name))
            if current is not None:
                done.add(current)
            current = fam
        sampled.add(fam)
        typ = types.get(fam, "untyped")
        if typ == "counter":
            if not name.endswith("_total"):
                raise Bad("%d: counter %s does not end in _total" % (n, name))
            if float(rest[1]) < 0:
                raise Bad("%d: counter %s is negative" % (n, name))
        key = name + "{" + ",".join('%s="%s"' % (k, labels[k]) for k in sorted(labels)) + "}"
        if key in series:
            raise Bad("%d: series %s twice" % (n, key))
        series[key] = float(rest[1])
    for name in types:
        if name not in helps:
            raise Bad("%s has a TYPE and no HELP" % name)
    return series


SELF_TEST_GOOD = (
    '# HELP a_total A thing.\n# TYPE a_total counter\n'
    'a_total{interface="gw0",peer="x\\\\y\\"z\\n"} 3\na_total{interface="gw1"} 0\n'
    '# HELP b B.\n# TYPE b gauge\nb 1.5e3\n')
SELF_TEST_BAD = [
    SELF_TEST_GOOD[:-1],                                            # no newline
    SELF_TEST_GOOD + 'a_total{interface="gw2"} 1\n',                # not one group
    SELF_TEST_GOOD.replace("gw1", "gw0\\t"),                        # bad escape
    SELF_TEST_GOOD.replace('a_total{interface="gw1"}', 'a_total{interface="gw0",peer="x\\\\y\\"z\\n"}'),
    SELF_TEST_GOOD.replace("b 1.5e3", "b 1.5e3 1700000000000"),     # timestamp
    SELF_TEST_GOOD.replace("# TYPE b gauge\nb 1", "# TYPE b gauge\n1b 1"),
    SELF_TEST_GOOD.replace("a_total counter", "a_total counter\n# TYPE a_total gauge"),
    SELF_TEST_GOOD.replace("a_total", "a_count"),                   # counter without _total
    SELF_TEST_GOOD.replace("interface=", "__interface="),
    SELF_TEST_GOOD.replace("b 1.5e3", "b one"),
    SELF_TEST_GOOD.replace('{interface="gw1"}', '{interface="gw1",interface="gw2"}'),
    SELF_TEST_GOOD.replace("# HELP b B.\n# TYPE b gauge\nb 1.5e3", "b 1.5e3\n# HELP b B.\n# TYPE b gauge"),
]


def main():
    if sys.argv[1:] == ["--self-test"]:
        check(SELF_TEST_GOOD)
        for i, t in enumerate(SELF_TEST_BAD):
            try:
                check(t)
            except Bad:
                continue
            print("self-test: bad input %d passed" % i, file=sys.stderr)
            return 1
        print("self-test: ok")
        return 0
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    try:
        series = check(text)
    except Bad as e:
        print(e, file=sys.stderr)
        return 1
    json.dump(series, sys.stdout, indent=1, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
