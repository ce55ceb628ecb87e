"""Reads Weir's dailies and exports with pyarrow (a reader Weir did not
write) into the JSON lines `shared/reference/check_merge.py` checks, and
writes an export as the old job left it (ORC, `id_part=` directories,
`id`, `db_type`, `val`, `row_number`, rows in no particular order).

    merge_rows.py export DIR OUT.jsonl.gz
        rows {id, id_part, db_type, val, last_modified}: id_part directories
        in order of their (unescaped) value, each directory's files in name
        order, each file's rows in file order (so the checker sees the
        order Weir wrote)
    merge_rows.py daily DIR YYYY-MM-DD OUT.jsonl.gz
        the same with export_year/month/day
    merge_rows.py old-export DIR < ROWS.jsonl
        writes rows {id, id_part, db_type, val} as the old job's export,
        two files per id_part in reverse id order, and _SUCCESS
"""

import gzip
import json
import os
import sys
import urllib.parse

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq


def read_file(path):
    if path.endswith(".parquet"):
        return pq.read_table(path)
    return orc.ORCFile(path).read()


def rows_of(root):
    parts = {}
    for entry in os.listdir(root):
        if entry.startswith("id_part="):
            parts[urllib.parse.unquote(entry[len("id_part="):])] = os.path.join(root, entry)
    for part in sorted(parts):
        d = parts[part]
        for name in sorted(os.listdir(d)):
            if name.startswith((".", "_")):
                continue
            table = read_file(os.path.join(d, name)).to_pydict()
            for i in range(len(table["id"])):
                lm = table.get("last_modified", [None] * len(table["id"]))[i]
                yield {
                    "id": table["id"][i],
                    "id_part": part,
                    "db_type": table["db_type"][i],
                    "val": table["val"][i],
                    "last_modified": lm.isoformat() if lm is not None else None,
                }


def write(out, rows):
    with gzip.open(out, "wt", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    cmd = sys.argv[1]
    if cmd == "export":
        write(sys.argv[3], rows_of(sys.argv[2]))
    elif cmd == "daily":
        y, m, d = (int(x) for x in sys.argv[3].split("-"))
        write(sys.argv[4], (dict(r, export_year=y, export_month=m, export_day=d) for r in rows_of(sys.argv[2])))
    elif cmd == "old-export":
        root = sys.argv[2]
        by_part = {}
        for line in sys.stdin:
            if line.strip():
                r = json.loads(line)
                by_part.setdefault(r["id_part"], []).append(r)
        for part, rows in by_part.items():
            d = os.path.join(root, "id_part=" + urllib.parse.quote(part, safe=""))
            os.makedirs(d, exist_ok=True)
            rows.sort(key=lambda r: r["id"], reverse=True)
            half = (len(rows) + 1) // 2
            for n, chunk in enumerate([rows[:half], rows[half:]]):
                if not chunk:
                    continue
                table = pa.table({
                    "id": [r["id"] for r in chunk],
                    "db_type": [r["db_type"] for r in chunk],
                    "val": [r["val"] for r in chunk],
                    "row_number": pa.array([1] * len(chunk), pa.int32()),
                })
                orc.write_table(table, os.path.join(d, f"part-{n:05d}-old.c000.zlib.orc"), compression="zlib")
        open(os.path.join(root, "_SUCCESS"), "w").close()
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
