//! value (in progress).
