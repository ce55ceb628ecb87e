"""The old job's calculationParts merge window under PySpark, as the speed
baseline of `weir-e2e-bench --modes merge --spark`: union(previous export,
daily) -> repartitionByRange(4096, id_part, id) -> row_number() over
partitionBy(id_part, id).orderBy(db_type) == 1 -> ORC partitioned by
id_part, zlib (DWP's `update()`, as shared/reference/README.md describes
it; written here from that description, not copied).

    merge_window.py EXPORT_DIR DAILY_DIR OUT_DIR [--master local[2]] [--range-partitions 4096]

Prints one JSON line: rows in, rows out, job seconds (without Spark's
start-up) and rows per second.
"""

import argparse
import json
import time

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

p = argparse.ArgumentParser()
p.add_argument("export")
p.add_argument("daily")
p.add_argument("out")
p.add_argument("--master", default="local[2]")
p.add_argument("--range-partitions", type=int, default=4096)
a = p.parse_args()

spark = (
    SparkSession.builder.master(a.master)
    .appName("merge-window-baseline")
    .config("spark.sql.orc.impl", "hive")
    .config("spark.serializer", "org.apache.spark.serializer.KryoSerializer")
    .config("spark.driver.memory", "4g")
    .config("spark.ui.enabled", "false")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
started = time.time()
cols = ["id", "id_part", "db_type", "val"]
export = spark.read.orc(a.export).select(*cols)
daily = spark.read.orc(a.daily).select(*cols)
union = export.unionByName(daily)
window = Window.partitionBy("id_part", "id").orderBy("db_type")
merged = (
    union.repartitionByRange(a.range_partitions, "id_part", "id")
    .withColumn("row_number", F.row_number().over(window))
    .filter(F.col("row_number") == 1)
)
merged.write.mode("overwrite").option("compression", "zlib").partitionBy("id_part").orc(a.out)
seconds = time.time() - started
rows_in = spark.read.orc(a.export).count() + spark.read.orc(a.daily).count()
rows_out = spark.read.orc(a.out).count()
print(json.dumps({"rows_in": rows_in, "rows_out": rows_out, "seconds": round(seconds, 2),
                  "rows_per_s": round(rows_in / seconds, 1)}))
spark.stop()
