from apps.flows.tests.conftest import ed_client, editor, shop  # noqa: F401
