//! What the annealer tests share.

/// Checks the Metropolis rule of every Alg. 1 step on its recorded E₀ (`eval_before`), E₁ (`eval`),
/// temperature and uniform draw: accept iff ΔE > 0 or u < exp(ΔE/T). Returns (steps with ΔE ≤ 0, how
/// many of them were accepted).
pub fn metropolis(rep: &monge::ot::anneal::AnnealReport) -> (usize, usize) {
    let (mut worse, mut worse_accepted) = (0, 0);
    for (k, st) in rep.steps.iter().enumerate() {
        let de = st.eval - st.eval_before;
        assert!(
            de.is_finite() && (0.0..1.0).contains(&st.uniform),
            "step {k}"
        );
        assert_eq!(
            st.accepted,
            de > 0.0 || st.uniform < (de / st.temperature).exp(),
            "step {k}: ΔE {de}, T {}, u {}",
            st.temperature,
            st.uniform
        );
        if de <= 0.0 {
            worse += 1;
            worse_accepted += usize::from(st.accepted);
        }
    }
    (worse, worse_accepted)
}
