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
    check_flow_name,
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
    "check_flow_name",
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
