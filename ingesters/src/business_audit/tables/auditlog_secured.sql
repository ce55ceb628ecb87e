-- What any analyst may read: the event, no person.
SELECT audit_id, audit_event, channel, event_time, time_stamp FROM auditlog
