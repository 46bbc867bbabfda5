//! brum-sim
