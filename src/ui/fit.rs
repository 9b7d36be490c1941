//! How big an image view is drawn: pure sizing, with no drawing and no egui state.
//!
//! A view is a grid of `cols × rows` images of one pixel size (28×28 digits, 64×64 shapes,
//! any folder size) with a gap between and around them, as the tile shader draws it. It
//! takes the largest **integer** multiple of the image's pixels that fits the space its
//! panel has, so every image pixel is drawn as an equal square of screen pixels; only when
//! not even 1× fits is it shrunk by a fractional scale. Several runs sharing one space are
//! arranged `across × down` so that the scale is largest.

use eframe::egui::Vec2;

/// The smallest scale (screen pixels per image pixel) a view is drawn at, however little
/// space it has.
pub const MIN_SCALE: f32 = 0.1;

/// A grid of same-sized images to draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tiles {
    /// One image's size in its own pixels, `[width, height]`.
    pub image: [usize; 2],
    /// Images per row.
    pub cols: usize,
    /// Rows of images.
    pub rows: usize,
    /// Image pixels between neighbouring images and around the grid.
    pub gap: f32,
}

impl Tiles {
    /// `cols × rows` images of `image` pixels (`[width, height]`), with the gap the tile
    /// view draws: 1 image pixel between and around the images of a grid, none around a
    /// single image.
    pub fn new(image: [usize; 2], cols: usize, rows: usize) -> Self {
        let (cols, rows) = (cols.max(1), rows.max(1));
        Self {
            image,
            cols,
            rows,
            gap: if cols * rows > 1 { 1.0 } else { 0.0 },
        }
    }

    /// One image of `image` pixels (`[width, height]`).
    pub fn single(image: [usize; 2]) -> Self {
        Self::new(image, 1, 1)
    }

    /// The grid's size in image pixels (gaps included), `[width, height]`; at least 1 each.
    pub fn extent(&self) -> [f32; 2] {
        let g = self.gap;
        let side = |n: usize, px: usize| (n as f32 * px as f32 + (n + 1) as f32 * g).max(1.0);
        [
            side(self.cols, self.image[0]),
            side(self.rows, self.image[1]),
        ]
    }
}

/// The scale, in **screen pixels per image pixel**, at which `tiles` fit `avail` points on
/// a screen of `pixels_per_point`: the largest integer that fits when at least 1× fits,
/// else the largest fraction that fits (at least [`MIN_SCALE`]).
pub fn pixel_scale(avail: Vec2, tiles: Tiles, pixels_per_point: f32) -> f32 {
    let [ew, eh] = tiles.extent();
    let ppp = if pixels_per_point.is_finite() && pixels_per_point > 0.0 {
        pixels_per_point
    } else {
        1.0
    };
    let s = (avail.x * ppp / ew).min(avail.y * ppp / eh);
    if !s.is_finite() {
        return MIN_SCALE;
    }
    // A hair of tolerance: a space of exactly k× computed in floats may come out k − ε.
    if s >= 1.0 - 1e-4 {
        (s + 1e-4).floor()
    } else {
        s.max(MIN_SCALE)
    }
}

/// How a view is drawn: its scale and sizes in points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Points per image pixel (an integer number of screen pixels per image pixel when at
    /// least 1× fits).
    pub scale: f32,
    /// One image's drawn size in points.
    pub cell: Vec2,
    /// The whole grid's drawn size in points, gaps included.
    pub size: Vec2,
}

/// Fit `tiles` into `avail` points on a screen of `pixels_per_point` (see [`pixel_scale`]).
pub fn fit(avail: Vec2, tiles: Tiles, pixels_per_point: f32) -> Fit {
    let ppp = if pixels_per_point.is_finite() && pixels_per_point > 0.0 {
        pixels_per_point
    } else {
        1.0
    };
    let scale = pixel_scale(avail, tiles, ppp) / ppp;
    let [ew, eh] = tiles.extent();
    Fit {
        scale,
        cell: Vec2::new(tiles.image[0] as f32, tiles.image[1] as f32) * scale,
        size: Vec2::new(ew, eh) * scale,
    }
}

/// How `runs` views of the same `tiles` share one space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shared {
    /// Runs side by side in a row.
    pub across: usize,
    /// Rows of runs.
    pub down: usize,
    /// The space each run's images get, in points (its share less `overhead`).
    pub share: Vec2,
    /// How each run's view is drawn in its share.
    pub fit: Fit,
}

/// Arrange `runs` views of `tiles` in `avail` points: `across × down` runs (the arrangement
/// with the largest scale; of equal ones, the one with the most runs side by side), each
/// given `avail / (across, down)` less `overhead` (what a run's view needs besides its
/// images: its name above, its frame, the gaps between runs).
pub fn share(
    avail: Vec2,
    runs: usize,
    overhead: Vec2,
    tiles: Tiles,
    pixels_per_point: f32,
) -> Shared {
    let runs = runs.max(1);
    let mut best: Option<Shared> = None;
    for across in (1..=runs).rev() {
        let down = runs.div_ceil(across);
        // Fewer runs across gives the same rows: only the narrowest of each is worth trying.
        if across > 1 && runs.div_ceil(across - 1) == down {
            continue;
        }
        let share = Vec2::new(
            avail.x / across as f32 - overhead.x,
            avail.y / down as f32 - overhead.y,
        )
        .max(Vec2::ZERO);
        let fit = fit(share, tiles, pixels_per_point);
        if best.is_none_or(|b| fit.scale > b.fit.scale) {
            best = Some(Shared {
                across,
                down,
                share,
                fit,
            });
        }
    }
    // `runs ≥ 1`, so the loop ran at least once (across = runs is never skipped).
    best.unwrap_or(Shared {
        across: 1,
        down: runs,
        share: Vec2::ZERO,
        fit: fit(Vec2::ZERO, tiles, pixels_per_point),
    })
}
