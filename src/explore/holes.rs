//! The prior's holes: on a plane through the latent space (the codes' top two principal
//! directions), the density of the codes (the aggregate posterior) against the prior's,
//! and draws from N(0, I) and from the ex-post mixture ([`super::fit_gmm`]) with each
//! draw's distance to the nearest code. Pure: the callers decode the draws and score them.

use statrs::distribution::{ContinuousCDF, Normal};

use super::gmm::{GmmError, GmmFit, GmmParams, fit_gmm};
use super::nearest::nearest;
use super::principal::principal_directions;
use super::prior::prior_noise;

/// Bins per side of the plane's density grid.
pub const PLANE_BINS: usize = 24;

/// The plane's half-width: it spans `[-PLANE_EXTENT, PLANE_EXTENT]²`.
pub const PLANE_EXTENT: f64 = 3.5;

/// Densities on a square grid of the plane, `bins × bins` row-major (row 0 at the lowest
/// y), as mean densities over each bin.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaneDensity {
    /// Bins per side.
    pub bins: usize,
    /// The grid spans `[-extent, extent]²`.
    pub extent: f64,
    /// The codes' histogram as a density: count / (codes · bin area).
    pub codes: Vec<f64>,
    /// The prior's exact mean density over each bin: N(0, I) projected on orthonormal axes
    /// is N(0, I₂), so (Φ(x₁) − Φ(x₀))(Φ(y₁) − Φ(y₀)) / area.
    pub prior: Vec<f64>,
}

impl PlaneDensity {
    /// The bin edges along one axis.
    pub fn edges(&self) -> Vec<f64> {
        let w = 2.0 * self.extent / self.bins as f64;
        (0..=self.bins)
            .map(|i| -self.extent + i as f64 * w)
            .collect()
    }

    /// The prior's mass in bins that hold no code: where prior samples land with no
    /// training image encoded nearby (the holes).
    pub fn prior_mass_in_holes(&self) -> f64 {
        let w = 2.0 * self.extent / self.bins as f64;
        self.codes
            .iter()
            .zip(&self.prior)
            .filter(|(c, _)| **c == 0.0)
            .map(|(_, p)| p * w * w)
            .sum()
    }
}

/// Project row-major points of `dim` values on `axes` (each `dim` long): one `[x, y]` per
/// point (y = 0 with one axis).
pub fn project(points: &[f32], dim: usize, axes: &[Vec<f32>]) -> Vec<[f64; 2]> {
    let dot = |p: &[f32], a: Option<&Vec<f32>>| -> f64 {
        a.map_or(0.0, |a| {
            p.iter().zip(a).map(|(&x, &y)| x as f64 * y as f64).sum()
        })
    };
    if dim == 0 {
        return Vec::new();
    }
    points
        .chunks(dim)
        .map(|p| [dot(p, axes.first()), dot(p, axes.get(1))])
        .collect()
}

/// The codes' density and the prior's on a `bins × bins` grid over `[-extent, extent]²`
/// from the codes' projections. `one_axis`: the plane has a single axis (a 1-d latent),
/// so the prior's y is 0.
pub fn plane_density(
    projected: &[[f64; 2]],
    bins: usize,
    extent: f64,
    one_axis: bool,
) -> PlaneDensity {
    let bins = bins.max(1);
    let w = 2.0 * extent / bins as f64;
    let mut codes = vec![0.0; bins * bins];
    let n = projected.len().max(1) as f64;
    let bin = |v: f64| -> Option<usize> {
        let i = ((v + extent) / w).floor();
        (i >= 0.0 && i < bins as f64).then_some(i as usize)
    };
    for p in projected {
        if let (Some(ix), Some(iy)) = (bin(p[0]), bin(p[1])) {
            codes[iy * bins + ix] += 1.0 / (n * w * w);
        }
    }
    let phi = Normal::standard();
    let mass: Vec<f64> = (0..bins)
        .map(|i| {
            let a = -extent + i as f64 * w;
            phi.cdf(a + w) - phi.cdf(a)
        })
        .collect();
    let y_mass: Vec<f64> = if one_axis {
        (0..bins)
            .map(|i| {
                let a = -extent + i as f64 * w;
                if (a..a + w).contains(&0.0) { 1.0 } else { 0.0 }
            })
            .collect()
    } else {
        mass.clone()
    };
    let mut prior = vec![0.0; bins * bins];
    for iy in 0..bins {
        for ix in 0..bins {
            prior[iy * bins + ix] = mass[ix] * y_mass[iy] / (w * w);
        }
    }
    PlaneDensity {
        bins,
        extent,
        codes,
        prior,
    }
}

/// What [`prior_holes`] draws and measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HolesParams {
    /// Draws from each sampler.
    pub samples: usize,
    /// The ex-post mixture's fit (its seed also seeds its draws).
    pub gmm: GmmParams,
    /// Seed of the N(0, I) draws ([`prior_noise`]).
    pub seed: u64,
}

/// One sampler's draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Draws {
    /// Row-major `samples × dim`.
    pub z: Vec<f32>,
    /// Each draw on the plane.
    pub xy: Vec<[f64; 2]>,
    /// Each draw's Euclidean distance to the nearest code.
    pub gap: Vec<f32>,
}

impl Draws {
    /// The median of [`Draws::gap`].
    pub fn median_gap(&self) -> f32 {
        let mut g = self.gap.clone();
        g.sort_by(f32::total_cmp);
        match g.len() {
            0 => f32::NAN,
            n if n % 2 == 1 => g[n / 2],
            n => 0.5 * (g[n / 2 - 1] + g[n / 2]),
        }
    }
}

/// The prior's holes for a set of codes.
#[derive(Debug, Clone, PartialEq)]
pub struct Holes {
    /// The plane's axes: the codes' top two principal directions (orthonormal).
    pub axes: Vec<Vec<f32>>,
    /// The codes' and the prior's densities on the plane.
    pub plane: PlaneDensity,
    /// The codes on the plane.
    pub codes_xy: Vec<[f64; 2]>,
    /// Draws z ~ N(0, I).
    pub prior: Draws,
    /// Draws from the ex-post mixture.
    pub gmm: Draws,
    /// The mixture and its fit's log-likelihood trace.
    pub fit: GmmFit,
}

/// Fit the ex-post mixture to `codes` (row-major, `dim` each), draw `params.samples` from
/// N(0, I) and from the mixture, and measure both against the codes on their principal
/// plane.
pub fn prior_holes(codes: &[f32], dim: usize, params: &HolesParams) -> Result<Holes, GmmError> {
    let fit = fit_gmm(codes, dim, &params.gmm)?;
    let (axes, _) = principal_directions(codes, dim, 2);
    let draws = |z: Vec<f32>| -> Result<Draws, GmmError> {
        let gap = nearest(codes, &z, dim, 1)
            .map_err(|_| GmmError::Shape {
                values: z.len(),
                dim,
            })?
            .iter()
            .map(|n| n.first().map_or(f32::NAN, |b| b.distance))
            .collect();
        Ok(Draws {
            xy: project(&z, dim, &axes),
            gap,
            z,
        })
    };
    let prior = draws(prior_noise(params.seed, params.samples, dim))?;
    let gmm = draws(fit.gmm.sample(params.gmm.seed, params.samples))?;
    let codes_xy = project(codes, dim, &axes);
    let plane = plane_density(&codes_xy, PLANE_BINS, PLANE_EXTENT, axes.len() < 2);
    Ok(Holes {
        axes,
        plane,
        codes_xy,
        prior,
        gmm,
        fit,
    })
}
