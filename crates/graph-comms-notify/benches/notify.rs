//! Criterion benchmarks of the notify crate (filled in below).

fn main() {}
