//! Configuration: `.brum.toml` layers, the `[concurrency]` schema, validation.
