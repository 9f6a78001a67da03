"""The pages of the flows app: the flows list and history (`flows`), the flow canvas with its
side panel (`canvas`), and the responses, slots and custom actions pages (`cms`)."""
