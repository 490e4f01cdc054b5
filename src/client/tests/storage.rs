//! What is written, and what a failed write leaves.
