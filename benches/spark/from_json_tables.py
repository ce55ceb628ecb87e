"""calculationParts' typed tables under PySpark, as the speed baseline of
`weir-e2e-bench --modes tables --spark`: Spark's own `from_json(val,
<schema>)` over a full export's ORC files, `select("v.*")`, written as
Parquet, for each schema file Weir ships (the old job's
`export_to_hive_table`, written here from its description).

    from_json_tables.py EXPORT_DIR OUT_DIR SCHEMA_FILE… [--master local[2]]

Prints one JSON line: rows, job seconds (without Spark's start-up), rows/s.
"""

import argparse
import json
import os
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

p = argparse.ArgumentParser()
p.add_argument("export")
p.add_argument("out")
p.add_argument("schemas", nargs="+")
p.add_argument("--master", default="local[2]")
a = p.parse_args()

spark = (
    SparkSession.builder.master(a.master)
    .appName("from-json-tables-baseline")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.driver.memory", "4g")
    .config("spark.ui.enabled", "false")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
started = time.time()
export = spark.read.orc(a.export).select("val")
rows = 0
for path in a.schemas:
    text = open(path).read().strip()
    schema = StructType.fromJson(json.loads(text)) if text.startswith("{") else text
    name = os.path.splitext(os.path.basename(path))[0]
    typed = export.select(F.from_json("val", schema).alias("v")).select("v.*")
    typed.write.mode("overwrite").parquet(os.path.join(a.out, name))
    rows += spark.read.parquet(os.path.join(a.out, name)).count()
seconds = time.time() - started
print(json.dumps({"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds)}))
spark.stop()
