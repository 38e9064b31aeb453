//! Subcommands besides `serve`: `render` and `client`.

pub mod check;
pub mod client;
pub mod render;
pub mod request_doc;
