-- The day's audit documents as they came (the old job's auditlog_raw: one
-- `val` string per record, partitioned by date_str).
SELECT val FROM day_rows
