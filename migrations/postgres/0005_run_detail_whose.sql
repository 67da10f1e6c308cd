-- Whose record a report line is about (ours, theirs or a linked pair):
-- without it a record added on both sides showed as two identical lines.
-- Lines written before this column existed have none.
alter table sync_run_detail add column whose text;
