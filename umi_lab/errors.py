"""Errors that say where bad input is: the file, the record index and the field."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data, located by file, record index and field.

    >>> str(DataError("missing", file="a.json", record=3, field="conversations[2].from"))
    'a.json: record 3: field conversations[2].from: missing'
    """

    def __init__(self, message: str, *, file: str | None = None, record: int | str | None = None,
                 field: str | None = None):
        self.message, self.file, self.record, self.field = message, file, record, field
        where = []
        if file is not None:
            where.append(str(file))
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field {field}")
        super().__init__(": ".join([*where, message]))

    def located(self, *, file: str | None = None, record: int | str | None = None) -> DataError:
        """Return a copy with the file/record filled in where they were unknown."""
        return DataError(self.message, file=self.file or file,
                         record=self.record if self.record is not None else record, field=self.field)
