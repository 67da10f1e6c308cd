//! The service layer: every use case of the product, called alike by the
//! REST handlers, the CLI and the scheduler. Handlers only translate
//! HTTP to these calls; no domain rule lives in a handler or in the store.

pub mod connections;
pub mod registers;
pub mod runs;
pub mod session;
pub mod sync;
pub mod users;
