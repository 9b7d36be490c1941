//! The exploring tabs in the app (egui_kittest, CPU backend, lavapipe renderer): a click on
//! the latent map moves the cursor to exactly that digit's code; a dragged rectangle
//! selects the digits inside it for every run; paths start and end at the two codes;
//! traversal rows follow the KL order; anomaly scores separate inverted digits; a drawn
//! input encodes exactly as the same pixels loaded from a PNG; exports decode back; bad
//! input images are named, not fatal.

use std::io::Cursor;

use eframe::egui;
use egui_kittest::kittest::{NodeT, Queryable, by};
use image::AnimationDecoder;
use latent_explorer::data::input;
use latent_explorer::export::ExportFormat;
use latent_explorer::ui::decoder::{Job, ViewKey};
use latent_explorer::ui::panels::map::{MapGeometry, geometry_id};
use latent_explorer::ui::run::RunId;
use latent_explorer::ui::settings::CompareTab;
use latent_explorer::ui::{ExplorerApp, UiCommand};

use crate::app::{harness, nth_run, options, quiesce, run_id, run_until, trained_checkpoint};

/// A checkpoint trained once per test binary (8 epochs on 2000 digits: a model that has
/// learnt the digits' shapes).
fn checkpoint() -> std::path::PathBuf {
    static PATH: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        // One fixed directory, made afresh by each run of the test binary.
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("explore_app");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        trained_checkpoint(&dir, 8).0
    })
    .clone()
}

/// The app with that checkpoint open on `tab`, its codes of the test set computed.
fn paused_app(tab: CompareTab) -> (egui_kittest::Harness<'static, ExplorerApp>, RunId) {
    let mut opts = options(1000, 50, 20);
    opts.autostart = false;
    opts.open = vec![checkpoint()];
    if let Some(v) = opts.view.as_mut() {
        v.compare_tab = tab;
    }
    let mut h = harness(opts);
    run_until(&mut h, 60, "the checkpoint's codes", |a| {
        a.runs
            .iter()
            .next()
            .is_some_and(|r| r.views.stats.is_some())
    });
    let id = run_id(h.state(), 0);
    quiesce(&mut h);
    (h, id)
}

fn geometry(h: &egui_kittest::Harness<'_, ExplorerApp>, id: RunId) -> MapGeometry {
    h.ctx
        .data(|m| m.get_temp::<MapGeometry>(geometry_id(id)))
        .expect("the map was drawn")
}

fn screen(g: &MapGeometry, i: usize) -> egui::Pos2 {
    let p = g.points[i];
    g.transform
        .position_from_point(&egui_plot::PlotPoint::new(p[0], p[1]))
}

#[test]
fn clicking_a_map_point_sets_the_cursor_to_exactly_that_digits_code() {
    let (mut h, id) = paused_app(CompareTab::Map);
    let g = geometry(&h, id);
    let frame = *g.transform.frame();
    // A digit well inside the plot (away from the legend in the top-right corner) with no
    // other digit within 3 points, so the click can only mean it.
    let inner = egui::Rect::from_min_max(
        frame.min + egui::vec2(20.0, 20.0),
        egui::pos2(frame.center().x, frame.max.y - 20.0),
    );
    let pos: Vec<egui::Pos2> = (0..g.points.len()).map(|i| screen(&g, i)).collect();
    let target = (0..pos.len())
        .filter(|&i| inner.contains(pos[i]) && i != h.state().runs.cursor.digit)
        .find(|&i| {
            pos.iter()
                .enumerate()
                .all(|(j, p)| j == i || p.distance(pos[i]) > 3.0)
        })
        .expect("an isolated digit on the map");
    h.hover_at(pos[target]);
    h.step();
    h.event(egui::Event::PointerButton {
        pos: pos[target],
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: egui::Modifiers::NONE,
    });
    h.step();
    h.event(egui::Event::PointerButton {
        pos: pos[target],
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: egui::Modifiers::NONE,
    });
    h.step();
    h.step();
    let app = h.state();
    let c = &app.runs.cursor;
    assert!(c.follow_digit && !c.follow_input);
    assert_eq!(c.digit, target, "the click picked another digit");
    let run = nth_run(app, 0);
    let s = run.views.stats.as_ref().unwrap();
    let d = s.latent;
    assert_eq!(
        c.latent_for(run).unwrap(),
        s.codes[target * d..(target + 1) * d].to_vec(),
        "the cursor is not that digit's code"
    );
}

