"""A local Kubernetes API server, a small controller manager and a kubelet, for tests.

``FakeCluster`` serves the few calls of the Kubernetes API that Studio's runner makes (create, get,
list, delete and watch of Secrets, Services, Pods, Jobs and Deployments, and pod logs), with the
API's paths, query parameters, ``Status`` error bodies, watch framing and ``resourceVersion``
semantics, so the official ``kubernetes`` client talks to it as to a real cluster. Created objects
are checked against Kubernetes' strict schemas (``kubernetes_validate``) and a few of the API
server's own rules (names, labels, selectors).

Its controllers turn a Job into a Pod and a Deployment into Pods, and its kubelet runs a Pod's
containers as local processes: images are ``FakeImage``s (an environment and a working
directory), ``python`` is this interpreter, and every volume mount path is rewritten to a local
directory in the container's arguments, environment, working directory and probe commands.

Durations the pods ask for (probe periods, deadlines, grace periods, back-offs) are multiplied by
``time_scale`` so tests run fast.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.35.0"
NODE_NAME = "fake-node"
TERMINAL = ("Succeeded", "Failed")
# Kubernetes' random suffixes (generateName, pod names) avoid vowels and look-alike characters.
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# --- Kinds, errors, time ---------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    plural: str
    kind: str
    group: str = ""
    version: str = "v1"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """How the API names the resource in messages: ``jobs.batch``, ``secrets``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """How the API names the kind in validation messages: ``Job.batch``, ``Secret``."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


KINDS = {
    kind.plural: kind
    for kind in (
        Kind("secrets", "Secret"),
        Kind("services", "Service"),
        Kind("pods", "Pod"),
        Kind("jobs", "Job", "batch"),
        Kind("deployments", "Deployment", "apps"),
    )
}


class ApiError(Exception):
    """An answer of the API that is a ``Status`` with ``status: Failure``."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(kind: Kind, name: str, **more: Any) -> dict:
    details: dict[str, Any] = {"name": name}
    if kind.group:
        details["group"] = kind.group
    details["kind"] = kind.plural
    details.update(more)
    return details


def not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{kind.resource} "{name}" not found', _details(kind, name))


