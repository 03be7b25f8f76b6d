"""What an import tells: the report, its rejected rows, and the error for a file that can't be imported."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from robocall.phones import mask
from robocall.tabular import TableError, csv_text


class ImportFileError(TableError):
    """The file can't be imported at all (missing, unreadable, no phone column...)."""


@dataclass(frozen=True)
class RejectedRow:
    row: int
    """Row number as the spreadsheet shows it (header = row 1 in a plain file)."""
    reason: str
    """What is wrong, with the raw values of the bad cells: for the staff who own the list."""
    raw_phone: str = ""
    """The phone cell as written."""
    log_reason: str = ""
    """``reason`` with phone numbers masked: what may go to logs."""

    @property
    def masked_phone(self) -> str:
        return mask(self.raw_phone)

    def __str__(self) -> str:
        return f"hàng {self.row} / row {self.row}: {self.reason}"


@dataclass
class ImportReport:
    path: str
    source_list: str
    file_type: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int = 0
    columns: dict[str, list[str]] = field(default_factory=dict)
    """field -> header(s) it was read from."""
    confidence: dict[str, int] = field(default_factory=dict)
    """field -> how sure the header match is, in % (100: a known header, or --column)."""
    ignored_columns: list[str] = field(default_factory=list)
    read: int = 0
    """Non-blank rows after the header: inserted + updated + rejected."""
    inserted: int = 0
    updated: int = 0
    blank: int = 0
    minor_problems: int = 0
    """Rows imported with a field left empty (an unreadable birth year...)."""
    monitoring_over: int = 0
    """Imported contacts whose monitoring period ended before today."""
    rejected_rows: list[RejectedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.rejected_rows)

    def summary(self) -> str:
        text = (
            f"{self.read} rows read: {self.inserted} new, {self.updated} updated, {self.rejected} rejected"
        )
        if self.blank:
            text += f" ({self.blank} blank rows skipped)"
        return text

    def summary_vi(self) -> str:
        text = (f"đọc {self.read} hàng: {self.inserted} mới, {self.updated} cập nhật, {self.rejected} bị từ chối")
        if self.blank:
            text += f" (bỏ qua {self.blank} hàng trống)"
        return text

    def write_csv(self, path: str | Path) -> None:
        """The rejected rows as CSV (row, reason, phone), UTF-8 with BOM so Excel shows Vietnamese."""
        text = csv_text(["row", "reason", "phone"], ([bad.row, bad.reason, bad.raw_phone] for bad in self.rejected_rows))
        Path(path).write_bytes(text.encode("utf-8"))
