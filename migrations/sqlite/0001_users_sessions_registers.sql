-- Partnersync's first schema: who may sign in, their sessions, and our two
-- registers (customers and employees), which are our side of every sync.
-- Times are Unix milliseconds (bigint) and flags are 0/1 integers, so the
-- same SQL text and the same Rust types serve SQLite and PostgreSQL.

-- People who sign in. `password_hash` is an argon2id PHC string; a disabled
-- user cannot sign in and loses every session.
create table app_user (
    app_user_id   integer primary key autoincrement,
    username      text    not null,
    -- Lower-cased user name: sign-in and uniqueness ignore case.
    username_key  text    not null unique,
    password_hash text    not null,
    role          text    not null check (role in ('admin', 'supervisor')),
    disabled      integer not null default 0,
    created_at    integer not null,
    updated_at    integer not null
);

-- Server-side sessions. The cookie holds a random token; only its keyed
-- hash is stored, so a copy of the database signs nobody in.
create table session (
    session_id   text    primary key,
    app_user_id  integer not null references app_user (app_user_id) on delete cascade,
    created_at   integer not null,
    last_seen_at integer not null,
    -- Absolute end; idle expiry is computed from last_seen_at.
    expires_at   integer not null
);
create index session_app_user on session (app_user_id);

-- Our customers. `number` is text: leading zeros are part of it.
-- `search_text` is the lower-cased text that list searches match, computed
-- by the server so that case folding is the same on both databases.
create table customer (
    customer_id         integer primary key autoincrement,
    number              text    not null unique,
    name                text    not null,
    organisation_number text    not null default '',
    street              text    not null default '',
    postal_code         text    not null default '',
    city                text    not null default '',
    country             text    not null default '',
    email               text    not null default '',
    phone               text    not null default '',
    contact_person      text    not null default '',
    sales_rep_code      text    not null default '',
    assigned_user_id    integer references app_user (app_user_id) on delete set null,
    active              integer not null default 1,
    search_text         text    not null default '',
    -- Increases with every change; writes name the version they saw.
    version             integer not null default 1,
    created_at          integer not null,
    updated_at          integer not null
);
create index customer_name on customer (name);

-- Our employees.
create table employee (
    employee_id integer primary key autoincrement,
    number      text    not null unique,
    first_name  text    not null,
    last_name   text    not null,
    email       text    not null default '',
    phone       text    not null default '',
    street      text    not null default '',
    postal_code text    not null default '',
    city        text    not null default '',
    active      integer not null default 1,
    search_text text    not null default '',
    version     integer not null default 1,
    created_at  integer not null,
    updated_at  integer not null
);
create index employee_last_name on employee (last_name);
