"""Contacts: the people followed up by robot calls and SMS, imported from CDC lists."""

from robocall.contacts.importer import (
    ColumnMapping,
    DateOrder,
    ImportFileError,
    ImportReport,
    RejectedRow,
    import_contacts,
)

__all__ = ["ColumnMapping", "DateOrder", "ImportFileError", "ImportReport", "RejectedRow", "import_contacts"]
