-- The synchronization window's state, per connection and kind of record
-- (a "scope"): the imports of their data, links between our records and
-- theirs (with the base, the values at the last sync), records marked
-- "Don't synchronize", pending changes to their side, the audit trail of
-- every action and the answers kept for idempotency keys.

-- One row per connection and kind; `revision` increases with every import
-- and action, and updating it first serializes writers of one scope.
create table sync_scope (
    connection_id integer not null references connection (connection_id) on delete cascade,
    kind          text    not null check (kind in ('customer', 'employee')),
    revision      integer not null default 0,
    primary key (connection_id, kind)
);

-- Increases with every write to our register of a kind (which every
-- connection's window of that kind shows): with the scope's revision it
-- names exactly the state a cached window was computed from.
create table register_revision (
    kind     text    primary key,
    revision integer not null default 0
);
insert into register_revision (kind, revision) values ('customer', 0), ('employee', 0);

-- An uploaded file of their records, kept as uploaded with its checksum.
-- The newest import of a scope is their side of the window.
create table sync_import (
    import_id     integer primary key autoincrement,
    connection_id integer not null references connection (connection_id) on delete cascade,
    kind          text    not null,
    file_name     text    not null,
    content       blob    not null,
    sha256        text    not null,
    size_bytes    integer not null,
    -- The reader's options (overrides and column mapping), JSON.
    options       text    not null,
    record_count  integer not null,
    error_count   integer not null,
    -- Counts per category right after the import, JSON.
    summary       text    not null,
    created_by    integer references app_user (app_user_id) on delete set null,
    created_at    integer not null
);
create index sync_import_scope on sync_import (connection_id, kind, import_id);

create table sync_link (
    connection_id integer not null references connection (connection_id) on delete cascade,
    kind          text    not null,
    our_number    text    not null,
    their_number  text    not null,
    active        integer not null default 1,
    -- Field values at the last sync, JSON object.
    base          text    not null,
    version       integer not null default 0,
    primary key (connection_id, kind, our_number, their_number)
);

create table sync_deactivation (
    connection_id integer not null references connection (connection_id) on delete cascade,
    kind          text    not null,
    side          text    not null check (side in ('ours', 'theirs')),
    number        text    not null,
    primary key (connection_id, kind, side, number)
);

-- Changes to their side that their data does not show yet, in order.
create table sync_pending (
    pending_id    integer primary key autoincrement,
    connection_id integer not null references connection (connection_id) on delete cascade,
    kind          text    not null,
    -- sync::state::PendingChange, JSON.
    change        text    not null,
    created_at    integer not null,
    -- Set when an administrator marked the download delivered.
    delivered_at  integer
);
create index sync_pending_scope on sync_pending (connection_id, kind, pending_id);

-- Who did what to which records, with the values before and after.
create table audit_event (
    audit_id      integer primary key autoincrement,
    at            integer not null,
    app_user_id   integer references app_user (app_user_id) on delete set null,
    username      text    not null,
    connection_id integer,
    kind          text    not null,
    action        text    not null,
    our_number    text,
    their_number  text,
    -- JSON: values before and after, and the action's details.
    detail        text    not null
);
create index audit_event_our on audit_event (kind, our_number);
create index audit_event_their on audit_event (connection_id, kind, their_number);

-- The answer to a request sent with an Idempotency-Key, so that a replay
-- gets the same answer and changes nothing.
create table idempotency (
    app_user_id   integer not null,
    idem_key      text    not null,
    request_hash  text    not null,
    status        integer not null,
    body          text    not null,
    created_at    integer not null,
    primary key (app_user_id, idem_key)
);
