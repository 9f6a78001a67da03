"""Changes to an assistant's flows (`flows.py`) and to the responses, slots and custom actions
they use (`domain.py`). The public names are exported here: `services.save_flow`, ..."""

from apps.flows.services.domain import (
    delete_action,
    delete_response,
    delete_slot,
    save_action,
    save_response,
    save_slot,
    slot_spec,
)
from apps.flows.services.flows import (
    Additions,
    StaleFlow,
    check_flow_name,
    check_revision,
    create_flow,
    delete_flow,
    duplicate_flow,
    edit_steps,
    parse_definition,
    record_version,
    rename_flow,
    restore_version,
    save_flow,
    validate_flow,
)

__all__ = [
    "Additions",
    "StaleFlow",
    "check_flow_name",
    "check_revision",
    "create_flow",
    "delete_action",
    "delete_flow",
    "delete_response",
    "delete_slot",
    "duplicate_flow",
    "edit_steps",
    "parse_definition",
    "record_version",
    "rename_flow",
    "restore_version",
    "save_action",
    "save_flow",
    "save_response",
    "save_slot",
    "slot_spec",
    "validate_flow",
]
