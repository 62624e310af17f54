//! Data generators: 2-D toys, known-map pairs, synthetic scRNA perturbations (SPEC §5, §7.5). The
//! train / held-out split (SPEC §7.7) is the solvers' ([`crate::ot::train::split`]), re-exported here.

pub mod known_map;
pub mod scrna;
pub mod toys;

pub use crate::ot::train::split::{heldout_size, train_test_split, Split};
pub use known_map::{known_map_pair, KnownMap, KnownMapPair};
pub use scrna::{synthetic_scrna, synthetic_scrna_with, DrasticShift, ScrnaConfig, ScrnaData};
