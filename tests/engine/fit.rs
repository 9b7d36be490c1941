//! The sizing of image views (`ui::fit`), against sizes worked out by hand: the largest
//! integer multiple of the images' pixels that fits, a fraction only below 1×, screen pixels
//! at other pixel densities, and how several runs share one space.

use eframe::egui::Vec2;
use latent_explorer::ui::fit::{MIN_SCALE, Tiles, fit, pixel_scale, share};

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
