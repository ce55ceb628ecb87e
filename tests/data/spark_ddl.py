"""Registers tables with the DDL `weir tables ddl` printed (read from stdin)
in a Spark 3.5 session with Hive support and a throwaway metastore, then
prints, as one JSON object, the answer of each query given:

    weir tables ddl … | spark_ddl.py WORK_DIR 'SELECT …' …
"""

import json
import os
import sys

from pyspark.sql import SparkSession

work = sys.argv[1]
spark = (
    SparkSession.builder.master("local[1]")
    .appName("weir-ddl")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.warehouse.dir", os.path.join(work, "warehouse"))
    .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={work}")
    .config("spark.sql.session.timeZone", "UTC")
    .enableHiveSupport()
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
ddl = sys.stdin.read()
for statement in ddl.split(";\n"):
    lines = [l for l in statement.splitlines() if l.strip() and not l.startswith("--")]
    if lines:
        spark.sql("\n".join(lines))
answers = {}
for query in sys.argv[2:]:
    answers[query] = [list(row) for row in spark.sql(query).collect()]
print(json.dumps(answers, default=str))
spark.stop()
