//! Data generators: 2-D toys, known-map pairs, synthetic scRNA perturbations (SPEC §5, §7.5), and the
//! train / held-out split (SPEC §7.7).

pub mod known_map;
pub mod scrna;
pub mod split;
pub mod toys;

pub use known_map::{known_map_pair, KnownMap, KnownMapPair};
pub use scrna::{synthetic_scrna, ScrnaConfig, ScrnaData};
pub use split::{heldout_size, train_test_split, Split};
