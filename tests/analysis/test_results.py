"""Results tables: Parquet and CSV with the same columns and values; loading folders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from colsim.analysis.results import load_results, write_table
from colsim.errors import ColsimError

ROWS = [
    {"run": "mdm_baseline", "cycles": 1200, "reduction": 0.0, "tau": None,
     "config": {"systolic": {"rows": 32}}},
    {"run": "mdm_hotcold_tau0.164", "cycles": 900, "reduction": 0.25, "tau": 0.164,
     "config": {"systolic": {"rows": 32}}},
]


def test_parquet_and_csv_hold_the_same_table(tmp_path: Path) -> None:
    parquet, csv = write_table(ROWS, tmp_path / "results")
    from_parquet, from_csv = pd.read_parquet(parquet), pd.read_csv(csv)
    assert list(from_parquet.columns) == list(from_csv.columns) == list(ROWS[0])
    assert from_parquet["cycles"].tolist() == from_csv["cycles"].tolist() == [1200, 900]
    assert from_parquet["config"][0] == from_csv["config"][0] == '{"systolic": {"rows": 32}}'
    assert pd.isna(from_parquet["tau"][0]) and from_parquet["tau"][1] == 0.164
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv", "results.parquet"]


def test_load_results_reads_a_folder_a_table_and_a_file(tmp_path: Path) -> None:
    write_table(ROWS, tmp_path / "results")
    write_table([{"model": "mdm", "cycles": 1200}], tmp_path / "baseline")
    stacked = load_results(tmp_path)
    assert sorted(set(stacked["table"])) == ["baseline", "results"]
    assert len(stacked) == 3
    assert load_results(tmp_path, "results")["run"].tolist() == [r["run"] for r in ROWS]
    assert load_results(tmp_path / "baseline.csv")["model"].tolist() == ["mdm"]


def test_mismatched_rows_and_bad_paths_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ColsimError, match=r"row 1 of table 'bad' has columns \['a'\]"):
        write_table([{"a": 1, "b": 2}, {"a": 1}], tmp_path / "bad")
    assert not list(tmp_path.iterdir())
    with pytest.raises(ColsimError, match="does not exist"):
        load_results(tmp_path / "missing")
    with pytest.raises(ColsimError, match=r"holds no \.parquet or \.csv table"):
        load_results(tmp_path)
    write_table(ROWS, tmp_path / "results")
    with pytest.raises(ColsimError, match=r"has no table 'reduction' \(tables: results\)"):
        load_results(tmp_path, "reduction")
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(ColsimError, match="is corrupt or unreadable"):
        load_results(tmp_path / "broken.parquet")
