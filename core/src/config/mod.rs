//! Configuration: `.brum.toml` layers, the `[concurrency]` and `[discovery]` schema, the
//! `[processes.NAME]` tables, validation.
//!
//! - `schema`: the static table of every key (kind, range, default, why). Everything else is
//!   driven by it.
//! - [`Settings::from_layers`]: applies file texts in order over the defaults, key by key;
//!   pure, the caller reads the files (the CLI's `settings` module does discovery and I/O).
//! - [`ConfigError`]: every problem of every file at once, each naming file, line and key.
//! - [`render_settings`]: the text of `brum --settings`.
//!
//! docs/design/configuration.md documents the keys; a test keeps it in step with the schema.

mod error;
mod load;
mod processes;
mod render;
mod schema;
mod settings;
mod size;
pub(crate) mod suggest;
#[cfg(test)]
mod tests;
mod toml_key;

pub use error::{ConfigError, ConfigProblem};
pub use processes::ProcessDecl;
pub use render::render_settings;
pub use settings::{Layer, Settings, Source};
pub use size::SizeError;
