"""Reads a day of Weir's ORC with readers Weir did not write and prints one
JSON object: what pyarrow and Spark 3.5 (hive and native ORC) saw.

    read_orc_day.py ORC_DAY_DIR JSONL_DAY_DIR [--spark] [--probe-id ID]

ORC_DAY_DIR holds `id_part=…/part-*.orc`; JSONL_DAY_DIR the same run's rows as
gzip JSON lines (`--format jsonl`). The script compares pyarrow's rows with
the JSON lines (id, id_part, db_type, last_modified, val), and with --spark
reads the directory with both `spark.sql.orc.impl` values, checks the types
Hive expects, and filters on one id with and without ORC filter push-down,
reporting the rows the scan produced each way (row groups skipped by the
files' statistics show as fewer scanned rows).
"""

import argparse
import datetime as dt
import glob
import gzip
import json
import os
import sys

import pyarrow.orc as orc


def orc_rows(day):
    rows = []
    files = sorted(glob.glob(os.path.join(day, "**", "*.orc"), recursive=True))
    for path in files:
        part = os.path.basename(os.path.dirname(path))
        id_part = None
        if part.startswith("id_part="):
            from urllib.parse import unquote

            id_part = unquote(part[len("id_part="):])
        table = orc.ORCFile(path).read()
        cols = table.to_pydict()
        for i in range(table.num_rows):
            lm = cols["last_modified"][i]
            rows.append(
                (
                    cols["id"][i],
                    cols["id_part"][i] if "id_part" in cols else id_part,
                    cols["db_type"][i],
                    lm.replace(tzinfo=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                    cols["val"][i],
                )
            )
    schema = orc.ORCFile(files[0]).schema if files else None
    return files, rows, schema


def jsonl_rows(day):
    rows = []
    for path in sorted(glob.glob(os.path.join(day, "**", "*.jsonl.gz"), recursive=True)):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                rows.append((r["id"], r["id_part"], r["db_type"], r["last_modified"], r["val"]))
    return rows


def spark_checks(day, probe_id, total):
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("weir-orc-readback")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    out = {}
    for impl in ("hive", "native"):
        spark.conf.set("spark.sql.orc.impl", impl)
        df = spark.read.orc(day)
        types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        rows = df.count()
        lm = df.agg({"last_modified": "min"}).collect()[0][0]
        out[impl] = {"types": types, "rows": rows, "min_last_modified": str(lm)}
    # Push-down: the scan's own row count with and without the files'
    # statistics (native reader, vectorised).
    spark.conf.set("spark.sql.orc.impl", "native")
    scanned = {}
    for pushdown in ("true", "false"):
        spark.conf.set("spark.sql.orc.filterPushdown", pushdown)
        df = spark.read.orc(day).filter(f"id = '{probe_id}'")
        found = df.count()
        df2 = spark.read.orc(day).filter(f"id = '{probe_id}'")
        df2.collect()
        plan = df2._jdf.queryExecution().executedPlan()
        scanned[pushdown] = {"found": found, "scan_rows": scan_rows(plan)}
    out["pushdown"] = scanned
    spark.stop()
    return out


def scan_rows(plan):
    """numOutputRows of the file scan node in an executed plan."""
    nodes = [plan]
    while nodes:
        node = nodes.pop()
        name = node.nodeName()
        if "Scan" in name:
            metrics = node.metrics()
            if metrics.contains("numOutputRows"):
                return int(metrics.apply("numOutputRows").value())
        children = node.children()
        for i in range(children.size()):
            nodes.append(children.apply(i))
        # Adaptive and whole-stage wrappers hide the scan one level down.
        for attr in ("executedPlan", "child"):
            try:
                inner = getattr(node, attr)()
                if inner is not None and hasattr(inner, "nodeName"):
                    nodes.append(inner)
            except Exception:
                pass
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("orc_day")
    p.add_argument("jsonl_day")
    p.add_argument("--spark", action="store_true")
    p.add_argument("--probe-id")
    a = p.parse_args()
    files, got, schema = orc_rows(a.orc_day)
    want = jsonl_rows(a.jsonl_day)
    result = {
        "orc_files": len(files),
        "orc_rows": len(got),
        "jsonl_rows": len(want),
        "equal": sorted(got) == sorted(want),
        "pyarrow_types": {f.name: str(f.type) for f in schema} if schema else {},
        "fallback_1980_rows": sum(1 for r in got if r[3].startswith("1980-01-01")),
    }
    if a.spark:
        result["spark"] = spark_checks(a.orc_day, a.probe_id, len(got))
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
