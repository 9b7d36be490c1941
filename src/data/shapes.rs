//! Procedural shapes with known factors of variation, as in dSprites (Matthey et al. 2017):
//! shape (square, ellipse, heart), scale (6 values), orientation (40), x (32) and y (32),
//! rendered without anti-aliasing to binary images, deterministically, in process (nothing
//! is downloaded). Each factor's grid can be subsampled so a 2-core CPU trains a useful
//! model in minutes; every image carries the indices of its factors, so disentanglement
//! metrics ([`crate::explore::mig`]) can be measured on a model trained on it.

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use thiserror::Error;

pub use super::factors::{FACTOR_NAMES, Factors};
use super::{Dataset, Split};
use crate::limits::{self, LimitError};

/// dSprites' number of values of each factor.
pub const FULL_GRID: [usize; 5] = [3, 6, 40, 32, 32];

/// The three shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A square.
    Square,
    /// An ellipse twice as wide as tall.
    Ellipse,
    /// A heart.
    Heart,
}

impl Shape {
    /// Shape of index 0, 1, 2.
    pub const ALL: [Shape; 3] = [Shape::Square, Shape::Ellipse, Shape::Heart];
    /// Their names, by index (the shapes set's labels).
    pub const NAMES: [&'static str; 3] = ["square", "ellipse", "heart"];

    /// Whether the point `(u, v)` of the shape's own frame (unit size, centred) is inside.
    fn contains(self, u: f64, v: f64) -> bool {
        match self {
            Self::Square => u.abs() <= 0.8 && v.abs() <= 0.8,
            Self::Ellipse => (u / 1.0).powi(2) + (v / 0.5).powi(2) <= 1.0,
            Self::Heart => {
                // (x² + y² − 1)³ − x² y³ ≤ 0, scaled to about the unit disc, point up.
                let (x, y) = (u * 1.25, -v * 1.25 + 0.15);
                (x * x + y * y - 1.0).powi(3) - x * x * y.powi(3) <= 0.0
            }
        }
    }
}

/// How many values of each factor to use, and the image side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapesConfig {
    /// Image side in pixels.
    pub side: usize,
    /// Values of each factor (each at most [`FULL_GRID`]'s): evenly spaced over its range.
    pub grid: [usize; 5],
    /// Seed of the train/test split.
    pub seed: u64,
    /// Share of the images in the test split.
    pub test_fraction: f64,
}

impl ShapesConfig {
    /// A grid a 2-core CPU trains on in minutes: 32×32 images, 3 shapes × 6 scales × 10
    /// orientations × 8 × 8 positions = 11,520 images.
    pub fn small() -> Self {
        Self {
            side: 32,
            grid: [3, 6, 10, 8, 8],
            seed: 0,
            test_fraction: 0.1,
        }
    }

    /// dSprites' grid at `side` (64 for dSprites itself): 737,280 images.
    pub fn full(side: usize) -> Self {
        Self {
            side,
            grid: FULL_GRID,
            seed: 0,
            test_fraction: 0.1,
        }
    }
}

/// Why a shapes set cannot be made.
#[derive(Debug, Error)]
pub enum ShapesError {
    /// A size is over its limit.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// The test fraction is not in (0, 1).
    #[error("test fraction {0} must lie strictly between 0 and 1")]
    TestFraction(f64),
}

/// A shapes set: the images (labelled by shape) and their factors.
#[derive(Debug, Clone)]
pub struct Shapes {
    /// The images as a dataset (labels: the shape index); its `factors` are [`Shapes::factors`].
    pub data: Dataset,
    /// Every image's factors.
    pub factors: std::sync::Arc<Factors>,
}

/// The value of factor `f` at index `i` of `n`: scale in [0.5, 1], orientation in
/// [0, 2π), positions in [0, 1].
fn factor_value(f: usize, i: usize, n: usize) -> f64 {
    let t = if n > 1 {
        i as f64 / (n - 1) as f64
    } else {
        0.5
    };
    match f {
        1 => 0.5 + 0.5 * t,
        2 => std::f64::consts::TAU * i as f64 / n as f64,
        _ => t,
    }
}

/// Draw one image of `side`² pixels with the factor indices `idx` of a grid of `grid`.
pub fn render(side: usize, grid: &[usize; 5], idx: &[u16; 5]) -> Vec<f32> {
    let value = |f: usize| factor_value(f, idx[f] as usize, grid[f]);
    let shape = Shape::ALL[idx[0] as usize % 3];
    let (scale, angle) = (value(1), value(2));
    // The shape's radius is a fifth of the side at scale 1; centres keep it inside.
    let radius = 0.2 * side as f64 * scale;
    let margin = 0.2 * side as f64;
    let span = side as f64 - 2.0 * margin;
    let (cx, cy) = (margin + span * value(3), margin + span * value(4));
    let (sin, cos) = angle.sin_cos();
    let mut out = vec![0.0f32; side * side];
    for r in 0..side {
        for c in 0..side {
            // The pixel's centre, in the shape's frame.
            let (dx, dy) = (c as f64 + 0.5 - cx, r as f64 + 0.5 - cy);
            let u = (cos * dx + sin * dy) / radius;
            let v = (-sin * dx + cos * dy) / radius;
            if shape.contains(u, v) {
                out[r * side + c] = 1.0;
            }
        }
    }
    out
}

