-- Every column, with personal data masked: names and free text replaced,
-- identifiers and addresses reduced to their shape. (For joinable redaction
-- configure a table with keyed_hash(column), keyed by WEIR_REDACTION_KEY.)
SELECT
  audit_id,
  audit_event,
  regexp_replace(citizen_id, '[0-9A-Za-z]', 'x', 'g') AS citizen_id,
  channel,
  regexp_replace(session_id, '[0-9A-Za-z]', 'x', 'g') AS session_id,
  regexp_replace(ip_address, '[0-9]+', 'n', 'g') AS ip_address,
  event_time,
  time_stamp,
  CASE WHEN first_name IS NULL THEN NULL ELSE '***' END AS first_name,
  CASE WHEN last_name IS NULL THEN NULL ELSE '***' END AS last_name,
  CASE WHEN notes IS NULL THEN NULL ELSE '***' END AS notes
FROM auditlog
