"""The GraphQL documents, character for character as Rasa 3.21's client sends them.

Keeping the same text (not just the same meaning) means a server that answers `rasa studio`
answers this command line too, and the other way round.
"""

from __future__ import annotations

LICENSE_DETAILS = (
    "query LicenseDetails {\n  licenseDetails {\n    valid\n    scopes\n    __typename\n  }\n}"
)

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

UPLOAD_MODERN_ASSISTANT = (
    "mutation UploadModernAssistant($input: UploadModernAssistantInput!)"
    "{\n  uploadModernAssistant(input: $input)\n}"
)

EXPORT_AS_ENCODED_YAML = (
    "query ExportAsEncodedYaml($input: ExportAsEncodedYamlInput!) {\n"
    "  exportAsEncodedYaml(input: $input) {\n"
    "    ... on ExportModernAsEncodedYamlOutput {\n"
    "      nlu\n"
    "      flows\n"
    "      domain\n"
    "      endpoints\n"
    "      config\n"
    "      prompts {\n"
    "        command_generator\n"
    "        contextual_response_rephraser\n"
    "        enterprise_search\n"
    "      }\n"
    "    }\n"
    "    ... on ExportClassicAsEncodedYamlOutput {\n"
    "      nlu\n"
    "      domain\n"
    "    }\n"
    "  }\n"
    "}\n"
)

# Rasa Studio's CI and conversation APIs (not used by Rasa's CLI; as Rasa Studio documents them).

MODEL_DOWNLOAD_URLS = (
    "query ModelDownloadUrls($input: ModelDownloadUrlsInput!) {"
    " modelDownloadUrls(input: $input) { modelFileUrl modelInputUrl } }"
)

RAW_CONVERSATIONS = (
    "query RawConversations($input: RawConversationsInput!) {"
    " rawConversations(input: $input) { conversations { id conversationEvents } count } }"
)
