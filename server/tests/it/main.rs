//! HTTP tests: the real server on port 0 with a fresh database per test,
//! driven over HTTP. They run on SQLite, and on PostgreSQL when
//! `PARTNERSYNC_TEST_DATABASE_URL` names a server (the test command starts a
//! throwaway one and runs the suite again).

mod access;
mod cli;
mod connections;
mod faults;
mod helpers;
mod integrations;
mod registers;
mod session;
mod users;
mod window;
