//! Unit tests: one per format, plus the false-positive guards.
