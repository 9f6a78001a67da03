"""Test results as JUnit XML, the report CI systems read.

A result is a case's dictionary as ``python -m engine test --json`` writes it and a test run
keeps it (``name``, ``status``, ``file``, ``line``, ``failure``, ``skipped``, ``seconds``,
``events``): the engine's command line and Studio's `manage.py run_tests` write the same report.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

__all__ = ["junit_report"]

#: Characters XML 1.0 cannot hold (control characters but tab, newline and carriage return).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _failure_text(case: Mapping[str, Any]) -> str:
    failure = case.get("failure") or {}
    lines = [str(failure.get("message") or "")]
    if failure.get("line") is not None and case.get("file"):
        lines.append(f"at {case['file']}:{failure['line']}")
    for key in ("expected", "actual"):
        if failure.get(key) is not None:
            lines.append(f"{key}: {json.dumps(failure[key], default=str)}")
    if failure.get("events"):
        lines.append("events of the turn:")
        lines.extend(f"  {line}" for line in failure["events"])
    if case.get("events"):
        lines.append("the conversation:")
        lines.extend(f"  {line}" for line in case["events"])
    return _xml("\n".join(lines))


def junit_report(suites: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> bytes:
    """Result lists (e2e cases, test stories...) as one JUnit XML report: a ``testsuite`` per
    ``(name, results)``, totals on ``testsuites``; one ``testcase`` per result (its class name
    is the test file's name), with a ``failure`` or ``skipped`` element when it did not pass."""
    everything = [case for _, cases in suites for case in cases]
    root = ET.Element("testsuites", tests=str(len(everything)))
    root.set("failures", str(sum(c.get("status") == "failed" for c in everything)))
    root.set("errors", "0")
    root.set("skipped", str(sum(c.get("status") == "skipped" for c in everything)))
    for suite, cases in suites:
        _suite(root, suite, cases)
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text + b"\n"


def _suite(root: ET.Element, suite: str, cases: Sequence[Mapping[str, Any]]) -> None:
    element = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)))
    element.set("failures", str(sum(c.get("status") == "failed" for c in cases)))
    element.set("errors", "0")
    element.set("skipped", str(sum(c.get("status") == "skipped" for c in cases)))
    for case in cases:
        file = str(case.get("file") or "")
        item = ET.SubElement(element, "testcase", name=_xml(case.get("name", "")))
        item.set("classname", _xml(PurePosixPath(file).name) if file else suite)
        if file:
            item.set("file", _xml(file))
        if case.get("line") is not None:
            item.set("line", str(case["line"]))
        item.set("time", f"{float(case.get('seconds') or 0):.3f}")
        if case.get("status") == "failed":
            failure = ET.SubElement(item, "failure", type="AssertionError")
            message = (case.get("failure") or {}).get("message") or "failed"
            failure.set("message", _xml(message))
            failure.text = _failure_text(case)
        elif case.get("status") == "skipped":
            ET.SubElement(item, "skipped", message=_xml("; ".join(case.get("skipped") or [])))
