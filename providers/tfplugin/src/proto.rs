//! proto (in progress).
