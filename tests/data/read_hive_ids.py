"""Prints, as one JSON list, [id, id_part] for every row of a day published
with `id_part=` directories, read by pyarrow's dataset API with Hive
partitioning (which un-escapes directory names as Hive and Spark do).

    read_hive_ids.py DAY_DIR parquet|orc
"""

import json
import sys

import pyarrow.dataset as ds

day, fmt = sys.argv[1], sys.argv[2]
table = ds.dataset(
    day,
    format=fmt,
    partitioning=ds.HivePartitioning.discover(infer_dictionary=False, segment_encoding="uri"),
    exclude_invalid_files=True,
    ignore_prefixes=["_", "."],
).to_table(columns=["id", "id_part"])
rows = table.to_pydict()
print(json.dumps([[i, p] for i, p in zip(rows["id"], rows["id_part"])]))
