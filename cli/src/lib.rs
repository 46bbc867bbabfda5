//! brum
