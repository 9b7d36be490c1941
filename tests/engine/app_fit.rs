//! Views that use the window: at 1600×1000 points, with one run and with four runs open
//! (compare layout, latents tab, a 5×5 grid of 28×28 digits), the slider images and the
//! interpolation grids are drawn at integer multiples of the digits' pixels, as large as
//! the space beside the sliders allows. The drawn rectangles are read from the
//! accessibility tree (each image view is an image node named by its hover text) and checked
//! against the library's sizing function and against the old fixed sizes (≈200 points).

use std::path::PathBuf;

use eframe::egui;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable, by};
use latent_explorer::ui::ExplorerApp;
use latent_explorer::ui::decoder::ViewKey;
use latent_explorer::ui::fit::{self, Tiles};
use latent_explorer::ui::help::figure;

use crate::app::{harness, options, quiesce, run_until, trained_checkpoint};
use crate::help::redraw;

/// The harness's window, in points (1 pixel per point).
const WINDOW: egui::Vec2 = egui::vec2(1600.0, 1000.0);

/// What separates the column of slider images from the grids, in points: the images'
/// frames (3.5 each side), the spacing either side of the separator and its line.
const GUTTER: f32 = 24.0;

/// The digits' side in pixels.
const PX: usize = 28;

/// The grid's side (`options(…)` sets 5).
const GRID: usize = 5;

/// The app on `n` copies of one trained checkpoint, every slider image and grid decoded.
fn app_with_runs(n: usize) -> (Harness<'static, ExplorerApp>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, _, _) = trained_checkpoint(dir.path(), 1);
    let files: Vec<PathBuf> = (0..n)
        .map(|i| {
            let p = dir.path().join(format!("run{i}.safetensors"));
            std::fs::copy(&ckpt, &p).unwrap();
            p
        })
        .collect();
    let mut opts = options(1000, 50, 20);
    opts.autostart = false;
    opts.open = files;
    let mut h = harness(opts);
    run_until(&mut h, 120, "every run's slider image and grid", |a| {
        a.runs.len() == n
            && a.runs
                .iter()
                .all(|r| r.image(ViewKey::Slider).is_some() && r.image(ViewKey::Grid).is_some())
    });
    quiesce(&mut h);
    redraw(&mut h);
    (h, dir)
}

/// The rectangles of the image views described by `what`, left to right, top to bottom.
fn drawn(h: &Harness<'_, ExplorerApp>, what: &str) -> Vec<egui::Rect> {
    let mut rects: Vec<egui::Rect> = h
        .query_all(by().role(Role::Image))
        .filter(|n| n.accesskit_node().description().as_deref() == Some(what))
        .map(|n| n.rect())
        .collect();
    rects.sort_by(|a, b| {
        (a.top(), a.left())
            .partial_cmp(&(b.top(), b.left()))
            .unwrap()
    });
    rects
}

/// The integer `k` with `size == k · extent` on both sides (`None` if there is none).
fn integer_multiple(size: egui::Vec2, tiles: Tiles) -> Option<u32> {
    let [ew, eh] = tiles.extent();
    let k = (size.x / ew).round();
    ((size.x - k * ew).abs() < 0.01 && (size.y - k * eh).abs() < 0.01 && k >= 1.0)
        .then_some(k as u32)
}

/// The space from the top-left corner of `rects` to `corner`.
fn region(rects: &[egui::Rect], corner: egui::Pos2) -> egui::Vec2 {
    let left = rects.iter().map(|r| r.left()).fold(f32::MAX, f32::min);
    let top = rects.iter().map(|r| r.top()).fold(f32::MAX, f32::min);
    corner - egui::pos2(left, top)
}

