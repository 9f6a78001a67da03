"""A finished test run's results as JUnit XML (what CI systems read)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: Any) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _failure_text(case: dict[str, Any]) -> str:
    failure = case.get("failure") or {}
    lines = [str(failure.get("message") or "")]
    if failure.get("line") is not None:
        lines.append(f"at {case.get('path') or case.get('file')}:{failure['line']}")
    for key in ("expected", "actual"):
        if failure.get(key) is not None:
            lines.append(f"{key}: {json.dumps(failure[key], default=str)}")
    if case.get("events"):
        lines.append("the conversation:")
        lines.extend(f"  {line}" for line in case["events"])
    return _xml("\n".join(lines))


def junit_xml(cases: Iterable[dict[str, Any]], suite: str = "e2e") -> bytes:
    """One ``testcase`` per case (its class name is the test file), with a ``failure`` or
    ``skipped`` element when it did not pass."""
    cases = list(cases)
    failures = sum(c.get("status") == "failed" for c in cases)
    skipped = sum(c.get("status") == "skipped" for c in cases)
    root = ET.Element("testsuites", tests=str(len(cases)), failures=str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped))
    element = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)))
    element.set("failures", str(failures))
    element.set("errors", "0")
    element.set("skipped", str(skipped))
    for case in cases:
        path = str(case.get("path") or case.get("file") or suite)
        item = ET.SubElement(element, "testcase", name=_xml(case.get("name", "")))
        item.set("classname", _xml(path.rsplit("/", 1)[-1]))
        item.set("file", _xml(path))
        item.set("time", f"{float(case.get('seconds') or 0):.3f}")
        if case.get("line") is not None:
            item.set("line", str(case["line"]))
        if case.get("status") == "failed":
            failure = ET.SubElement(item, "failure", type="AssertionError")
            message = (case.get("failure") or {}).get("message") or "failed"
            failure.set("message", _xml(message))
            failure.text = _failure_text(case)
        elif case.get("status") == "skipped":
            ET.SubElement(item, "skipped", message=_xml("; ".join(case.get("skipped") or [])))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
