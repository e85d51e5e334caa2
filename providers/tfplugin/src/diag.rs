//! diag (in progress).
