//! Data generators: 2-D toys, known-map pairs, synthetic scRNA perturbations (SPEC §5, §7.5).

pub mod toys;