#[test]
fn a_dragged_rectangle_selects_the_digits_inside_it_for_every_run() {
    let (mut h, id) = paused_app(CompareTab::Map);
    let g = geometry(&h, id);
    let f = *g.transform.frame();
    // A rectangle over the left-middle of the plot, dragged in several moves.
    let a = f.lerp_inside(egui::vec2(0.2, 0.3));
    let b = f.lerp_inside(egui::vec2(0.55, 0.75));
    h.hover_at(a);
    h.step();
    h.drag_at(a);
    h.step();
    for k in 1..=6 {
        h.hover_at(a.lerp(b, k as f32 / 6.0));
        h.step();
    }
    h.drop_at(b);
    h.step();
    h.step();
    let (lo, hi) = (
        g.transform.value_from_position(a),
        g.transform.value_from_position(b),
    );
    let (x0, x1) = (lo.x.min(hi.x), lo.x.max(hi.x));
    let (y0, y1) = (lo.y.min(hi.y), lo.y.max(hi.y));
    let expected: Vec<usize> = g
        .points
        .iter()
        .enumerate()
        .filter(|(_, p)| p[0] >= x0 && p[0] <= x1 && p[1] >= y0 && p[1] <= y1)
        .map(|(i, _)| i)
        .collect();
    assert!(
        !expected.is_empty(),
        "the rectangle holds no digit: pick another"
    );
    let got: Vec<usize> = h.state().runs.selection.iter().copied().collect();
    assert_eq!(got, expected);
    // The selection is the workspace's, not the map's: clearing it from the panel clears it
    // for every run.
    h.state_mut()
        .push_command(UiCommand::SelectDigits(Vec::new()));
    h.step();
    assert!(h.state().runs.selection.is_empty());
}

#[test]
fn paths_start_and_end_at_the_two_codes_and_exports_decode_back() {
    let (mut h, id) = paused_app(CompareTab::Paths);
    h.state_mut().push_command(UiCommand::SetPathEnds(3, 7));
    h.step();
    assert_eq!(h.state().persisted.view.explore.path_from, 3);
    // The answer to the newest request.
    run_until(&mut h, 60, "the path", |a| {
        let r = nth_run(a, 0);
        r.image(ViewKey::Path).map(|i| i.request) == r.views.requested.get(&ViewKey::Path).copied()
    });
    let run = nth_run(h.state(), 0);
    let s = run.views.stats.as_ref().unwrap();
    let d = s.latent;
    let Some(Job::Decode { z, n, .. }) = run.views.jobs.get(&ViewKey::Path) else {
        unreachable!()
    };
    let steps = h.state().persisted.view.explore.path_steps;
    assert_eq!(*n, steps);
    assert_eq!(
        &z[..d],
        &s.codes[3 * d..4 * d],
        "the path does not start at digit 3's code"
    );
    assert_eq!(
        &z[(n - 1) * d..],
        &s.codes[7 * d..8 * d],
        "the path does not end at digit 7's code"
    );
    // Export as GIF and PNG; both decode back with the image crate.
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("path.gif");
    let png = dir.path().join("path.png");
    for (format, path) in [(ExportFormat::Gif, &gif), (ExportFormat::Png, &png)] {
        h.state_mut().push_command(UiCommand::Export {
            run: id,
            view: ViewKey::Path,
            cols: steps,
            format,
            path: Some(path.clone()),
        });
    }
    // Written off the UI thread: both notes arrive.
    run_until(&mut h, 60, "the exports", |a| {
        !a.errors.is_empty() || a.notes.iter().filter(|n| n.starts_with("saved")).count() == 2
    });
    assert!(h.state().errors.is_empty(), "{:?}", h.state().errors);
    let bytes = std::fs::read(&gif).unwrap();
    let frames = image::codecs::gif::GifDecoder::new(Cursor::new(bytes))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    // Forth and back: steps + (steps − 2) frames, each one 28×28 tile with a 2-pixel border.
    assert_eq!(frames.len(), 2 * steps - 2);
    assert_eq!(frames[0].buffer().dimensions(), (32, 32));
    let still = image::open(&png).unwrap();
    assert_eq!(
        (still.width(), still.height()),
        (steps as u32 * 30 + 2, 32),
        "a strip of {steps} tiles"
    );
}

