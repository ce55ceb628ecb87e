"""Prints, as one JSON object, a Delta table as delta-rs (the `deltalake`
package) reads it: its version, its rows (partition columns included;
timestamps as UTC ISO text, decimals as text), the operations of its
history, and the rows pyarrow reads from the files its log lists.

    read_delta.py TABLE_URI [STORAGE_OPTIONS_JSON]
"""

import json
import os
import sys

import pyarrow.parquet as pq
from deltalake import DeltaTable

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from read_table import plain  # noqa: E402

uri = sys.argv[1]
options = json.loads(sys.argv[2]) if len(sys.argv) > 2 else None
table = DeltaTable(uri, storage_options=options)
rows = [plain(r) for r in table.to_pyarrow_table().to_pylist()]
files = table.file_uris()
listed = 0
if options is None:
    listed = sum(pq.read_metadata(f.removeprefix("file://")).num_rows for f in files)
print(
    json.dumps(
        {
            "version": table.version(),
            "rows": rows,
            "history": [h["operation"] for h in reversed(table.history())],
            "files": len(files),
            "listed_rows": listed,
        }
    )
)
# Leave without the interpreter's teardown: the `deltalake` package's native
# threads and pyarrow's can meet their destructors in the wrong order at exit
# and abort ("terminate called without an active exception", delta-rs #2184),
# after everything above was read and printed. It did once in CI here.
sys.stdout.flush()
os._exit(0)