def already_exists(kind: Kind, name: str) -> ApiError:
    message = f'{kind.resource} "{name}" already exists'
    return ApiError(409, "AlreadyExists", message, _details(kind, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def now() -> str:
    """A ``metav1.Time``: RFC 3339 to the second, in UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339nano(ns: int) -> str:
    """Go's ``time.RFC3339Nano`` for a time in nanoseconds (trailing zeros of the fraction cut)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else f"{text}Z"


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", re.I)


def parse_rfc3339(text: str) -> int:
    """An RFC 3339 time (any fraction) in nanoseconds since the epoch."""
    match = _RFC3339.fullmatch(text.strip())
    if not match:
        raise bad_request(f'parsing time "{text}" as RFC 3339: cannot parse')
    base, fraction, zone = match.groups()
    zone = "+00:00" if zone.upper() == "Z" else zone
    seconds = int(datetime.fromisoformat(base + zone).timestamp())
    return seconds * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


def random_suffix(length: int = 5) -> str:
    return "".join(random.choices(SUFFIX_ALPHABET, k=length))


def is_true(value: str | None) -> bool:
    """Go's ``strconv.ParseBool`` for the true side (the client sends ``True``)."""
    return (value or "").lower() in ("1", "t", "true")


# --- Selectors -------------------------------------------------------------------------------

_SET_REQUIREMENT = re.compile(r"([^\s!=(),]+)\s+(in|notin)\s+\(([^()]*)\)")
_KEY = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?")


def _split_top(text: str) -> list[str]:
    """Split at the commas that are outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def _requirement(part: str) -> Callable[[dict], bool]:
    match = _SET_REQUIREMENT.fullmatch(part)
    if match:
        key, operator, listed = match.groups()
        values = {value.strip() for value in listed.split(",") if value.strip()}
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for operator in ("!=", "==", "="):
        if operator in part:
            key, value = (side.strip() for side in part.split(operator, 1))
            if not _KEY.fullmatch(key):
                break
            if operator == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    else:
        key = part[1:].strip() if part.startswith("!") else part
        if _KEY.fullmatch(key):
            if part.startswith("!"):
                return lambda labels: key not in labels
            return lambda labels: key in labels
    raise bad_request(f"unable to parse requirement: invalid label selector: {part!r}")


def label_selector(text: str | None) -> Callable[[dict], bool]:
    """A label selector (``a=b,c!=d,e,!f,g in (h,i)``) as a predicate on an object."""
    requirements = [_requirement(part) for part in _split_top(text or "")]

    def matches(obj: dict) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(requirement(labels) for requirement in requirements)

    return matches


FIELDS = {
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
    "status.phase": ("status", "phase"),
    "spec.nodeName": ("spec", "nodeName"),
    "spec.restartPolicy": ("spec", "restartPolicy"),
    "type": ("type",),
}


def _field_value(obj: dict, path: tuple[str, ...]) -> str:
    value: Any = obj
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def field_selector(text: str | None) -> Callable[[dict], bool]:
    """A field selector (``metadata.name=x``, ``status.phase!=Running``) as a predicate."""
    checks = []
    for part in _split_top(text or ""):
        operator = next((op for op in ("!=", "==", "=") if op in part), None)
        if operator is None:
            raise bad_request(f"invalid selector: '{part}'; can't understand '{part}'")
        name, value = (side.strip() for side in part.split(operator, 1))
        if name not in FIELDS:
            raise bad_request(
                f'"{name}" is not a known field selector: only "metadata.name", '
                '"metadata.namespace"'
            )
        checks.append((FIELDS[name], operator == "!=", value))

    def matches(obj: dict) -> bool:
        return all((_field_value(obj, path) == value) != negate for path, negate, value in checks)

    return matches


# --- Validation (the strict schemas, then some of the API server's own rules) -------------------

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
IANA_SVC_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


class Problems:
    """The field errors of one object, worded like the API server's."""

    def __init__(self) -> None:
        self.causes: list[dict] = []

    def add(self, field_path: str, kind: str, message: str) -> None:
        reason = {
            "Invalid value": "FieldValueInvalid",
            "Required value": "FieldValueRequired",
            "Duplicate value": "FieldValueDuplicate",
            "Unsupported value": "FieldValueNotSupported",
            "Not found": "FieldValueNotFound",
            "Forbidden": "FieldValueForbidden",
        }[kind]
        self.causes.append({"reason": reason, "message": f"{kind}: {message}", "field": field_path})

    def invalid(self, field_path: str, value: Any, why: str) -> None:
        self.add(field_path, "Invalid value", f"{json.dumps(value)}: {why}")

    def raise_for(self, kind: Kind, name: str) -> None:
        if not self.causes:
            return
        texts = [f"{cause['field']}: {cause['message']}" for cause in self.causes]
        listed = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        message = f'{kind.qualified_kind} "{name}" is invalid: {listed}'
        details = {"name": name}
        if kind.group:
            details["group"] = kind.group
        raise ApiError(
            422, "Invalid", message, {**details, "kind": kind.kind, "causes": self.causes}
        )


def _check_name(problems: Problems, path: str, name: str, rule: re.Pattern, limit: int) -> None:
    if len(name) > limit:
        problems.invalid(path, name, f"must be no more than {limit} characters")
    elif not rule.fullmatch(name):
        problems.invalid(
            path,
            name,
            "a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' "
            "or '.', and must start and end with an alphanumeric character"
            if rule is not DNS1035_LABEL
            else "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
            "start with an alphabetic character, and end with an alphanumeric character",
        )


def _check_labels(problems: Problems, path: str, labels: dict | None) -> None:
    for key, value in (labels or {}).items():
        prefix, _, name = key.rpartition("/")
        if (prefix and not DNS1123_SUBDOMAIN.fullmatch(prefix)) or not (
            QUALIFIED_NAME.fullmatch(name) and len(name) <= 63
        ):
            problems.invalid(
                path,
                key,
                "name part must consist of alphanumeric characters, '-', "
                "'_' or '.', and must start and end with an alphanumeric character",
            )
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.fullmatch(value):
            problems.invalid(
                f"{path}",
                value,
                "a valid label must be an empty string or consist "
                "of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character (at most 63 characters)",
            )


def _check_meta(problems: Problems, meta: dict, rule: re.Pattern, limit: int = 253) -> None:
    name = meta.get("name")
    if not name and not meta.get("generateName"):
        problems.add("metadata.name", "Required value", "name or generateName is required")
    elif name:
        _check_name(problems, "metadata.name", name, rule, limit)
    _check_labels(problems, "metadata.labels", meta.get("labels"))


def _check_container(problems: Problems, path: str, container: dict, volumes: set[str]) -> None:
    if not container.get("image"):
        problems.add(f"{path}.image", "Required value", "")
    mount_paths: set[str] = set()
    for i, mount in enumerate(container.get("volumeMounts") or []):
        if mount.get("name") not in volumes:
            problems.add(
                f"{path}.volumeMounts[{i}].name", "Not found", json.dumps(mount.get("name"))
            )
        if mount.get("mountPath") in mount_paths:
            problems.add(
                f"{path}.volumeMounts[{i}].mountPath",
                "Invalid value",
                f"{json.dumps(mount.get('mountPath'))}: must be unique",
            )
        mount_paths.add(mount.get("mountPath"))
    for i, port in enumerate(container.get("ports") or []):
        name = port.get("name")
        if name and not (
            len(name) <= 15
            and IANA_SVC_NAME.fullmatch(name)
            and re.search("[a-z]", name)
            and "--" not in name
        ):
            problems.invalid(f"{path}.ports[{i}].name", name, "must be an IANA_SVC_NAME")
    for i, variable in enumerate(container.get("env") or []):
        if not variable.get("name") or "=" in variable["name"]:
            problems.invalid(
                f"{path}.env[{i}].name",
                variable.get("name"),
                "a valid environment variable name must consist only of printable "
                "ASCII characters other than '='",
            )
        key = (variable.get("valueFrom") or {}).get("secretKeyRef", {}).get("key")
        if key is not None and not CONFIG_KEY.fullmatch(key):
            problems.invalid(
                f"{path}.env[{i}].valueFrom.secretKeyRef.key",
                key,
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            )


def _check_pod_spec(problems: Problems, path: str, spec: dict, policies: tuple[str, ...]) -> None:
    volumes: set[str] = set()
    for i, volume in enumerate(spec.get("volumes") or []):
        name = volume.get("name", "")
        _check_name(problems, f"{path}.volumes[{i}].name", name, DNS1123_LABEL, 63)
        if name in volumes:
            problems.add(f"{path}.volumes[{i}].name", "Duplicate value", json.dumps(name))
        volumes.add(name)
    if not spec.get("containers"):
        problems.add(f"{path}.containers", "Required value", "")
    names: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(group) or []):
            name = container.get("name", "")
            _check_name(problems, f"{path}.{group}[{i}].name", name, DNS1123_LABEL, 63)
            if name in names:
                problems.add(f"{path}.{group}[{i}].name", "Duplicate value", json.dumps(name))
            names.add(name)
            _check_container(problems, f"{path}.{group}[{i}]", container, volumes)
    policy = spec.get("restartPolicy", policies[0])
    if policy not in policies:
        supported = ", ".join(json.dumps(p) for p in policies)
        problems.add(
            f"{path}.restartPolicy",
            "Unsupported value",
            f"{json.dumps(policy)}: supported values: {supported}",
        )


def _check_template(problems: Problems, spec: dict, policies: tuple[str, ...]) -> None:
    template = spec.get("template") or {}
    _check_labels(
        problems, "spec.template.metadata.labels", (template.get("metadata") or {}).get("labels")
    )
    _check_pod_spec(problems, "spec.template.spec", template.get("spec") or {}, policies)


def _check_deployment(problems: Problems, obj: dict) -> None:
    spec = obj.get("spec") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector and not (spec.get("selector") or {}).get("matchExpressions"):
        problems.add("spec.selector", "Invalid value", "empty selector is invalid for deployment")
    elif any(labels.get(key) != value for key, value in selector.items()):
        problems.invalid(
            "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
        )
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate" and "rollingUpdate" in strategy:
        problems.add(
            "spec.strategy.rollingUpdate",
            "Forbidden",
            "may not be specified when strategy `type` is 'Recreate'",
        )
    _check_template(problems, spec, ("Always",))


def _check_job(problems: Problems, obj: dict) -> None:
    spec = obj.get("spec") or {}
    name = (obj.get("metadata") or {}).get("name") or ""
    if len(name) > 63:
        # The job's name becomes the value of its pods' job-name label.
        problems.invalid("spec.template.labels", name, "must be no more than 63 characters")
    template_spec = (spec.get("template") or {}).get("spec") or {}
    if "restartPolicy" not in template_spec:
        problems.add(
            "spec.template.spec.restartPolicy",
            "Required value",
            'valid values: "OnFailure", "Never"',
        )
        template_spec = {**template_spec, "restartPolicy": "Never"}
    _check_template(
        problems,
        {**spec, "template": {**(spec.get("template") or {}), "spec": template_spec}},
        ("Never", "OnFailure"),
    )


def _check_service(problems: Problems, obj: dict) -> None:
    spec = obj.get("spec") or {}
    ports = spec.get("ports") or []
    if (
        not ports
        and spec.get("type", "ClusterIP") != "ExternalName"
        and spec.get("clusterIP") != "None"
    ):
        problems.add("spec.ports", "Required value", "")
    for i, port in enumerate(ports):
        if len(ports) > 1 and not port.get("name"):
            problems.add(f"spec.ports[{i}].name", "Required value", "")
    _check_labels(problems, "spec.selector", spec.get("selector"))


def _check_secret(problems: Problems, obj: dict) -> None:
    for group in ("data", "stringData"):
        for key in obj.get(group) or {}:
            if not CONFIG_KEY.fullmatch(key) or len(key) > 253:
                problems.invalid(
                    f"{group}[{key}]",
                    key,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                )
    for key, value in (obj.get("data") or {}).items():
        try:
            base64.b64decode(value, validate=True)
        except (ValueError, TypeError):
            problems.invalid(f"data[{key}]", "<value>", "must be base64")


SEMANTIC_CHECKS: dict[str, Callable[[Problems, dict], None]] = {
    "deployments": _check_deployment,
    "jobs": _check_job,
    "services": _check_service,
    "secrets": _check_secret,
    "pods": lambda problems, obj: _check_pod_spec(
        problems, "spec", obj.get("spec") or {}, ("Always", "OnFailure", "Never")
    ),
}


def validate(kind: Kind, obj: dict) -> None:
    """Raise the API's 422 ``Invalid`` for an object the cluster would refuse."""
    name = (obj.get("metadata") or {}).get("name") or ""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        problems = Problems()
        path = ".".join(str(step) for step in error.absolute_path) or "<root>"
        problems.add(path, "Invalid value", error.message)
        problems.raise_for(kind, name)
    problems = Problems()
    rule = DNS1035_LABEL if kind.plural == "services" else DNS1123_SUBDOMAIN
    _check_meta(problems, obj.get("metadata") or {}, rule, 63 if kind.plural == "services" else 253)
    SEMANTIC_CHECKS[kind.plural](problems, obj)
    problems.raise_for(kind, name)


# --- The object store: objects, a global resourceVersion and the event history -----------------


@dataclass
class Event:
    rv: int
    plural: str
    type: str
    obj: dict


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.objects: dict[tuple[str, str, str], dict] = {}
        self.history: list[Event] = []
        self.rv = 1000
        self.floor = 0  # a watch may start from any resourceVersion >= floor
        self.epoch = 0  # how many times the history was compacted

    def _commit(self, plural: str, type_: str, obj: dict) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.history.append(Event(self.rv, plural, type_, copy.deepcopy(obj)))
        self.changed.notify_all()

    def insert(self, plural: str, obj: dict) -> dict:
        meta = obj["metadata"]
        key = (plural, meta["namespace"], meta["name"])
        with self.lock:
            if key in self.objects:
                raise already_exists(KINDS[plural], meta["name"])
            self.objects[key] = obj
            self._commit(plural, "ADDED", obj)
            return copy.deepcopy(obj)

    def get(self, plural: str, namespace: str, name: str) -> dict | None:
        with self.lock:
            obj = self.objects.get((plural, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def update(
        self, plural: str, namespace: str, name: str, change: Callable[[dict], Any]
    ) -> dict | None:
        """Apply ``change`` to a copy of the object; a real change is a MODIFIED event."""
        with self.lock:
            obj = self.objects.get((plural, namespace, name))
            if obj is None:
                return None
            new = copy.deepcopy(obj)
            change(new)
            if new != obj:
                self.objects[(plural, namespace, name)] = new
                self._commit(plural, "MODIFIED", new)
            return copy.deepcopy(new)

    def remove(self, plural: str, namespace: str, name: str) -> dict | None:
        with self.lock:
            obj = self.objects.pop((plural, namespace, name), None)
            if obj is not None:
                self._commit(plural, "DELETED", obj)
            return copy.deepcopy(obj) if obj is not None else None

    def items(self, plural: str, namespace: str | None = None) -> list[dict]:
        with self.lock:
            return [
                copy.deepcopy(obj)
                for (kind, ns, _name), obj in sorted(self.objects.items())
                if kind == plural and namespace in (None, ns)
            ]

    def compact(self) -> None:
        with self.lock:
            self.floor = self.rv
            self.history.clear()
            self.epoch += 1
            self.changed.notify_all()

    def expired(self, since: int) -> dict:
        return {
            "type": "ERROR",
            "object": ApiError(
                410, "Expired", f"too old resource version: {since} ({self.floor})"
            ).status(),
        }

    def watch(
        self,
        plural: str,
        namespace: str | None,
        since: str | None,
        matches: Callable[[dict], bool],
        deadline: float,
        done: Callable[[], bool],
    ) -> Iterator[dict]:
        """Watch events: those after ``since`` (or ADDED for every object when it is unset or
        "0"), then live ones until ``deadline`` (monotonic), ``done()`` or a compaction."""
        with self.lock:
            epoch = self.epoch
            if since in (None, "", "0"):
                cursor = self.rv
                initial = [
                    {"type": "ADDED", "object": obj}
                    for obj in self.items(plural, namespace)
                    if matches(obj)
                ]
            else:
                cursor = int(since)
                if cursor < self.floor:
                    yield self.expired(cursor)
                    return
                initial = []
        yield from initial
        while True:
            with self.lock:
                if self.epoch != epoch or done() or time.monotonic() >= deadline:
                    return
                batch = self.history[bisect_right(self.history, cursor, key=lambda e: e.rv) :]
                if not batch:
                    self.changed.wait(min(0.5, max(0.0, deadline - time.monotonic())))
                    continue
                cursor = batch[-1].rv
            for event in batch:
                ns = event.obj["metadata"].get("namespace")
                if event.plural == plural and namespace in (None, ns) and matches(event.obj):
                    yield {"type": event.type, "object": copy.deepcopy(event.obj)}


# --- Images and the kubelet --------------------------------------------------------------------


@dataclass
class FakeImage:
    """A runnable image: the environment its processes get and their default directory."""

    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"


class Waiting(Exception):
    """A container cannot start yet (its ``state.waiting`` reason and message)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


class StartFailed(Exception):
    pass


@dataclass
class ContainerLog:
    """The output of one run of a container: (time in ns, text with its newline) pairs."""

    lines: list[tuple[int, str]] = field(default_factory=list)
    done: bool = False


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined variables replaced, ``$$`` an escaped ``$``."""

    def replace(match: re.Match) -> str:
        if match.group(1) == "$":
            return "$"
        return env.get(match.group(2), match.group(0))

    return re.sub(r"\$(\$|\(([^()]*)\))", replace, text)


def path_rewriter(mounts: list[tuple[str, str]]) -> Callable[[str], str]:
    """Replace each mount path (as a whole path prefix) with its local directory, in one pass
    that tries the longest mount paths first."""
    mapping = {path.rstrip("/"): local for path, local in mounts if path.rstrip("/")}
    if not mapping:
        return lambda text: text
    alternatives = "|".join(re.escape(path) for path in sorted(mapping, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w.\-/])({alternatives})(?![\w.\-])")
    return lambda text: pattern.sub(lambda match: mapping[match.group(1)], text)


class ContainerRun:
    """What the kubelet knows of one container of a pod."""

    def __init__(self, spec: dict, init: bool, waiting_reason: str):
        self.spec = spec
        self.name: str = spec["name"]
        self.init = init
        self.state: dict = {"waiting": {"reason": waiting_reason}}
        self.last_state: dict = {}
        self.restarts = 0
        self.ready = False
        self.started = False
        self.ever_started = False
        self.exit_code: int | None = None
        self.logs: list[ContainerLog] = []
        self.container_id = ""
        self.instance = 0
        self.kill_requested = False
        self.probe_message = ""
        self.pull_failures = 0
        # Of the current run: the process, its output reader, environment, directory, rewriting.
        self.process: subprocess.Popen | None = None
        self.reader: threading.Thread | None = None
        self.env: dict[str, str] = {}
        self.cwd = ""
        self.rewrite: Callable[[str], str] = lambda text: text

    def status(self, images: dict[str, FakeImage]) -> dict:
        image = self.spec.get("image", "")
        status = {
            "name": self.name,
            "image": image,
            "imageID": f"fake.local/{image}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"
            if image in images
            else "",
            "ready": self.ready,
            "restartCount": self.restarts,
            "started": self.started,
            "state": copy.deepcopy(self.state),
            "lastState": copy.deepcopy(self.last_state),
        }
        if self.container_id:
            status["containerID"] = self.container_id
        return status


class PodRun:
    """The kubelet's work on one pod: volumes, init containers in order, then the containers
    (restarted as the pod's restartPolicy says), probes, logs, and the pod's status."""

    def __init__(self, cluster: FakeCluster, pod: dict):
        self.cluster = cluster
        meta = pod["metadata"]
        self.namespace, self.name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.pod_labels = meta.get("labels") or {}
        self.spec = pod["spec"]
        self.policy = self.spec.get("restartPolicy", "Always")
        self.lock = threading.Condition(threading.RLock())
        self.inits = [
            ContainerRun(c, True, "PodInitializing") for c in self.spec.get("initContainers") or []
        ]
        first = "PodInitializing" if self.inits else "ContainerCreating"
        self.mains = [ContainerRun(c, False, first) for c in self.spec["containers"]]
        self.stopping = threading.Event()
        self.grace = float(self.spec.get("terminationGracePeriodSeconds", 30))
        self.root = Path(tempfile.mkdtemp(prefix="fakekube-pod-"))
        self.volumes: dict[str, Path] = {}
        self.volumes_ready = False
        self.initialized = False
        self.phase = "Pending"
        self.started_at = now()
        self.transitions: dict[str, tuple[str, str]] = {}
        self.finished = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True, name=f"pod {self.name}")

    # The pod's life.

    def start(self) -> None:
        self.thread.start()

    def stop(self, grace: float | None = None) -> None:
        if grace is not None:
            self.grace = grace
        self.stopping.set()

    def container(self, name: str) -> ContainerRun | None:
        return next((c for c in self.inits + self.mains if c.name == name), None)

    def _main(self) -> None:
        try:
            self.publish()
            if self._prepare_volumes():
                self._run_containers()
        except Exception:  # a bug here must not go unnoticed in a test's output
            traceback.print_exc()
        finally:
            self.stopping.wait()
            self._finish()

    def _run_containers(self) -> None:
        for container in self.inits:
            code = self._supervise(container)
            if code is None:
                return
            if code != 0:
                self.phase = "Failed"
                self.publish()
                return
        with self.lock:
            self.initialized = True
            for container in self.mains:
                container.state = {"waiting": {"reason": "ContainerCreating"}}
        self.publish()
        threads = [
            threading.Thread(target=self._supervise, args=(c,), daemon=True) for c in self.mains
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if not self.stopping.is_set():
            self.phase = "Succeeded" if all(c.exit_code == 0 for c in self.mains) else "Failed"
            self.publish()

    def _finish(self) -> None:
        for thread in threading.enumerate():
            if thread.name.startswith(f"container {self.uid} "):
                thread.join(timeout=self.grace + 5)
        self.cluster._pod_gone(self)
        shutil.rmtree(self.root, ignore_errors=True)
        self.finished.set()

    # Volumes.

    def _prepare_volumes(self) -> bool:
        while not self.stopping.is_set():
            try:
                self._make_volumes()
                with self.lock:
                    self.volumes_ready = True
                self.publish()
                return True
            except Waiting as problem:
                self._set_waiting_all("ContainerCreating", problem.message)
            if self.stopping.wait(self.cluster.scaled(1.0)):
                break
        return False

    def _make_volumes(self) -> None:
        for volume in self.spec.get("volumes") or []:
            directory = self.root / "volumes" / volume["name"]
            directory.mkdir(parents=True, exist_ok=True)
            if "secret" in volume:
                self._fill_secret_volume(directory, volume["secret"])
            self.volumes[volume["name"]] = directory

    def _fill_secret_volume(self, directory: Path, source: dict) -> None:
        secret = self.cluster.store.get("secrets", self.namespace, source.get("secretName", ""))
        if secret is None:
            if source.get("optional"):
                return
            raise Waiting(
                "ContainerCreating",
                f'MountVolume.SetUp failed: secret "{source.get("secretName")}" not found',
            )
        data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
        items = source.get("items") or [{"key": key, "path": key} for key in data]
        for item in items:
            if item["key"] not in data:
                if source.get("optional"):
                    continue
                raise Waiting(
                    "ContainerCreating",
                    f"MountVolume.SetUp failed: references non-existent secret key: {item['key']}",
                )
            target = directory / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data[item["key"]])
            target.chmod(item.get("mode", source.get("defaultMode", 0o644)))

    def _mounts(self, container: dict) -> list[tuple[str, str]]:
        mounts = []
        for mount in container.get("volumeMounts") or []:
            local = self.volumes[mount["name"]]
            if mount.get("subPath"):
                local = local / mount["subPath"]
                if not local.exists():
                    local.mkdir(parents=True)
            mounts.append((mount["mountPath"].rstrip("/") or "/", str(local)))
        # A mount inside another mount's path shows in the outer directory too.
        for path, local in mounts:
            for outer, outer_local in mounts:
                if path.startswith(outer + "/") and outer != "/":
                    link = Path(outer_local) / path[len(outer) + 1 :]
                    if not link.exists() and not link.is_symlink():
                        link.parent.mkdir(parents=True, exist_ok=True)
                        link.symlink_to(local)
        return mounts

    # The environment of a container.

    def _secret_data(self, name: str, optional: bool) -> dict[str, str] | None:
        secret = self.cluster.store.get("secrets", self.namespace, name)
        if secret is None:
            if optional:
                return None
            raise Waiting("CreateContainerConfigError", f'secret "{name}" not found')
        return {
            key: base64.b64decode(value).decode("utf-8", "replace")
            for key, value in (secret.get("data") or {}).items()
        }

    def _field_ref(self, path: str) -> str:
        values = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "metadata.uid": self.uid,
            "spec.nodeName": NODE_NAME,
            "spec.serviceAccountName": self.spec.get("serviceAccountName", "default"),
            "status.podIP": "127.0.0.1",
            "status.hostIP": "127.0.0.1",
        }
        match = re.fullmatch(r"metadata\.labels\['(.+)'\]", path)
        if match:
            return self.pod_labels.get(match.group(1), "")
        return values.get(path, "")

    def _env_value(self, variable: dict, env: dict[str, str]) -> str | None:
        if "value" in variable:
            return expand(variable["value"], env)
        source = variable.get("valueFrom") or {}
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            data = self._secret_data(ref.get("name", ""), bool(ref.get("optional")))
            if data is None:
                return None
            if ref["key"] not in data:
                if ref.get("optional"):
                    return None
                raise Waiting(
                    "CreateContainerConfigError",
                    f"couldn't find key {ref['key']} in Secret {self.namespace}/{ref['name']}",
                )
            return data[ref["key"]]
        if "fieldRef" in source:
            return self._field_ref(source["fieldRef"]["fieldPath"])
        if "configMapKeyRef" in source:
            if source["configMapKeyRef"].get("optional"):
                return None
            raise Waiting(
                "CreateContainerConfigError",
                f'configmap "{source["configMapKeyRef"].get("name")}" not found',
            )
        return ""

    def _container_env(self, container: dict) -> dict[str, str]:
        """The variables the container's spec defines (envFrom, then env, in order)."""
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            if "secretRef" in source:
                ref = source["secretRef"]
                data = self._secret_data(ref.get("name", ""), bool(ref.get("optional"))) or {}
                env.update({prefix + key: value for key, value in data.items()})
            elif "configMapRef" in source and not source["configMapRef"].get("optional"):
                raise Waiting(
                    "CreateContainerConfigError",
                    f'configmap "{source["configMapRef"].get("name")}" not found',
                )
        for variable in container.get("env") or []:
            value = self._env_value(variable, env)
            if value is not None:
                env[variable["name"]] = value
        return env

    # Running containers.

    def _launch(self, c: ContainerRun) -> subprocess.Popen:
        """Start one run of a container, or raise Waiting (not startable yet) or StartFailed."""
        image = self.cluster.images.get(c.spec.get("image", ""))
        if image is None:
            c.pull_failures += 1
            name = c.spec.get("image", "")
            if c.pull_failures == 1:
                raise Waiting(
                    "ErrImagePull",
                    f'rpc error: code = NotFound desc = failed to pull and unpack image "{name}": not found',
                )
            raise Waiting("ImagePullBackOff", f'Back-off pulling image "{name}"')
        defined = self._container_env(c.spec)
        rewrite = path_rewriter(self._mounts(c.spec))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **image.env,
            "HOSTNAME": self.name,
            **defined,
        }
        env = {key: rewrite(value) for key, value in env.items()}
        argv = [
            rewrite(expand(arg, defined))
            for arg in (c.spec.get("command") or []) + (c.spec.get("args") or [])
        ]
        if not argv:
            raise StartFailed("no command specified")
        if argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        cwd = Path(rewrite(c.spec.get("workingDir") or image.workdir))
        try:
            cwd.mkdir(parents=True, exist_ok=True)
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            raise StartFailed(
                f'failed to create containerd task: exec: "{argv[0]}": {error.strerror}'
            ) from None
        c.env, c.cwd, c.rewrite = env, str(cwd), rewrite
        return process

    def _start(self, c: ContainerRun) -> subprocess.Popen | int | None:
        """Start the container once it can be: its process, 128 when it cannot start, or None
        when the pod stops first."""
        while not self.stopping.is_set():
            try:
                process = self._launch(c)
            except Waiting as waiting:
                with self.lock:
                    c.state = {"waiting": {"reason": waiting.reason, "message": waiting.message}}
                self.publish()
                self.stopping.wait(
                    self.cluster.scaled(2.0 if waiting.reason == "ErrImagePull" else 1.0)
                )
                continue
            except StartFailed as failure:
                with self.lock:
                    c.state = {
                        "terminated": {
                            "exitCode": 128,
                            "reason": "StartError",
                            "message": str(failure),
                            "startedAt": "1970-01-01T00:00:00Z",
                            "finishedAt": now(),
                        }
                    }
                    c.exit_code = 128
                self.publish()
                return 128
            self._running(c, process)
            return process
        return None

    def _running(self, c: ContainerRun, process: subprocess.Popen) -> None:
        log = ContainerLog()
        with self.lock:
            c.instance += 1
            c.kill_requested = False
            c.container_id = f"fake://{uuid.uuid4().hex}"
            c.state = {"running": {"startedAt": now()}}
            c.started = c.ever_started = True
            c.ready = not c.init and "readinessProbe" not in c.spec
            c.logs.append(log)
            c.process = process
        c.reader = threading.Thread(
            target=self._read_output,
            args=(process, log),
            daemon=True,
            name=f"container {self.uid} {c.name} output",
        )
        c.reader.start()
        for kind in ("readiness", "liveness"):
            if not c.init and f"{kind}Probe" in c.spec:
                threading.Thread(
                    target=self._probe_loop,
                    args=(c, c.instance, kind),
                    daemon=True,
                    name=f"container {self.uid} {c.name} {kind}",
                ).start()
        self.publish()

    def _read_output(self, process: subprocess.Popen, log: ContainerLog) -> None:
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            with self.lock:
                log.lines.append((time.time_ns(), raw.decode("utf-8", "replace")))
                self.lock.notify_all()
        process.stdout.close()

    def _wait_exit(self, c: ContainerRun, process: subprocess.Popen) -> int:
        while True:
            try:
                code = process.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                pass
            if self.stopping.is_set() or c.kill_requested:
                code = self._terminate(process)
                break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # what the container's main process left behind
        if c.reader is not None:
            c.reader.join(timeout=5)
        return 128 - code if code < 0 else code

    def _terminate(self, process: subprocess.Popen) -> int:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout=self.cluster.scaled(self.grace))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            return process.wait()

    def _run_once(self, c: ContainerRun) -> int | None:
        started = self._start(c)
        if started is None or isinstance(started, int):
            return started
        code = self._wait_exit(c, started)
        terminated = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": c.state.get("running", {}).get("startedAt", now()),
            "finishedAt": now(),
            "containerID": c.container_id,
        }
        log = c.logs[-1]
        if code != 0 and c.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            terminated["message"] = "".join(text for _, text in log.lines[-80:])[-2048:]
        with self.lock:
            c.state = {"terminated": terminated}
            c.started = c.ready = False
            c.exit_code = code
            log.done = True
            self.lock.notify_all()
        self.publish()
        return code

    def _supervise(self, c: ContainerRun) -> int | None:
        """Run a container, restarted as the restartPolicy says: its last exit code, or None when
        the pod stopped."""
        while True:
            code = self._run_once(c)
            if code is None or self.stopping.is_set():
                return None
            if c.init:
                restart = code != 0 and self.policy != "Never"
            else:
                restart = self.policy == "Always" or (self.policy == "OnFailure" and code != 0)
            if not restart:
                return code
            if not self._back_off(c):
                return None

    def _back_off(self, c: ContainerRun) -> bool:
        delay = min(10 * 2**c.restarts, 300)
        with self.lock:
            c.restarts += 1
            c.last_state = c.state
            message = f"back-off {delay}s restarting failed container={c.name} pod={self.name}_{self.namespace}({self.uid})"
            c.state = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
        self.publish()
        return not self.stopping.wait(self.cluster.scaled(delay))

    # Probes.

    def _probe(self, c: ContainerRun, probe: dict) -> tuple[bool, str]:
        timeout = float(probe.get("timeoutSeconds", 1))
        if "exec" in probe:
            argv = [c.rewrite(expand(arg, c.env)) for arg in probe["exec"].get("command") or []]
            if argv and argv[0] in ("python", "python3"):
                argv[0] = sys.executable
            try:
                done = subprocess.run(
                    argv,
                    env=c.env,
                    cwd=c.cwd,
                    capture_output=True,
                    timeout=max(timeout, 5.0),
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                return False, str(error)
            output = (done.stdout + done.stderr).decode("utf-8", "replace").strip()
            return done.returncode == 0, output
        port = probe.get("httpGet", probe.get("tcpSocket", {})).get("port")
        if isinstance(port, str):
            named = {p.get("name"): p["containerPort"] for p in c.spec.get("ports") or []}
            port = named.get(port, port)
        if "httpGet" in probe:
            url = f"http://127.0.0.1:{port}{probe['httpGet'].get('path', '/')}"
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    return 200 <= response.status < 400, ""
            except urllib.error.HTTPError as error:
                return 200 <= error.code < 400, f"HTTP probe failed with statuscode: {error.code}"
            except OSError as error:
                return False, f'Get "{url}": {error}'
        if "tcpSocket" in probe:
            try:
                socket.create_connection(("127.0.0.1", int(port)), timeout=timeout).close()
                return True, ""
            except OSError as error:
                return False, f"dial tcp 127.0.0.1:{port}: {error}"
        return False, "unsupported probe"

    def _probe_loop(self, c: ContainerRun, instance: int, kind: str) -> None:
        probe = c.spec[f"{kind}Probe"]
        period = self.cluster.scaled(float(probe.get("periodSeconds", 10)))
        threshold = int(probe.get("failureThreshold", 3))
        successes_needed = int(probe.get("successThreshold", 1))
        successes = failures = 0

        def over(wait: float) -> bool:
            self.stopping.wait(wait)
            return self.stopping.is_set() or c.instance != instance or "running" not in c.state

        if over(self.cluster.scaled(float(probe.get("initialDelaySeconds", 0)))):
            return
        while True:
            ok, output = self._probe(c, probe)
            if over(0):
                return
            successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
            if kind == "liveness" and failures >= threshold:
                c.kill_requested = True
                return
            if kind == "readiness":
                with self.lock:
                    if ok and successes >= successes_needed:
                        c.ready, c.probe_message = True, ""
                    elif not ok and failures >= threshold:
                        c.ready, c.probe_message = False, output
                    elif not ok and not c.ready:
                        c.probe_message = output
                self.publish()
            if over(period):
                return

    # Status.

    def _set_waiting_all(self, reason: str, message: str) -> None:
        with self.lock:
            for c in self.inits + self.mains:
                if "waiting" in c.state:
                    c.state = {"waiting": {"reason": reason, "message": message}}
        self.publish()

    def _condition(self, type_: str, ok: bool, reason: str = "", message: str = "") -> dict:
        status = "True" if ok else "False"
        previous = self.transitions.get(type_)
        if previous is None or previous[0] != status:
            previous = self.transitions[type_] = (status, now())
        condition = {
            "type": type_,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": previous[1],
        }
        if not ok and reason:
            condition["reason"], condition["message"] = reason, message
        return condition

    def _conditions(self) -> list[dict]:
        incomplete = [c.name for c in self.inits if c.exit_code != 0]
        unready = [c.name for c in self.mains if not c.ready]
        ready_reason = "PodCompleted" if self.phase == "Succeeded" else "ContainersNotReady"
        ready_message = f"containers with unready status: [{' '.join(unready)}]"
        probes = "; ".join(
            f"readiness probe of {c.name} failed: {c.probe_message}"[:500]
            for c in self.mains
            if not c.ready and c.probe_message
        )
        return [
            self._condition("PodReadyToStartContainers", self.volumes_ready),
            self._condition(
                "Initialized",
                self.initialized,
                "ContainersNotInitialized",
                f"containers with incomplete status: [{' '.join(incomplete)}]",
            ),
            self._condition(
                "Ready",
                not unready,
                ready_reason,
                f"{ready_message}; {probes}" if probes else ready_message,
            ),
            self._condition("ContainersReady", not unready, ready_reason, ready_message),
            self._condition("PodScheduled", True),
        ]

    def _status(self) -> dict:
        phase = self.phase
        if phase not in TERMINAL and self.initialized and any(c.ever_started for c in self.mains):
            phase = "Running"
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": self._conditions(),
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.started_at,
            "qosClass": "BestEffort",
        }
        if self.inits:
            status["initContainerStatuses"] = [c.status(self.cluster.images) for c in self.inits]
        status["containerStatuses"] = [c.status(self.cluster.images) for c in self.mains]
        return status

    def publish(self) -> None:
        """Write the pod's status to the API (a MODIFIED event when it changed)."""
        with self.lock:
            status = self._status()
            self.cluster.store.update(
                "pods", self.namespace, self.name, lambda pod: pod.__setitem__("status", status)
            )

    # Logs.

    def log_for(self, name: str, previous: bool) -> ContainerLog:
        c = self.container(name)
        assert c is not None
        with self.lock:
            if previous:
                # The kubelet answers with the run lastState.terminated names: while the
                # container waits to restart (CrashLoopBackOff), that is its latest run.
                last = -1 if "waiting" in c.state else -2
                if len(c.logs) < -last:
                    raise bad_request(
                        f'previous terminated container "{name}" in pod "{self.name}" not found'
                    )
                return c.logs[last]
            if not c.logs:
                reason = c.state.get("waiting", {}).get("reason", "ContainerCreating")
                if reason in ("ErrImagePull", "ImagePullBackOff"):
                    reason = "trying and failing to pull image"
                raise bad_request(
                    f'container "{name}" in pod "{self.name}" is waiting to start: {reason}'
                )
            return c.logs[-1]


