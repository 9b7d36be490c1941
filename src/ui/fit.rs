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

#[cfg(test)]
mod tests {
    use super::*;

    const DIGIT: [usize; 2] = [28, 28];

    #[test]
    fn the_largest_integer_multiple_that_fits_is_taken() {
        // A 5×5 grid of 28-pixel digits with 1-pixel gaps is 5·28 + 6 = 146 pixels wide.
        let t = Tiles::new(DIGIT, 5, 5);
        assert_eq!(t.extent(), [146.0, 146.0]);
        // 3·146 = 438 fits in 440 (and in exactly 438), 4·146 = 584 does not.
        assert_eq!(pixel_scale(Vec2::new(900.0, 440.0), t, 1.0), 3.0);
        assert_eq!(pixel_scale(Vec2::new(438.0, 438.0), t, 1.0), 3.0);
        assert_eq!(pixel_scale(Vec2::new(437.9, 900.0), t, 1.0), 2.0);
        let f = fit(Vec2::new(900.0, 440.0), t, 1.0);
        assert_eq!(f.cell, Vec2::new(84.0, 84.0));
        assert_eq!(f.size, Vec2::new(438.0, 438.0));
    }

    #[test]
    fn non_square_images_fit_the_tighter_side() {
        // One 64×32 image in 300×300: 300 / 64 = 4.69 → 4×.
        let f = fit(Vec2::new(300.0, 300.0), Tiles::single([64, 32]), 1.0);
        assert_eq!(f.scale, 4.0);
        assert_eq!(f.cell, Vec2::new(256.0, 128.0));
        // A single image has no gap: exactly 2× in 128×64.
        assert_eq!(
            pixel_scale(Vec2::new(128.0, 64.0), Tiles::single([64, 32]), 1.0),
            2.0
        );
    }

    #[test]
    fn below_one_to_one_the_largest_fraction_is_taken() {
        // A 15×15 grid is 15·28 + 16 = 436 pixels: in 300 it is drawn at 300/436.
        let t = Tiles::new(DIGIT, 15, 15);
        let s = pixel_scale(Vec2::new(300.0, 1000.0), t, 1.0);
        assert!((s - 300.0 / 436.0).abs() < 1e-6, "{s}");
        assert!(fit(Vec2::new(300.0, 1000.0), t, 1.0).size.x <= 300.0);
        // No space at all still draws something.
        assert_eq!(pixel_scale(Vec2::ZERO, t, 1.0), MIN_SCALE);
        assert_eq!(pixel_scale(Vec2::new(-5.0, 10.0), t, 1.0), MIN_SCALE);
    }

    #[test]
    fn integer_multiples_are_of_screen_pixels() {
        // At 2 pixels per point, 200 points are 400 pixels: one 28-pixel digit at 14 pixels
        // per image pixel, i.e. 7 points per image pixel.
        let f = fit(Vec2::new(200.0, 200.0), Tiles::single(DIGIT), 2.0);
        assert_eq!(f.scale * 2.0, 14.0);
        assert_eq!(f.cell, Vec2::new(196.0, 196.0));
        // At 1.5: 100 points are 150 pixels: 5 pixels (3.33 points) per image pixel.
        let f = fit(Vec2::new(100.0, 100.0), Tiles::single(DIGIT), 1.5);
        assert!((f.scale * 1.5 - 5.0).abs() < 1e-5, "{}", f.scale);
    }

    #[test]
    fn four_runs_take_the_arrangement_with_the_largest_scale() {
        let t = Tiles::new(DIGIT, 15, 15);
        let avail = Vec2::new(880.0, 460.0);
        let s = share(avail, 4, Vec2::new(8.0, 20.0), t, 1.0);
        // Side by side: 880/4 − 8 = 212 wide → 212/436; 2 × 2: 440 − 8 = 432 wide,
        // 230 − 20 = 210 tall → 210/436; 1 across: 115 − 20 = 95 tall. 212 > 210.
        assert_eq!((s.across, s.down), (4, 1));
        assert!(
            (s.fit.scale - 212.0 / 436.0).abs() < 1e-6,
            "{}",
            s.fit.scale
        );
        assert_eq!(s.share, Vec2::new(212.0, 440.0));
        // A taller space makes 2 × 2 better.
        let s = share(Vec2::new(880.0, 700.0), 4, Vec2::new(8.0, 20.0), t, 1.0);
        assert_eq!((s.across, s.down), (2, 2));
        assert!(
            (s.fit.scale - 330.0 / 436.0).abs() < 1e-6,
            "{}",
            s.fit.scale
        );
        // Every run's share holds its grid.
        assert!(s.fit.size.x <= s.share.x && s.fit.size.y <= s.share.y);
    }

    #[test]
    fn equal_scales_keep_runs_side_by_side_and_one_run_takes_everything() {
        let t = Tiles::new(DIGIT, 5, 5);
        // 4 across: 220 × 300 → 1× (146); 2 × 2: 440 × 150 → 1× too: side by side wins.
        let s = share(Vec2::new(880.0, 300.0), 4, Vec2::ZERO, t, 1.0);
        assert_eq!((s.across, s.down, s.fit.scale), (4, 1, 1.0));
        let one = share(Vec2::new(880.0, 460.0), 1, Vec2::new(0.0, 20.0), t, 1.0);
        assert_eq!((one.across, one.down), (1, 1));
        assert_eq!(one.fit, fit(Vec2::new(880.0, 440.0), t, 1.0));
        assert_eq!(one.fit.scale, 3.0);
        // Three single images in a tall space: 3 across (100 wide → 3×), 2 + 1 (150 × 450
        // → 5×) or one above the other (300 × 300 → 10×).
        let s = share(
            Vec2::new(300.0, 900.0),
            3,
            Vec2::ZERO,
            Tiles::single(DIGIT),
            1.0,
        );
        assert_eq!((s.across, s.down), (1, 3));
        assert_eq!(s.fit.scale, 10.0);
    }
}
