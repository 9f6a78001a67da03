"""An assistant's content between rows and Rasa files: export, import, the check every change
goes through, where items are used, and reading and packing the files themselves.

The public names are exported here (`content.export_project`, `content.import_files`, ...);
each lives in the module that the table below names.

    export.py    rows -> engine.formats Project -> files
    replace.py   files -> validated Project -> rows (full replace or merge)
    checks.py    check_change / ContentInvalid: the gate for single changes
    usages.py    which flows and responses use an item
    archives.py  uploads, project folders and zips, within limits
"""

from apps.projects.content.checks import (
    ContentInvalid,
    ShownProblem,
    check_change,
    relative_problems,
)
from apps.projects.content.export import (
    STORED,
    authored_key_order,
    binary_files_base64,
    export_archive_files,
    export_files,
    export_project,
    knowledge_documents,
    knowledge_folders,
)
from apps.projects.content.replace import (
    ImportReport,
    import_files,
    merge_projects,
    no_rasa_files_problem,
    replace_content,
)
from apps.projects.content.usages import Usage, distinct_flows, triggering_flows, usages

__all__ = [
    "STORED",
    "ContentInvalid",
    "ImportReport",
    "ShownProblem",
    "Usage",
    "authored_key_order",
    "binary_files_base64",
    "check_change",
    "distinct_flows",
    "export_archive_files",
    "export_files",
    "export_project",
    "import_files",
    "knowledge_documents",
    "knowledge_folders",
    "merge_projects",
    "no_rasa_files_problem",
    "relative_problems",
    "replace_content",
    "triggering_flows",
    "usages",
]