/// Make the set `cfg` describes: every combination of the grid's factor values, split at
/// random (by `cfg.seed`) into train and test.
pub fn generate(cfg: &ShapesConfig) -> Result<Shapes, ShapesError> {
    limits::check("shapes image side", cfg.side, 8, limits::MAX_IMAGE_SIDE)?;
    for (f, (&n, &full)) in cfg.grid.iter().zip(&FULL_GRID).enumerate() {
        limits::check(&format!("shapes {} values", FACTOR_NAMES[f]), n, 1, full)?;
    }
    if !(cfg.test_fraction > 0.0 && cfg.test_fraction < 1.0) {
        return Err(ShapesError::TestFraction(cfg.test_fraction));
    }
    let count = limits::product("shapes images", &cfg.grid, usize::MAX)?;
    limits::check("shapes images", count, 2, usize::MAX)?;
    limits::product(
        "shapes images × pixels",
        &[count, cfg.side, cfg.side],
        limits::MAX_DATASET_VALUES,
    )?;
    let mut all: Vec<[u16; 5]> = Vec::with_capacity(count);
    for a in 0..cfg.grid[0] {
        for b in 0..cfg.grid[1] {
            for c in 0..cfg.grid[2] {
                for d in 0..cfg.grid[3] {
                    for e in 0..cfg.grid[4] {
                        // Each index is below FULL_GRID's largest (40): fits u16.
                        all.push([a as u16, b as u16, c as u16, d as u16, e as u16]);
                    }
                }
            }
        }
    }
    all.shuffle(&mut ChaCha8Rng::seed_from_u64(cfg.seed));
    let n_test = ((count as f64 * cfg.test_fraction).round() as usize).clamp(1, count - 1);
    let (test, train) = all.split_at(n_test);
    let split = |idx: &[[u16; 5]]| -> Split {
        use rayon::prelude::*;
        let per = cfg.side * cfg.side;
        // Binary images, 8 bits a pixel (dSprites' whole grid at 64×64 is 3 GB so).
        let mut pixels = vec![0u8; idx.len() * per];
        pixels
            .par_chunks_mut(per)
            .zip(idx.par_iter())
            .for_each(|(out, i)| {
                for (o, v) in out.iter_mut().zip(render(cfg.side, &cfg.grid, i)) {
                    *o = if v > 0.5 { 255 } else { 0 };
                }
            });
        Split {
            rows: cfg.side,
            cols: cfg.side,
            channels: 1,
            pixels: super::Pixels::U8(pixels),
            labels: idx.iter().map(|i| i[0] as u8).collect(),
        }
    };
    let factors = std::sync::Arc::new(Factors {
        sizes: cfg.grid,
        train: train.to_vec(),
        test: test.to_vec(),
    });
    Ok(Shapes {
        factors: factors.clone(),
        data: Dataset {
            name: format!(
                "shapes {}x{} ({} images: {})",
                cfg.side,
                cfg.side,
                count,
                cfg.grid.map(|n| n.to_string()).join("×")
            ),
            train: split(train),
            test: split(test),
            factors: Some(factors),
        },
    })
}

/// The shapes set a data argument names: `shapes` or `shapes:SIDE` (the
/// [`ShapesConfig::small`] grid at SIDE, 32 by default), or `shapes:SIDE:full` (dSprites'
/// whole grid, [`ShapesConfig::full`]; `shapes:64:full` is dSprites itself), unless a file
/// or directory of that name exists (a path wins). `Ok(None)` for anything else; an error
/// for a SIDE that is not a number or another grid name. The CLI's `--data` and the app's
/// dataset field both read it.
pub fn parse_spec(spec: &str) -> Result<Option<ShapesConfig>, String> {
    if std::path::Path::new(spec).exists() {
        return Ok(None);
    }
    let mut parts = spec.split(':');
    if parts.next() != Some("shapes") {
        return Ok(None);
    }
    let side = match parts.next() {
        None => 32,
        Some(side) => side
            .parse()
            .map_err(|_| format!("{spec}: the side must be a whole number"))?,
    };
    let cfg = match parts.next() {
        None => ShapesConfig {
            side,
            ..ShapesConfig::small()
        },
        Some("full") => ShapesConfig::full(side),
        Some(other) => {
            return Err(format!(
                "{spec}: the grid is `full` or left out (the small grid), not {other:?}"
            ));
        }
    };
    if parts.next().is_some() {
        return Err(format!("{spec}: shapes takes at most a side and `full`"));
    }
    Ok(Some(cfg))
}
