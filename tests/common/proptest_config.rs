//! The one proptest configuration of the integration tests (src/probe/proc_parse.rs has its own:
//! unit tests cannot reach tests/common/): `default` cases per property, or `PROPTEST_CASES=N`.

use proptest::test_runner::Config as ProptestConfig;

/// `default` cases, or `PROPTEST_CASES`.
pub fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}
