-- Integrated systems: where the other system is (a database or a REST API),
-- its encrypted credentials and its schedule; every run with its report;
-- the snapshots change tracking compares against; the lease that keeps runs
-- of one connection from overlapping across server instances; the outbox
-- state of pending changes; value mappings between the systems' codes.

-- Where the system is and what to read (JSON, no secrets).
alter table connection add column endpoint text not null default '{}';
-- The credentials (database URL or API token), encrypted with the server's
-- key: base64 of nonce and ciphertext. Never sent back.
alter table connection add column secret text;
-- When the scheduler runs it next, and when it last ran a full refresh.
alter table connection add column next_run_at integer;
alter table connection add column last_full_at integer;

-- One run of a scope: a scheduled or manual run of an integrated system, or
-- a file import. `counts` holds the report's counts by action (JSON).
create table sync_run (
    run_id        integer primary key autoincrement,
    connection_id integer not null references connection (connection_id) on delete cascade,
    kind          text    not null check (kind in ('customer', 'employee')),
    -- 'schedule', 'manual' or 'import'.
    trigger_kind  text    not null,
    full_refresh  integer not null default 0,
    -- 'running', 'done', 'failed', 'waiting' (for an administrator to
    -- confirm deletions over the threshold), 'cancelled'.
    status        text    not null,
    started_at    integer not null,
    finished_at   integer,
    records_seen  integer not null default 0,
    counts        text    not null default '{}',
    -- Change tracking: added, changed, removed, unchanged (JSON).
    changes       text    not null default '{}',
    -- Their column for each field, as the run read them (JSON).
    columns       text    not null default '{}',
    message       text,
    import_id     integer references sync_import (import_id) on delete set null,
    created_by    integer references app_user (app_user_id) on delete set null
);
create index sync_run_scope on sync_run (connection_id, kind, run_id);
create index sync_run_started on sync_run (started_at);

-- One line per record of a run's report.
create table sync_run_detail (
    run_id   integer not null references sync_run (run_id) on delete cascade,
    seq      integer not null,
    outcome  text    not null,
    number   text    not null,
    name     text    not null,
    email    text    not null,
    phone    text    not null,
    -- Changed fields, before and after (JSON list).
    changes  text    not null,
    message  text,
    primary key (run_id, seq)
);
create index sync_run_detail_outcome on sync_run_detail (run_id, outcome, seq);

-- What the previous run saw of each side, for change tracking
-- (sync::track's encoding: hashes, not values).
create table sync_snapshot (
    connection_id integer not null references connection (connection_id) on delete cascade,
    kind          text    not null,
    side          text    not null check (side in ('ours', 'theirs')),
    content       blob    not null,
    created_at    integer not null,
    primary key (connection_id, kind, side)
);

-- At most one instance runs a connection at a time: the holder renews the
-- lease while it works; an expired lease may be taken over.
create table sync_lease (
    connection_id integer primary key references connection (connection_id) on delete cascade,
    holder        text    not null,
    expires_at    integer not null
);

-- The outbox: pending changes of integrated systems are sent with their
-- idempotency key, retried with backoff, and need attention after repeated
-- failures.
alter table sync_pending add column attempts integer not null default 0;
alter table sync_pending add column next_attempt_at integer;
alter table sync_pending add column last_error text;

-- Their code -> our value, per connection, kind and field (e.g. sales rep
-- code S01 -> anna.admin).
create table value_mapping (
    connection_id integer not null references connection (connection_id) on delete cascade,
    kind          text    not null,
    field         text    not null,
    their_value   text    not null,
    our_value     text    not null,
    primary key (connection_id, kind, field, their_value)
);
