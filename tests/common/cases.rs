//! Proptest case counts that `PROPTEST_CASES` overrides (an explicit `with_cases(n)` ignores it), so
//! `PROPTEST_CASES=400 PROPTEST_RNG_SEED=7 cargo test --release --test nn_icnn` explores further.

/// `PROPTEST_CASES` when it is set to a number, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
