"""Prints, as one JSON list, every row of a table directory written by Weir,
read by pyarrow's dataset API (Hive partition directories as columns):
timestamps as UTC ISO text with microseconds, decimals as text.

    read_table.py DIR parquet|orc
"""

import datetime
import decimal
import json
import sys

import pyarrow.dataset as ds


def plain(value):
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


if __name__ == "__main__":
    table_dir, fmt = sys.argv[1], sys.argv[2]
    table = ds.dataset(
        table_dir,
        format=fmt,
        partitioning=ds.HivePartitioning.discover(infer_dictionary=False),
        ignore_prefixes=["_", "."],
    ).to_table()
    print(json.dumps([plain(row) for row in table.to_pylist()]))