#[test]
fn traversal_rows_follow_the_kl_order_over_the_stated_range() {
    let (mut h, _) = paused_app(CompareTab::Traversals);
    {
        let ex = &mut h.state_mut().persisted.view.explore;
        ex.traversal_rows = 4;
        ex.traversal_steps = 5;
        ex.traversal_range = latent_explorer::explore::RangeMode::MinMax;
    }
    run_until(&mut h, 60, "the traversal", |a| {
        matches!(
            nth_run(a, 0).views.jobs.get(&ViewKey::Traversal),
            Some(Job::Decode { n: 20, .. })
        ) && nth_run(a, 0)
            .image(ViewKey::Traversal)
            .is_some_and(|i| i.n == 20)
    });
    let app = h.state();
    let run = nth_run(app, 0);
    let s = run.views.stats.as_ref().unwrap();
    let d = s.latent;
    let Some(Job::Decode { z, .. }) = run.views.jobs.get(&ViewKey::Traversal) else {
        unreachable!()
    };
    let order = latent_explorer::explore::order_by_desc(&s.dims.kl_per_dim);
    let base = app.runs.cursor.latent_for(run).unwrap();
    for (row, &j) in order.iter().take(4).enumerate() {
        let lo = s
            .codes
            .chunks(d)
            .map(|c| c[j])
            .fold(f32::INFINITY, f32::min);
        let hi = s
            .codes
            .chunks(d)
            .map(|c| c[j])
            .fold(f32::NEG_INFINITY, f32::max);
        for col in 0..5 {
            let v = &z[(row * 5 + col) * d..(row * 5 + col + 1) * d];
            let want = lo + (hi - lo) * col as f32 / 4.0;
            assert!((v[j] - want).abs() < 1e-5, "row {row} (z{j}) col {col}");
            for k in (0..d).filter(|&k| k != j) {
                assert_eq!(v[k], base[k], "row {row} moved z{k} too");
            }
        }
    }
}

#[test]
fn inverted_digits_score_as_anomalies() {
    let (mut h, _) = paused_app(CompareTab::Anomalies);
    run_until(&mut h, 120, "anomaly scores", |a| {
        nth_run(a, 0).views.anomaly.is_some()
    });
    let rep = nth_run(h.state(), 0).views.anomaly.clone().unwrap().report;
    assert_eq!(
        rep.normal.len(),
        h.state().runs.iter().next().unwrap().data.test.len()
    );
    assert_eq!(rep.shifted.len(), rep.normal.len());
    let auroc = rep.auroc.unwrap();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        auroc > 0.95,
        "inverted digits are not told apart: AUROC {auroc}, mean scores {} vs {}",
        mean(&rep.normal),
        mean(&rep.shifted)
    );
}