# --- The cluster ------------------------------------------------------------------------------


@dataclass
class Failure:
    method: str
    path: re.Pattern
    status: int
    times: int
    message: str


class FakeCluster:
    """A local Kubernetes API server with a controller manager and a kubelet (see the module's
    docstring). ``images`` are the images pods may use, by the name in their ``image`` field."""

    def __init__(
        self,
        images: dict[str, FakeImage] | None = None,
        token: str = "test-token",
        time_scale: float = 1.0,
    ):
        self.images = dict(images or {})
        self.token = token
        self.time_scale = time_scale
        self.store = Store()
        self.created: dict[str, list[dict]] = defaultdict(list)
        self.runs: dict[str, PodRun] = {}
        self.requests: list[tuple[str, str]] = []
        self._failures: list[Failure] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._job_counts: dict[str, dict[str, str]] = {}
        self._job_clock: dict[str, float] = {}
        self._job_finished: dict[str, float] = {}
        self._services = 0
        handler = type("Handler", (_Handler,), {"cluster": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._threads = [
            threading.Thread(
                target=self.server.serve_forever,
                kwargs={"poll_interval": 0.1},
                daemon=True,
                name="fakekube api",
            ),
            threading.Thread(target=self._control_loop, daemon=True, name="fakekube controllers"),
        ]
        for thread in self._threads:
            thread.start()

    # Public helpers for tests.

    def __enter__(self) -> FakeCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    def kubeconfig(self, path: str | os.PathLike, namespace: str = "default") -> Path:
        """Write a kubeconfig for this cluster (server URL and bearer token)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "fake",
                    "context": {"cluster": "fake", "user": "fake", "namespace": namespace},
                }
            ],
            "current-context": "fake",
        }
        target = Path(path)
        target.write_text(yaml.safe_dump(config))
        return target

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        message: str = "injected failure",
    ) -> None:
        """Answer the next ``times`` requests whose method and path match with this error."""
        with self._lock:
            self._failures.append(
                Failure(method.upper(), re.compile(path_regex), status, times, message)
            )

    def compact(self) -> None:
        """Forget the event history: older watches get 410 Expired, running ones end."""
        self.store.compact()

    def get(self, plural: str, name: str, namespace: str = "default") -> dict | None:
        return self.store.get(plural, namespace, name)

    def list(self, plural: str, selector: str = "", namespace: str | None = None) -> list[dict]:
        matches = label_selector(selector)
        return [obj for obj in self.store.items(plural, namespace) if matches(obj)]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
        """Wait until ``condition()`` is truthy (and return it), or fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}")
            with self.store.lock:
                self.store.changed.wait(0.05)

    def logs(self, pod: str, container: str, namespace: str = "default") -> str:
        """The output of the container's current (or last) run, without timestamps."""
        run = self._run_of(namespace, pod, container)
        return "".join(text for _, text in run.log_for(container, False).lines)

    def service_url(self, name: str, namespace: str = "default") -> str:
        """``http://127.0.0.1:<targetPort>`` of a Service (its pods run on this machine)."""
        service = self.store.get("services", namespace, name)
        if service is None:
            raise not_found(KINDS["services"], name)
        port = service["spec"]["ports"][0]
        return f"http://127.0.0.1:{port.get('targetPort', port['port'])}"

    def stop(self) -> None:
        """Kill every process, stop serving and remove the pods' directories."""
        self._stopping.set()
        with self._lock:
            runs = list(self.runs.values())
        for run in runs:
            run.stop(grace=0)
        for run in runs:
            run.finished.wait(timeout=10)
        with self.store.lock:
            self.store.changed.notify_all()
        self.server.shutdown()
        self.server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    # Requests.

    def _check_failure(self, method: str, path: str) -> None:
        with self._lock:
            for failure in self._failures:
                if failure.method == method and failure.path.search(path):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    raise ApiError(
                        failure.status, REASONS.get(failure.status, "Unknown"), failure.message
                    )

    def handle(
        self, request: _Handler, method: str, path: str, query: dict[str, str], body: bytes
    ) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            raise ApiError(401, "Unauthorized", "Unauthorized")
        self.requests.append((method, request.path))
        self._check_failure(method, path)
        if path == "/version" and method == "GET":
            request.send_json(
                200,
                {
                    "major": "1",
                    "minor": "35",
                    "gitVersion": f"v{KUBERNETES_VERSION}",
                    "platform": "linux/amd64",
                },
            )
            return
        kind, namespace, name, sub = _route(path)
        if sub == "log" and method == "GET" and kind.plural == "pods" and namespace and name:
            self._serve_log(request, namespace, name, query)
            return
        if sub not in (None, "status") or (sub and method != "GET"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if method == "GET" and name:
            obj = self.store.get(kind.plural, namespace or "", name)
            if obj is None:
                raise not_found(kind, name)
            request.send_json(200, obj)
        elif method == "GET" and is_true(query.get("watch")):
            self._serve_watch(request, kind, namespace, query)
        elif method == "GET":
            request.send_json(200, self._list(kind, namespace, query))
        elif method == "POST" and namespace and not name:
            request.send_json(201, self.create(kind, namespace, _json_body(body)))
        elif method == "DELETE" and namespace and name:
            request.send_json(200, self.delete(kind, namespace, name, query, body))
        elif method == "DELETE" and namespace:
            self._delete_collection(request, kind, namespace, query, body)
        else:
            raise ApiError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            )

    def _matcher(self, query: dict[str, str]) -> Callable[[dict], bool]:
        labels = label_selector(query.get("labelSelector"))
        fields = field_selector(query.get("fieldSelector"))
        return lambda obj: labels(obj) and fields(obj)

    def _list(self, kind: Kind, namespace: str | None, query: dict[str, str]) -> dict:
        matches = self._matcher(query)
        with self.store.lock:
            items = [obj for obj in self.store.items(kind.plural, namespace) if matches(obj)]
            return self._list_of(kind, items)

    def _list_of(self, kind: Kind, items: list[dict]) -> dict:
        for item in items:
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return {
            "kind": f"{kind.kind}List",
            "apiVersion": kind.api_version,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": items,
        }

    def _serve_watch(
        self, request: _Handler, kind: Kind, namespace: str | None, query: dict[str, str]
    ) -> None:
        matches = self._matcher(query)
        since = query.get("resourceVersion")
        if since and not since.isdigit():
            raise bad_request(f'invalid resource version "{since}"')
        timeout = float(query.get("timeoutSeconds") or 1800)
        events = self.store.watch(
            kind.plural,
            namespace,
            since,
            matches,
            time.monotonic() + timeout,
            lambda: self._stopping.is_set() or request.client_gone(),
        )
        request.start_stream("application/json")
        for event in events:
            request.send_chunk(json.dumps(event).encode() + b"\n")
        request.end_stream()

    def _delete_collection(
        self, request: _Handler, kind: Kind, namespace: str, query: dict[str, str], body: bytes
    ) -> None:
        matches = self._matcher(query)
        items = [obj for obj in self.store.items(kind.plural, namespace) if matches(obj)]
        for obj in items:
            with contextlib.suppress(ApiError):
                self.delete(kind, namespace, obj["metadata"]["name"], query, body)
        request.send_json(200, self._list_of(kind, items))

    # Create and delete.

    def _stamp(self, kind: Kind, obj: dict, namespace: str) -> None:
        meta = obj["metadata"]
        meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now()
        if kind.plural in ("jobs", "deployments", "pods"):
            meta["generation"] = 1
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind

    def create(self, kind: Kind, namespace: str, obj: Any) -> dict:
        """What POST does: check, default, store (and record what was sent)."""
        if not isinstance(obj, dict):
            raise bad_request("the object provided is unrecognized (must be of type object)")
        sent = copy.deepcopy(obj)
        obj = copy.deepcopy(obj)
        obj.setdefault("apiVersion", kind.api_version)
        obj.setdefault("kind", kind.kind)
        if (obj["apiVersion"], obj["kind"]) != (kind.api_version, kind.kind):
            raise bad_request(
                f"the API version in the data ({obj['apiVersion']}) does not match the "
                f"expected API version ({kind.api_version})"
            )
        meta = obj.setdefault("metadata", {})
        if meta.get("namespace", namespace) != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace "
                "sent on the request"
            )
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        validate(kind, obj)
        self._stamp(kind, obj, namespace)
        DEFAULTS[kind.plural](self, obj)
        stored = self.store.insert(kind.plural, obj)
        self.created[kind.kind].append(sent)
        self._wake()
        return stored

    def delete(
        self, kind: Kind, namespace: str, name: str, query: dict[str, str], body: bytes
    ) -> dict:
        """What DELETE does, with DeleteOptions from the body or the query."""
        options = _json_body(body) if body.strip() else {}
        if not isinstance(options, dict):
            raise bad_request("invalid DeleteOptions")
        policy = options.get("propagationPolicy") or query.get("propagationPolicy")
        if options.get("orphanDependents") is True:
            policy = "Orphan"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise ApiError(
                422,
                "Invalid",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: '
                f'Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan", "nil"',
            )
        grace = options.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        obj = self.store.get(kind.plural, namespace, name)
        if obj is None:
            raise not_found(kind, name)
        if kind.plural == "pods":
            return self.delete_pod(namespace, name, None if grace is None else float(grace))
        # Jobs keep their pods unless told otherwise (batch/v1's legacy default).
        policy = policy or ("Orphan" if kind.plural == "jobs" else "Background")
        owner = self._owner_uid(obj)
        if policy == "Foreground":

            def mark(o: dict) -> None:
                o["metadata"].setdefault("deletionTimestamp", now())
                o["metadata"]["deletionGracePeriodSeconds"] = 0
                o["metadata"]["finalizers"] = ["foregroundDeletion"]

            marked = self.store.update(kind.plural, namespace, name, mark)
            self._delete_dependents(namespace, owner)
            self._wake()
            return marked or obj
        self.store.remove(kind.plural, namespace, name)
        if policy == "Background":
            self._delete_dependents(namespace, owner)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": _details(kind, name, uid=obj["metadata"]["uid"]),
        }

    def delete_pod(self, namespace: str, name: str, grace: float | None = None) -> dict:
        """Graceful deletion: the pod is marked, its processes are stopped, then it is removed."""
        pod = self.store.get("pods", namespace, name)
        if pod is None:
            raise not_found(KINDS["pods"], name)
        grace = (
            float(pod["spec"].get("terminationGracePeriodSeconds", 30)) if grace is None else grace
        )
        with self._lock:
            run = self.runs.get(pod["metadata"]["uid"])

        def mark(p: dict) -> None:
            p["metadata"].setdefault("deletionTimestamp", now())
            p["metadata"].setdefault("deletionGracePeriodSeconds", int(grace))

        marked = self.store.update("pods", namespace, name, mark) or pod
        if run is None:
            self.store.remove("pods", namespace, name)
        else:
            run.stop(grace)
        self._wake()
        return marked

    def _owner_uid(self, obj: dict) -> str:
        if obj["kind"] == "Deployment":
            return _replica_set(obj)[1]
        return obj["metadata"]["uid"]

    def _owned_pods(self, namespace: str, owner_uid: str) -> list[dict]:
        return [
            pod
            for pod in self.store.items("pods", namespace)
            if any(
                ref.get("uid") == owner_uid for ref in pod["metadata"].get("ownerReferences") or []
            )
        ]

    def _delete_dependents(self, namespace: str, owner_uid: str) -> None:
        for pod in self._owned_pods(namespace, owner_uid):
            with contextlib.suppress(ApiError):
                self.delete_pod(namespace, pod["metadata"]["name"])

    def _wake(self) -> None:
        with self.store.lock:
            self.store.changed.notify_all()

    # Logs.

    def _run_of(self, namespace: str, name: str, container: str | None = None) -> PodRun:
        pod = self.store.get("pods", namespace, name)
        if pod is None:
            raise not_found(KINDS["pods"], name)
        container = self._log_container(pod, container)
        with self._lock:
            run = self.runs.get(pod["metadata"]["uid"])
        if run is None:
            raise bad_request(
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
            )
        return run

    def _log_container(self, pod: dict, container: str | None) -> str:
        name = pod["metadata"]["name"]
        mains = [c["name"] for c in pod["spec"]["containers"]]
        inits = [c["name"] for c in pod["spec"].get("initContainers") or []]
        if not container:
            if len(mains) != 1:
                message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(mains)}]"
                if inits:
                    message += f" or one of the init containers: [{' '.join(inits)}]"
                raise bad_request(message)
            container = mains[0]
        if container not in mains + inits:
            raise bad_request(f"container {container} is not valid for pod {name}")
        return container

    def _serve_log(
        self, request: _Handler, namespace: str, name: str, query: dict[str, str]
    ) -> None:
        pod = self.store.get("pods", namespace, name)
        container = self._log_container(pod, query.get("container")) if pod else ""
        run = self._run_of(namespace, name, container)
        log = run.log_for(container, is_true(query.get("previous")))
        since = 0
        if query.get("sinceTime"):
            since = parse_rfc3339(query["sinceTime"])
        elif query.get("sinceSeconds"):
            since = time.time_ns() - int(query["sinceSeconds"]) * 1_000_000_000
        timestamps = is_true(query.get("timestamps"))
        follow = is_true(query.get("follow"))

        def render(lines: list[tuple[int, str]]) -> bytes:
            kept = [(ts, text) for ts, text in lines if ts >= since]
            return "".join(
                f"{rfc3339nano(ts)} {text}" if timestamps else text for ts, text in kept
            ).encode()

        with run.lock:
            sent = len(log.lines)
            first = log.lines[:sent]
        if query.get("tailLines"):
            first = first[-int(query["tailLines"]) :] if int(query["tailLines"]) > 0 else []
        request.start_stream("text/plain")
        request.send_chunk(render(first))
        while follow:
            with run.lock:
                if len(log.lines) == sent:
                    if (
                        log.done
                        or run.stopping.is_set()
                        or self._stopping.is_set()
                        or request.client_gone()
                    ):
                        break
                    run.lock.wait(0.5)
                    continue
                batch = log.lines[sent:]
                sent = len(log.lines)
            request.send_chunk(render(batch))
        request.end_stream()

    # Controllers and the kubelet's pod loop.

    def _control_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                for job in self.store.items("jobs"):
                    self._reconcile_job(job)
                for deployment in self.store.items("deployments"):
                    self._reconcile_deployment(deployment)
                self._start_pods()
            except Exception:
                traceback.print_exc()
            with self.store.lock:
                self.store.changed.wait(0.05)

    def _start_pods(self) -> None:
        for pod in self.store.items("pods"):
            meta = pod["metadata"]
            with self._lock:
                if meta["uid"] in self.runs or self._stopping.is_set():
                    continue
                if meta.get("deletionTimestamp"):
                    self.store.remove("pods", meta["namespace"], meta["name"])
                    continue
                run = self.runs[meta["uid"]] = PodRun(self, pod)
            run.start()

    def _pod_gone(self, run: PodRun) -> None:
        pod = self.store.get("pods", run.namespace, run.name)
        if pod is not None and pod["metadata"]["uid"] == run.uid:
            self.store.remove("pods", run.namespace, run.name)
        with self._lock:
            self.runs.pop(run.uid, None)
            self._wake()

    def _spawn_pod(
        self, namespace: str, template: dict, prefix: str, owner: dict, labels: dict
    ) -> None:
        meta = copy.deepcopy(template.get("metadata") or {})
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{prefix}-{random_suffix()}",
                "generateName": f"{prefix}-",
                "labels": {**(meta.get("labels") or {}), **labels},
                "ownerReferences": [owner],
            },
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        if meta.get("annotations"):
            pod["metadata"]["annotations"] = meta["annotations"]
        self._stamp(KINDS["pods"], pod, namespace)
        _default_pod(self, pod)
        with contextlib.suppress(ApiError):  # a clash of random names: the next pass retries
            self.store.insert("pods", pod)

    def _finish_foreground(self, plural: str, obj: dict) -> None:
        meta = obj["metadata"]
        if not self._owned_pods(meta["namespace"], self._owner_uid(obj)):
            self.store.remove(plural, meta["namespace"], meta["name"])

    def _job_verdict(self, job: dict, succeeded: int, failed: int) -> tuple[str, str, str] | None:
        spec = job["spec"]
        uid = job["metadata"]["uid"]
        deadline = spec.get("activeDeadlineSeconds")
        if deadline is not None and time.monotonic() - self._job_clock[uid] >= self.scaled(
            deadline
        ):
            return "Failed", "DeadlineExceeded", "Job was active longer than specified deadline"
        if succeeded >= spec.get("completions", 1):
            return "Complete", "CompletionsReached", "Reached expected number of succeeded pods"
        if failed > spec.get("backoffLimit", 6):
            return "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        return None

    def _reconcile_job(self, job: dict) -> None:
        meta, spec = job["metadata"], job["spec"]
        status = job.get("status") or {}
        uid, namespace = meta["uid"], meta["namespace"]
        if meta.get("deletionTimestamp"):
            self._finish_foreground("jobs", job)
            return
        if any(
            c["type"] in ("Complete", "Failed") and c["status"] == "True"
            for c in status.get("conditions") or []
        ):
            self._expire_job(job)
            return
        if spec.get("suspend"):
            return
        pods = self._owned_pods(namespace, uid)
        counted = self._job_counts.setdefault(uid, {})
        for pod in pods:
            if pod["status"].get("phase") in TERMINAL:
                counted[pod["metadata"]["uid"]] = pod["status"]["phase"]
        succeeded = sum(phase == "Succeeded" for phase in counted.values())
        failed = sum(phase == "Failed" for phase in counted.values())
        self._job_clock.setdefault(uid, time.monotonic())
        verdict = self._job_verdict(job, succeeded, failed)
        active = [
            p
            for p in pods
            if p["status"].get("phase") not in TERMINAL
            and not p["metadata"].get("deletionTimestamp")
        ]
        if verdict is None and not active:
            owner = {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": meta["name"],
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
            labels = {
                "batch.kubernetes.io/controller-uid": uid,
                "controller-uid": uid,
                "batch.kubernetes.io/job-name": meta["name"],
                "job-name": meta["name"],
            }
            self._spawn_pod(namespace, spec["template"], meta["name"], owner, labels)
            active = [{"status": {}}]
        if verdict and verdict[0] == "Failed":
            for pod in active:
                with contextlib.suppress(ApiError):
                    self.delete_pod(namespace, pod["metadata"]["name"])
            active = []
        new = _job_status(status, verdict, active, pods, succeeded, failed)
        if verdict:
            self._job_finished[uid] = time.monotonic()
        if new != status:
            self.store.update(
                "jobs", namespace, meta["name"], lambda j: j.__setitem__("status", new)
            )

    def _expire_job(self, job: dict) -> None:
        meta = job["metadata"]
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        finished = self._job_finished.setdefault(meta["uid"], time.monotonic())
        if ttl is not None and time.monotonic() - finished >= self.scaled(ttl):
            with contextlib.suppress(ApiError):
                self.delete(
                    KINDS["jobs"],
                    meta["namespace"],
                    meta["name"],
                    {"propagationPolicy": "Background"},
                    b"",
                )

    def _reconcile_deployment(self, deployment: dict) -> None:
        meta, spec = deployment["metadata"], deployment["spec"]
        namespace = meta["namespace"]
        if meta.get("deletionTimestamp"):
            self._finish_foreground("deployments", deployment)
            return
        rs_name, rs_uid, template_hash = _replica_set(deployment)
        pods = [
            p
            for p in self._owned_pods(namespace, rs_uid)
            if not p["metadata"].get("deletionTimestamp")
        ]
        wanted = spec.get("replicas", 1)
        owner = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": rs_name,
            "uid": rs_uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
        for _ in range(wanted - len(pods)):
            self._spawn_pod(
                namespace, spec["template"], rs_name, owner, {"pod-template-hash": template_hash}
            )
        for pod in pods[wanted:]:
            with contextlib.suppress(ApiError):
                self.delete_pod(namespace, pod["metadata"]["name"])
        status = deployment.get("status") or {}
        new = _deployment_status(deployment, rs_name, pods[:wanted])
        if new != status:
            self.store.update(
                "deployments", namespace, meta["name"], lambda d: d.__setitem__("status", new)
            )


# --- Defaults the API server and the controllers fill in ----------------------------------------


def _default_pod(cluster: FakeCluster, pod: dict) -> None:
    spec = pod["spec"]
    _default_pod_spec(spec)
    spec.setdefault("nodeName", NODE_NAME)
    pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


def _default_pod_spec(spec: dict) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        container.setdefault("imagePullPolicy", "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})


def _default_secret(cluster: FakeCluster, secret: dict) -> None:
    data = dict(secret.get("data") or {})
    for key, value in (secret.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(value.encode()).decode()
    if data:
        secret["data"] = data
    secret.setdefault("type", "Opaque")


def _default_service(cluster: FakeCluster, service: dict) -> None:
    spec = service.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    if spec.get("clusterIP") != "None":
        with cluster._lock:
            cluster._services += 1
            number = cluster._services
        spec["clusterIP"] = f"10.96.{number // 250}.{number % 250 + 2}"
    spec["clusterIPs"] = [spec["clusterIP"]] if spec.get("clusterIP") else []
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port["port"])
    service["status"] = {"loadBalancer": {}}


def _default_job(cluster: FakeCluster, job: dict) -> None:
    meta, spec = job["metadata"], job["spec"]
    uid = meta["uid"]
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    spec.setdefault("manualSelector", False)
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template_meta = spec["template"].setdefault("metadata", {})
    template_meta["labels"] = {
        **(template_meta.get("labels") or {}),
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": meta["name"],
        "controller-uid": uid,
        "job-name": meta["name"],
    }
    _default_pod_spec(spec["template"].setdefault("spec", {}))
    job["status"] = {}


def _default_deployment(cluster: FakeCluster, deployment: dict) -> None:
    spec = deployment["spec"]
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    spec.setdefault(
        "strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
    )
    _default_pod_spec(spec["template"].setdefault("spec", {}))
    deployment["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "1"
    deployment["status"] = {}


DEFAULTS: dict[str, Callable[[FakeCluster, dict], None]] = {
    "secrets": _default_secret,
    "services": _default_service,
    "pods": _default_pod,
    "jobs": _default_job,
    "deployments": _default_deployment,
}


def _replica_set(deployment: dict) -> tuple[str, str, str]:
    """The name, uid and pod-template-hash of the Deployment's (only) ReplicaSet."""
    template = json.dumps(deployment["spec"]["template"], sort_keys=True)
    digest = hashlib.sha256(template.encode()).hexdigest()
    template_hash = "".join(
        SUFFIX_ALPHABET[int(digest[i : i + 2], 16) % len(SUFFIX_ALPHABET)] for i in range(0, 20, 2)
    )
    name = f"{deployment['metadata']['name']}-{template_hash}"
    rs_uid = str(uuid.uuid5(uuid.UUID(deployment["metadata"]["uid"]), template_hash))
    return name, rs_uid, template_hash


def _is_ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or []
    )


def _job_condition(type_: str, reason: str, message: str) -> dict:
    return {
        "type": type_,
        "status": "True",
        "lastProbeTime": now(),
        "lastTransitionTime": now(),
        "reason": reason,
        "message": message,
    }


def _job_status(
    old: dict,
    verdict: tuple[str, str, str] | None,
    active: list[dict],
    pods: list[dict],
    succeeded: int,
    failed: int,
) -> dict:
    status: dict[str, Any] = {"startTime": old.get("startTime") or now()}
    if active:
        status["active"] = len(active)
    status["ready"] = sum(_is_ready(p) for p in active)
    if succeeded:
        status["succeeded"] = succeeded
    if failed:
        status["failed"] = failed
    status["terminating"] = sum(bool(p["metadata"].get("deletionTimestamp")) for p in pods)
    status["uncountedTerminatedPods"] = {}
    if verdict:
        type_, reason, message = verdict
        interim = "SuccessCriteriaMet" if type_ == "Complete" else "FailureTarget"
        status["conditions"] = [
            _job_condition(interim, reason, message),
            _job_condition(type_, reason, message),
        ]
        if type_ == "Complete":
            status["completionTime"] = now()
    return status


def _deployment_condition(old: dict, type_: str, ok: bool, reason: str, message: str) -> dict:
    status = "True" if ok else "False"
    previous = next((c for c in old.get("conditions") or [] if c["type"] == type_), None)
    if previous and (previous["status"], previous["reason"]) == (status, reason):
        return previous
    stamp = now()
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def _deployment_status(deployment: dict, rs_name: str, pods: list[dict]) -> dict:
    old = deployment.get("status") or {}
    wanted = deployment["spec"].get("replicas", 1)
    ready = sum(_is_ready(pod) for pod in pods)
    status: dict[str, Any] = {"observedGeneration": deployment["metadata"].get("generation", 1)}
    if pods:
        status["replicas"] = status["updatedReplicas"] = len(pods)
    if ready:
        status["readyReplicas"] = status["availableReplicas"] = ready
    if wanted - ready > 0:
        status["unavailableReplicas"] = wanted - ready
    available = ready >= wanted
    status["conditions"] = [
        _deployment_condition(
            old,
            "Available",
            available,
            "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
            "Deployment has minimum availability."
            if available
            else "Deployment does not have minimum availability.",
        ),
        _deployment_condition(
            old,
            "Progressing",
            True,
            "NewReplicaSetAvailable" if available else "ReplicaSetUpdated",
            f'ReplicaSet "{rs_name}" has successfully progressed.'
            if available
            else f'ReplicaSet "{rs_name}" is progressing.',
        ),
    ]
    return status


# --- HTTP -------------------------------------------------------------------------------------

_CORE = re.compile(
    r"/api/v1(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[a-z]+))?)?"
)
_GROUP = re.compile(
    r"/apis/(?P<group>[^/]+)/(?P<version>[^/]+)(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[a-z]+)"
    r"(?:/(?P<name>[^/]+)(?:/(?P<sub>[a-z]+))?)?"
)


def _route(path: str) -> tuple[Kind, str | None, str | None, str | None]:
    match = _CORE.fullmatch(path) or _GROUP.fullmatch(path)
    kind = KINDS.get(match["plural"]) if match else None
    group = match.groupdict().get("group") or "" if match else ""
    version = match.groupdict().get("version") or "v1" if match else ""
    if match is None or kind is None or (kind.group, kind.version) != (group, version):
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return kind, match["ns"], match["name"], match["sub"]


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as error:
        raise bad_request(f"couldn't get version/kind; json parse error: {error}") from None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cluster: FakeCluster
    streaming = False

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read their own output
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        self.streaming = False
        url = urlsplit(self.path)
        query = {
            key: values[-1] for key, values in parse_qs(url.query, keep_blank_values=True).items()
        }
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            self.cluster.handle(self, method, url.path, query, body)
        except ApiError as error:
            if self.streaming:
                self.close_connection = True
            else:
                self.send_json(error.code, error.status())
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # an answer, and the traceback for whoever reads the output
            traceback.print_exc()
            if not self.streaming:
                self.send_json(
                    500,
                    ApiError(500, "InternalError", f"Internal error occurred: {error}").status(),
                )

    def send_json(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.streaming = True
        self.wfile.flush()

    def send_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.streaming = False

    def client_gone(self) -> bool:
        """Whether the client closed its side of the connection (checked while a stream idles)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
