//! The two W2 potentials f and g before training: their architecture ([`Potential`]) and where they start
//! ([`MapInit`]) (issue 13).
//!
//! - [`Potential::Icnn`]: the plain ICNN of \[M20\]/\[B23\] (CellOT), `φ = ICNN(x)`.
//! - [`Potential::QuadraticIcnn`]: `φ(x) = ½ xᵀ(LLᵀ + diag(softplus(s)))x + βᵀx + ICNN(x)` with L of rank
//!   `min(rank, d)` ([`crate::nn::quadratic`]): an affine path in the map `∇φ`.
//!
//! Starts:
//! - [`MapInit::Random`]: the ICNN's random draw (CellOT); the quadratic path, if any, at ½‖x‖².
//! - [`MapInit::Identity`]: quadratic path ½‖x‖², ICNN output layer 0, so `∇g = ∇f = id` at the start.
//! - [`MapInit::Gaussian`]: `∇g` = the closed-form map between the Gaussians with the training sets' means
//!   and covariances, `∇f` its inverse ([`crate::ot::gaussian`]).
//!
//! Identity and Gaussian starts need the quadratic path (the plain ICNN has no quadratic term to carry
//! them); asking for them with [`Potential::Icnn`] is a usage error.

use crate::linalg::{Mat, Real};
use crate::nn::icnn::{Icnn, IcnnConfig};
use crate::ot::gaussian::{init_potentials, silence_icnn, GaussianMap};
use crate::random::{streams, Stream};
use crate::{Error, Result};

/// Architecture of both W2 potentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Potential {
    /// The plain ICNN (CellOT).
    Icnn,
    /// ICNN plus the quadratic path with L of rank `min(rank, d)`.
    QuadraticIcnn {
        /// Rank of L.
        rank: usize,
    },
}

impl Potential {
    /// The CLI name: `icnn` or `quadratic-icnn`.
    pub fn name(&self) -> &'static str {
        match self {
            Potential::Icnn => "icnn",
            Potential::QuadraticIcnn { .. } => "quadratic-icnn",
        }
    }
}

/// Where both potentials start (module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapInit {
    /// Random ICNN weights (CellOT).
    Random,
    /// `∇g = ∇f = id`.
    Identity,
    /// `∇g` = the Gaussian map of the training sets, `∇f` its inverse.
    Gaussian,
}

impl MapInit {
    /// The CLI name.
    pub fn name(&self) -> &'static str {
        match self {
            MapInit::Random => "random",
            MapInit::Identity => "identity",
            MapInit::Gaussian => "gaussian",
        }
    }
    /// Parses a CLI name.
    pub fn from_name(s: &str) -> Result<Self> {
        match s {
            "random" => Ok(MapInit::Random),
            "identity" => Ok(MapInit::Identity),
            "gaussian" => Ok(MapInit::Gaussian),
            other => Err(Error::Usage(format!(
                "--init: unknown '{other}' (expected gaussian, identity or random)"
            ))),
        }
    }
}

/// Checks that the start fits the architecture.
pub fn validate(potential: Potential, init: MapInit) -> Result<()> {
    if potential == Potential::Icnn && init != MapInit::Random {
        return Err(Error::Usage(format!(
            "--init {} needs --potential quadratic-icnn (the plain ICNN has no quadratic term)",
            init.name()
        )));
    }
    Ok(())
}

/// f and g on ℝᵈ (d = the training sets' width), drawn from the seed's init streams and started as
/// `init` says; `src`, `tgt` are the training sets (the Gaussian start reads their moments).
pub fn build<T: Real>(
    icnn: &IcnnConfig,
    potential: Potential,
    init: MapInit,
    seed: u64,
    src: &Mat<T>,
    tgt: &Mat<T>,
) -> Result<(Icnn<T>, Icnn<T>)> {
    validate(potential, init)?;
    let d = src.cols();
    let mut f = Icnn::<T>::new(d, icnn, &mut Stream::new(seed, streams::INIT_A));
    let mut g = Icnn::<T>::new(d, icnn, &mut Stream::new(seed, streams::INIT_B));
    if let Potential::QuadraticIcnn { rank } = potential {
        f = f.with_quadratic(rank);
        g = g.with_quadratic(rank);
    }
    match init {
        MapInit::Random => {}
        MapInit::Identity => {
            silence_icnn(&mut f);
            silence_icnn(&mut g);
        }
        MapInit::Gaussian => {
            let map = GaussianMap::from_samples(src.view(), tgt.view())?;
            init_potentials(&map, &mut f, &mut g)?;
        }
    }
    Ok((f, g))
}
