//! Decode benchmarks (filled in below).

fn main() {}
