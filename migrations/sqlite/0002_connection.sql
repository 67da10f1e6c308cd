-- Connections to the other systems (an ERP, a financial system, or files
-- exported from one). Each covers customers and employees; the settings of
-- each kind (their number rules, required fields, saved column mapping) are
-- one JSON document, read and checked by the `sync` crate's types.
create table connection (
    connection_id     integer primary key autoincrement,
    name              text    not null unique,
    -- 'file' now; integrated systems come later.
    system            text    not null,
    customer_settings text    not null,
    employee_settings text    not null,
    version           integer not null default 1,
    created_at        integer not null,
    updated_at        integer not null
);
