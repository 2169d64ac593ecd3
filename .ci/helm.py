#!/usr/bin/env python3
"""A small `helm` for CI, offline: `helm lint` and `helm template` through helm-python-sdk.

The PyPI package helm-python-sdk ships Helm's Go SDK (v4) as a shared library (libhelm_c.so) with
a Python API and no `helm` executable; this script gives the two commands CI needs the shape of
helm's own:

    python3 .ci/helm.py lint CHART [-f VALUES]... [--set-json KEY=JSON]... [--strict] [--kube-version V]
    python3 .ci/helm.py template NAME CHART [-f VALUES]... [--set-json KEY=JSON]... [--namespace NS]
                                 [--show-only TEMPLATE] [--notes]

Values files merge as with helm (later files win, maps merge key by key, `null` removes a default),
then --set-json expressions apply. Both commands validate the values against the chart's
values.schema.json. Exit status 1 on any error (and, with --strict, on any lint warning).
No cluster and no network are involved.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import helm_python as helm

SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """helm's merge of -f files: maps merge recursively, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def user_values(args: argparse.Namespace) -> dict[str, Any] | None:
    values: dict[str, Any] = {}
    for path in args.values:
        values = merge(values, helm.values_from_yaml(Path(path).read_text()) or {})
    for expression in args.set_json:
        values = merge(values, helm.parse_set_json(expression))
    return values or None


def lint(args: argparse.Namespace) -> int:
    report = helm.lint(
        args.chart,
        user_values(args),
        strict=args.strict,
        namespace=args.namespace,
        kube_version=args.kube_version,
    )
    failing = 2 if args.strict else 3
    failed = bool(report.get("errors"))
    for message in report.get("messages") or []:
        severity = int(message.get("severity", 0))
        print(f"[{SEVERITY.get(severity, severity)}] {message.get('path')}: {message.get('error')}")
        failed = failed or severity >= failing
    for error in report.get("errors") or []:
        if not any(error == m.get("error") for m in report.get("messages") or []):
            print(f"[ERROR] {error}")
    verdict = "failed" if failed else "linted"
    print(f"1 chart(s) {verdict}: {args.chart}{' (strict)' if args.strict else ''}")
    return 1 if failed else 0


def template(args: argparse.Namespace) -> int:
    with helm.Chart.load(args.chart) as chart:
        values = user_values(args)
        chart.validate_schema(chart.merge_values(values))
        manifests = chart.render(
            values, name=args.name, namespace=args.namespace, is_install=True
        )
    if args.notes:
        notes = [text for path, text in manifests.items() if path.endswith("NOTES.txt")]
        print("\n".join(notes))
        return 0
    shown = 0
    for path in sorted(manifests):
        text = manifests[path]
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        if args.show_only and not path.endswith(args.show_only):
            continue
        shown += 1
        print(f"---\n# Source: {path}\n{text.strip()}")
    if args.show_only and not shown:
        print(f"could not find template {args.show_only} in chart", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("lint", "template"):
        command = commands.add_parser(name)
        if name == "template":
            command.add_argument("name", help="release name")
        command.add_argument("chart", help="chart directory")
        command.add_argument("-f", "--values", action="append", default=[], metavar="FILE")
        command.add_argument("--set-json", action="append", default=[], metavar="KEY=JSON")
        command.add_argument("-n", "--namespace", default="default")
        if name == "lint":
            command.add_argument("--strict", action="store_true")
            command.add_argument("--kube-version", default=None)
        else:
            command.add_argument("-s", "--show-only", default=None, metavar="TEMPLATE")
            command.add_argument("--notes", action="store_true", help="print only NOTES.txt")
    args = parser.parse_args()
    try:
        return lint(args) if args.command == "lint" else template(args)
    except helm.HelmError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
