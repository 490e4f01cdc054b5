//! Lifetimes, held messages, removal, restarts.
