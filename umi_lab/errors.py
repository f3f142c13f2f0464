"""Errors that say where bad input is: the file, the record index and the field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


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


def require_strings(record: Any, keys: Iterable[str], *, file: str | None = None, index: int | None = None) -> dict:
    """``record`` when it is an object whose ``keys`` all hold strings; else a DataError naming file, record
    and field. Example: ``require_strings({"input": "x", "target": "y"}, ("input", "target"))``."""
    if not isinstance(record, dict):
        raise DataError(f"expected an object, got {type(record).__name__}", file=file, record=index)
    for key in keys:
        if key not in record:
            raise DataError("missing", file=file, record=index, field=key)
        if not isinstance(record[key], str):
            raise DataError(f"expected a string, got {type(record[key]).__name__}", file=file, record=index,
                            field=key)
    return record
