"""Results tables (DESIGN.md §3, contract 11): tidy, one row per run, Parquet and CSV alike.

A table is written twice with the same columns in the same order: ``<stem>.parquet`` (typed,
for loading) and ``<stem>.csv`` (for reading and spreadsheets). Every row carries what
produced it (the commands add the resolved configuration, the seed and the versions as
columns); nested values (tables, lists) are stored as JSON text in both files, so the two
hold the same values. Reports are built only from these tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colsim.errors import ColsimError
from colsim.fileio import atomic_output

if TYPE_CHECKING:
    import pandas as pd

TABLE_FORMATS = (".parquet", ".csv")


def write_table(rows: Sequence[Mapping[str, Any]], stem: str | Path) -> tuple[Path, Path]:
    """Write ``rows`` as ``<stem>.parquet`` and ``<stem>.csv``; return both paths.

    Every row must have the same keys (the columns, in the first row's order). Each file is
    written completely or not at all.
    """
    import pandas as pd

    stem = Path(stem)
    columns = list(rows[0]) if rows else []
    for index, row in enumerate(rows):
        if list(row) != columns:
            raise ColsimError(f"row {index} of table {stem.name!r} has columns {list(row)}, "
                              f"not the table's {columns}")
    frame = pd.DataFrame([[_cell(row[c]) for c in columns] for row in rows], columns=columns)
    parquet, csv = stem.with_suffix(".parquet"), stem.with_suffix(".csv")
    with atomic_output(parquet, suffix=".parquet") as temporary:
        frame.to_parquet(temporary, index=False)
    with atomic_output(csv, suffix=".csv") as temporary:
        frame.to_csv(temporary, index=False)
    return parquet, csv


def merge_rows(rows: Sequence[Mapping[str, Any]], stem: str | Path,
               key: Sequence[str]) -> tuple[Path, Path]:
    """Add ``rows`` to the table at ``stem`` (created if absent), replacing the rows that have
    the same values in the ``key`` columns; return both paths.

    The columns are the union of the existing and the new ones, in first-seen order; a row
    without a column holds an empty cell there.
    """
    stem = Path(stem)
    existing: list[dict[str, Any]] = []
    parquet = stem.with_suffix(".parquet")
    if parquet.is_file():
        existing = _read(parquet).astype(object).where(lambda f: f.notna(), None) \
            .to_dict("records")
    new_keys = {tuple(_cell(row.get(k)) for k in key) for row in rows}
    kept = [row for row in existing if tuple(row.get(k) for k in key) not in new_keys]
    merged = [*kept, *rows]
    columns = list(dict.fromkeys(column for row in merged for column in row))
    return write_table([{c: row.get(c) for c in columns} for row in merged], stem)


def _cell(value: Any) -> Any:
    """Return ``value`` as a table cell: nested values become JSON text."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    return value


def load_results(path: str | Path, table: str | None = None) -> pd.DataFrame:
    """Load a results table into a pandas DataFrame.

    ``path`` is a table file (``.parquet`` or ``.csv``) or a results folder. In a folder,
    ``table`` names one table (its Parquet file, else its CSV); without ``table`` every table
    of the folder is loaded and stacked, with a ``table`` column naming each row's table.
    """
    import pandas as pd

    path = Path(path)
    if path.is_file():
        return _read(path)
    if not path.is_dir():
        raise ColsimError(f"results path {str(path)!r} does not exist")
    stems = sorted({p.stem for p in path.iterdir() if p.suffix in TABLE_FORMATS})
    if table is not None:
        if table not in stems:
            raise ColsimError(f"results folder {str(path)!r} has no table {table!r} (tables: "
                              f"{', '.join(stems) or 'none'})")
        stems = [table]
    elif not stems:
        raise ColsimError(f"results folder {str(path)!r} holds no .parquet or .csv table")
    frames = []
    for stem in stems:
        parquet = path / f"{stem}.parquet"
        frame = _read(parquet if parquet.is_file() else path / f"{stem}.csv")
        if table is not None:
            return frame
        frames.append(frame.assign(table=stem))
    return pd.concat(frames, ignore_index=True)


def _read(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix == ".csv":
            return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ColsimError(f"results table {str(path)!r} is corrupt or unreadable ({exc})") \
            from None
    raise ColsimError(f"results table {str(path)!r} must be a .parquet or .csv file")
