//! brum

pub mod settings;