#[test]
fn a_drawn_input_encodes_exactly_as_the_same_pixels_loaded_from_a_png() {
    let (mut h, _) = paused_app(CompareTab::Input);
    let canvas = h
        .query_all(by())
        .find(|n| {
            n.accesskit_node().description().as_deref()
                == Some(latent_explorer::ui::help::explore::CANVAS)
        })
        .expect("the canvas")
        .rect();
    // A stroke down the middle, then across.
    let pts = [
        canvas.lerp_inside(egui::vec2(0.5, 0.2)),
        canvas.lerp_inside(egui::vec2(0.5, 0.8)),
        canvas.lerp_inside(egui::vec2(0.3, 0.5)),
    ];
    h.hover_at(pts[0]);
    h.step();
    h.drag_at(pts[0]);
    h.step();
    for w in pts.windows(2) {
        for k in 1..=8 {
            h.hover_at(w[0].lerp(w[1], k as f32 / 8.0));
            h.step();
        }
    }
    h.drop_at(pts[2]);
    h.step();
    let drawn = h
        .state()
        .runs
        .input
        .clone()
        .expect("the drawing is the input");
    assert!(
        drawn.iter().filter(|&&v| v > 0.5).count() > 20,
        "no ink drawn"
    );
    assert!(h.state().runs.cursor.follow_input);
    // The answer to the last request (not to a stroke half drawn).
    run_until(&mut h, 60, "the drawing's code", |a| {
        let r = nth_run(a, 0);
        r.views.input.as_ref().map(|i| i.request) == r.views.requested.get(&ViewKey::Input).copied()
    });
    let code_drawn = nth_run(h.state(), 0).views.input.clone().unwrap();
    // The same pixels through a PNG file.
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("drawn.png");
    let (rows, cols) = (28, 28);
    input::to_grey(&drawn, rows, cols).save(&png).unwrap();
    h.state_mut().push_command(UiCommand::OpenInput(png));
    run_until(&mut h, 60, "the PNG's code", |a| {
        nth_run(a, 0)
            .views
            .input
            .as_ref()
            .is_some_and(|i| i.request > code_drawn.request)
    });
    let app = h.state();
    assert_eq!(
        app.runs.input.as_deref(),
        Some(drawn.as_ref()),
        "the PNG's pixels differ"
    );
    let code_png = nth_run(app, 0).views.input.clone().unwrap();
    assert_eq!(code_png.code, code_drawn.code);
    // The input's code drives the sliders.
    assert_eq!(
        app.runs.cursor.slider_values(app.runs.focused_run()),
        code_png.code
    );
}

#[test]
fn bad_input_images_are_named_and_nothing_stops() {
    let (mut h, _) = paused_app(CompareTab::Input);
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.png");
    std::fs::write(&text, b"this is not an image").unwrap();
    let huge = dir.path().join("huge.png");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(input::MAX_INPUT_BYTES + 1)
        .unwrap();
    // A valid PNG header claiming a 100000 × 100000 image.
    let wide = dir.path().join("wide.png");
    let mut png = Vec::new();
    image::GrayImage::new(1, 1)
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    std::fs::write(&wide, &png).unwrap();
    for p in [&text, &huge, &wide, &dir.path().join("missing.png")] {
        h.state_mut().push_command(UiCommand::OpenInput(p.clone()));
    }
    h.step();
    let errors = h.state().errors.clone();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].contains("notes.png") && errors[0].contains("not a readable PNG or JPEG"));
    assert!(errors[1].contains("huge.png") && errors[1].contains("limited to"));
    assert!(errors[2].contains("wide.png"), "{}", errors[2]);
    assert!(errors[3].contains("missing.png"));
    assert!(h.state().runs.input.is_none());
    // The app goes on.
    quiesce(&mut h);
    assert_eq!(h.state().runs.len(), 1);
    assert!(nth_run(h.state(), 0).status.errors.is_empty());
}

#[test]
fn the_map_can_place_codes_by_t_sne() {
    let (mut h, id) = paused_app(CompareTab::Map);
    h.state_mut().persisted.view.explore.map_axes = latent_explorer::ui::settings::MapAxes::Tsne;
    run_until(&mut h, 120, "the t-SNE embedding", |a| {
        nth_run(a, 0).views.embedding.is_some()
    });
    quiesce(&mut h);
    let app = h.state();
    let run = nth_run(app, 0);
    let e = run.views.embedding.as_ref().unwrap();
    let s = run.views.stats.as_ref().unwrap();
    assert_eq!(e.points.len(), s.codes.len() / s.latent);
    assert_eq!(e.step, s.step);
    // The map draws the embedding: its points are the embedding's.
    let g = geometry(&h, id);
    assert_eq!(g.points.as_slice(), e.points.as_slice());
}
