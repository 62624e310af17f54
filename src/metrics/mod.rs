//! Metrics between point clouds and maps (SPEC §4, §7.7). (not built yet)