/// Checks common to one and four runs: `n` views of `tiles` each, all the same size, an
/// integer multiple `k` of the images' pixels, inside the window, not overlapping one
/// another, left of and above `corner`; and no arrangement of `n` views at `k + 1` fits
/// from their top-left corner to `corner` even with nothing else in the way (the sizing
/// function with no overhead). Returns `k`.
#[track_caller]
fn check_views(
    rects: &[egui::Rect],
    n: usize,
    tiles: Tiles,
    corner: egui::Pos2,
    what: &str,
) -> u32 {
    assert_eq!(rects.len(), n, "{what}: {n} drawn, found {rects:?}");
    let window = egui::Rect::from_min_max(egui::Pos2::ZERO, corner);
    for (i, r) in rects.iter().enumerate() {
        assert!(
            window.contains_rect(*r),
            "{what} {i} outside the window: {r:?}"
        );
        assert_eq!(
            r.size(),
            rects[0].size(),
            "{what}: the views differ in size"
        );
        for s in &rects[i + 1..] {
            assert!(!r.intersects(*s), "{what}: {r:?} overlaps {s:?}");
        }
    }
    let k = integer_multiple(rects[0].size(), tiles).unwrap_or_else(|| {
        panic!(
            "{what}: {:?} is not an integer multiple of {:?}",
            rects[0].size(),
            tiles.extent()
        )
    });
    let upper = fit::share(region(rects, corner), n, egui::Vec2::ZERO, tiles, 1.0);
    assert!(
        upper.fit.scale < (k + 1) as f32,
        "{what}: drawn at {k}×, but {}× fits the space ({:?} runs across × down in {:?})",
        upper.fit.scale,
        (upper.across, upper.down),
        region(rects, corner)
    );
    k
}

#[test]
fn one_run_fills_the_space_beside_the_sliders_at_integer_multiples() {
    let (h, _dir) = app_with_runs(1);
    let grid_tiles = Tiles::new([PX, PX], GRID, GRID);
    let image_tiles = Tiles::single([PX, PX]);
    let grids = drawn(&h, figure::GRID);
    let images = drawn(&h, figure::SLIDER_IMAGE);
    let k = check_views(&grids, 1, grid_tiles, WINDOW.to_pos2(), "grid");
    // The slider image has the column left of the grid.
    let column = egui::pos2(grids[0].left() - GUTTER, WINDOW.y);
    let m = check_views(&images, 1, image_tiles, column, "slider image");
    let (grid, image) = (grids[0], images[0]);
    eprintln!(
        "1 run at 1600×1000: grid {:?} at {k}× (cells {} px), slider image {:?} at {m}×",
        grid.size(),
        k as usize * PX,
        image.size()
    );
    // The grid is beside the slider image, not under it.
    assert!(grid.left() >= image.right(), "{grid:?} vs {image:?}");
    // Before, the grid took ≈200 points (cells ≈ 40 px at 5×5, ≈ 13 px at 15×15) and the
    // slider image at most 200: now cells of at least 3 × 28 px and an image of 8 × 28.
    assert!(k >= 3, "grid cells {} px", k as usize * PX);
    assert!(grid.width() > 400.0, "{grid:?}");
    assert!(m >= 8 && image.width() > 200.0, "slider image {image:?}");
    // The sizing function on the grid's own space gives what was drawn: the grid is as
    // large as the space between its corner and the window's allows.
    let space = region(&grids, WINDOW.to_pos2());
    assert_eq!(
        fit::fit(space, grid_tiles, 1.0).scale,
        k as f32,
        "{space:?}"
    );
}

#[test]
fn four_runs_share_the_space_beside_the_sliders_at_integer_multiples() {
    let (h, _dir) = app_with_runs(4);
    let grid_tiles = Tiles::new([PX, PX], GRID, GRID);
    let image_tiles = Tiles::single([PX, PX]);
    let grids = drawn(&h, figure::GRID);
    let images = drawn(&h, figure::SLIDER_IMAGE);
    let k = check_views(&grids, 4, grid_tiles, WINDOW.to_pos2(), "grid");
    let left = grids.iter().map(|r| r.left()).fold(f32::MAX, f32::min);
    let m = check_views(
        &images,
        4,
        image_tiles,
        egui::pos2(left - GUTTER, WINDOW.y),
        "slider image",
    );
    eprintln!(
        "4 runs at 1600×1000: grids {:?} at {k}× (cells {} px), slider images {:?} at {m}×",
        grids[0].size(),
        k as usize * PX,
        images[0].size()
    );
    // Every grid lies beside the slider images.
    let images_right = images.iter().map(|r| r.right()).fold(0.0, f32::max);
    assert!(grids.iter().all(|g| g.left() >= images_right), "{grids:?}");
    // Four share what one run had alone: each grid at least 1× (146 points), each slider
    // image at least 3× (84 points); each no bigger than one run's.
    assert!(k >= 1 && m >= 3, "grids at {k}×, slider images at {m}×");
    let (one, _dir1) = app_with_runs(1);
    let k1 = integer_multiple(drawn(&one, figure::GRID)[0].size(), grid_tiles).unwrap();
    let m1 = integer_multiple(drawn(&one, figure::SLIDER_IMAGE)[0].size(), image_tiles).unwrap();
    assert!(k < k1 && m < m1, "4 runs {k}×/{m}×, 1 run {k1}×/{m1}×");
}
