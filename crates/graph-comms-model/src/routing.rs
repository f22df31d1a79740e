//! The routing-only decode (filled in by the notify work).
