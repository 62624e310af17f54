//! (not built yet)
fn main() {}
