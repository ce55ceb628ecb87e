-- Typed audit events. from_json reads `val` as Spark does (a value that does
-- not fit its column is NULL, the rest of the row is kept), as the old job's
-- Hive JsonSerDe with ignore.malformed.json did.
SELECT
  a['AUDIT_ID'] AS audit_id,
  a['AUDIT_EVENT'] AS audit_event,
  a['CITIZEN_ID'] AS citizen_id,
  a['CHANNEL'] AS channel,
  a['SESSION_ID'] AS session_id,
  a['IP_ADDRESS'] AS ip_address,
  a['EVENT_DATE_TIME']['d_date'] AS event_time,
  a['TIME_STAMP'] AS time_stamp,
  a['DETAILS']['name']['first'] AS first_name,
  a['DETAILS']['name']['last'] AS last_name,
  a['DETAILS']['notes'] AS notes,
  a['DETAILS']['items'] AS items
FROM (
  SELECT from_json(val, 'AUDIT_ID STRING, AUDIT_EVENT STRING, CITIZEN_ID STRING,
    CHANNEL STRING, SESSION_ID STRING, IP_ADDRESS STRING,
    EVENT_DATE_TIME STRUCT<d_date: TIMESTAMP>, TIME_STAMP STRING,
    DETAILS STRUCT<name: STRUCT<first: STRING, last: STRING>, notes: STRING,
                   items: ARRAY<STRING>>') AS a
  FROM day_rows
)
