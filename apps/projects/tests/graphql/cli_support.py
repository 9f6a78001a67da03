"""The requests Rasa's `rasa studio` clients send, spelled as the clients spell them.

The documents are copied from the client code of Rasa Pro 3.21 and 3.12; the upload bodies in
`fixtures/` were built by running the 3.21 client's own serialisation (`get_flows_as_json`,
`RasaYAMLWriter`, `dump_obj_as_yaml_to_string`) over the projects named in their file names.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

from ruamel.yaml import YAML

FIXTURES = Path(__file__).parent / "fixtures"

LICENSE_DETAILS = {
    "operationName": "LicenseDetails",
    "query": (
        "query LicenseDetails {\n  licenseDetails {\n    valid\n    scopes\n    __typename\n  }\n}"
    ),
    "variables": {},
}
ASSISTANT_BY_NAME = (
    "query AssistantByName($input: AssistantByNameInput!) {"
    " assistantByName(input: $input) {"
    " ... on Assistant { id name mode }"
    " ... on AssistantByName_AssistantNotFound { _ }"
    " }"
    "}"
)
DELETE_ASSISTANT = (
    "mutation DeleteAssistant($input: DeleteAssistantInput!) {"
    " deleteAssistant(input: $input) {"
    " ... on Assistant { id name }"
    " ... on DeleteAssistant_AssistantNotFound { _ }"
    " }"
    "}"
)
UPLOAD_MODERN = (
    "mutation UploadModernAssistant($input: UploadModernAssistantInput!)"
    "{\n  uploadModernAssistant(input: $input)\n}"
)
IMPORT_CLASSIC = (
    "mutation ImportFromEncodedYaml($input: ImportFromEncodedYamlInput!)"
    "{\n  importFromEncodedYaml(input: $input)\n}"
)
EXPORT_321 = (
    "query ExportAsEncodedYaml($input: ExportAsEncodedYamlInput!) {\n"
    "  exportAsEncodedYaml(input: $input) {\n"
    "    ... on ExportModernAsEncodedYamlOutput {\n"
    "      nlu\n      flows\n      domain\n      endpoints\n      config\n"
    "      prompts {\n        command_generator\n        contextual_response_rephraser\n"
    "        enterprise_search\n      }\n"
    "    }\n"
    "    ... on ExportClassicAsEncodedYamlOutput {\n      nlu\n      domain\n    }\n"
    "  }\n"
    "}\n"
)
EXPORT_312 = (
    "query ExportAsEncodedYaml($input: ExportAsEncodedYamlInput!) "
    "{ exportAsEncodedYaml(input: $input) "
    "{ ... on ExportModernAsEncodedYamlOutput "
    "{ nlu flows domain endpoints config } "
    "... on ExportClassicAsEncodedYamlOutput "
    "{ nlu domain }}}"
)


def by_name(name: str) -> dict:
    return {"query": ASSISTANT_BY_NAME, "variables": {"input": {"assistantName": name}}}


def delete(assistant_id: str) -> dict:
    return {"query": DELETE_ASSISTANT, "variables": {"input": {"assistantId": assistant_id}}}


def export(name: str, document: str = EXPORT_321, objects: list | None = None) -> dict:
    body: dict = {"query": document, "variables": {"input": {"assistantName": name}}}
    if objects:
        body["variables"]["input"]["objects"] = objects
    return body


def upload(name: str, **parts) -> dict:
    """An UploadModernAssistant body as 3.21 builds it: only the parts given, base64."""
    payload = {k: b64(v) for k, v in parts.items() if k != "prompts" and v is not None}
    if parts.get("prompts"):
        payload["prompts"] = parts["prompts"]
    return {"query": UPLOAD_MODERN, "variables": {"input": {"assistantName": name, **payload}}}


def fixture(name: str, assistant: str | None = None) -> dict:
    body = json.loads((FIXTURES / name).read_text())
    if assistant is not None:
        body = copy.deepcopy(body)
        body["variables"]["input"]["assistantName"] = assistant
    return body


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def unb64(value: str) -> str:
    return base64.b64decode(value).decode("utf-8")


def part(body: dict, name: str):
    """A part of an upload body, decoded and read as YAML."""
    return load(unb64(body["variables"]["input"][name]))


def load(text: str):
    """YAML 1.2, as Rasa reads and writes it (`Yes` is a string)."""
    return YAML(typ="safe", pure=True).load(text)


def post(client, body: dict, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    # The clients send `json=` with requests: the body is JSON, as here.
    return client.post(
        "/api/graphql/", json.dumps(body), content_type="application/json", **headers
    )
