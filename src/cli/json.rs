//! `--json` output: the library's JSON-shaped value ([`monge::report::Value`]; keys in insertion
//! order, a non-finite number written as `null`), under the name the commands use. The reports that
//! Python returns too are composed in the library (`monge::ot::fit::report`,
//! `monge::metrics::evaluation`); the CLI's own (bench, demo, experiment, fit-many) are composed here.

pub use monge::report::Value as Json;
