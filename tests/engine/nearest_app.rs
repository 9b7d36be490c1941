//! Nearest training images of any decoded image (issue 29 item 6): the image menu's entry
//! asks the run's decode thread for the tile under the pointer — the slider image, a grid
//! cell — and the window's neighbours are a brute-force search's, in pixel and latent space.

use std::sync::Arc;

use latent_explorer::checkpoint;
use latent_explorer::explore::{CodeLabels, decode_codes, encode_split};
use latent_explorer::ui::decoder::{Job, ViewKey};
use latent_explorer::ui::nearest::NEAREST_K;
use latent_explorer::ui::settings::CompareTab;
use latent_explorer::ui::{AppOptions, ExplorerApp, UiCommand};

use crate::app::{harness, nth_run, options, quiesce, run_id, run_until};
use crate::common::{cpu, max_abs_diff};
use crate::explore_tools::{fixture, fixture_data};

/// The `k` nearest rows of `points` (`dim` values each) to `q`, nearest first: index and
/// distance, by a plain host loop.
fn brute(points: &[f32], q: &[f32], dim: usize, k: usize) -> Vec<(usize, f64)> {
    let mut d: Vec<(usize, f64)> = points
        .chunks(dim)
        .enumerate()
        .map(|(i, p)| {
            let s: f64 = p
                .iter()
                .zip(q)
                .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                .sum();
            (i, s.sqrt())
        })
        .collect();
    d.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    d.truncate(k);
    d
}

fn wait_result(h: &mut egui_kittest::Harness<'static, ExplorerApp>) {
    run_until(h, 60, "the nearest training images", |a| {
        let r = nth_run(a, 0);
        r.views
            .nearest
            .as_ref()
            .is_some_and(|n| Some(&n.job) == r.views.nearest_query.as_ref())
    });
}

#[test]
fn any_decoded_image_finds_its_nearest_training_images_by_brute_force() {
    let f = fixture();
    let mut opts: AppOptions = options(1000, 50, 20);
    let data = Arc::new(fixture_data());
    opts.data = Some(data.clone());
    opts.autostart = false;
    opts.open = vec![f.ckpt.clone()];
    if let Some(v) = opts.view.as_mut() {
        v.compare_tab = CompareTab::Latents;
    }
    let mut h = harness(opts);
    run_until(&mut h, 60, "the run's codes", |a| {
        a.runs
            .iter()
            .next()
            .is_some_and(|r| r.views.stats.is_some())
    });
    quiesce(&mut h);
    let id = run_id(h.state(), 0);
    // Nothing is searched until asked.
    assert!(
        !nth_run(h.state(), 0)
            .views
            .jobs
            .contains_key(&ViewKey::Nearest)
    );

    let loaded = checkpoint::load(&f.ckpt, &cpu()).unwrap();
    let train = data.train.pixels.to_f32();
    let codes = encode_split(&loaded.model, &data.train, &cpu(), 250);
    let check = |h: &egui_kittest::Harness<'static, ExplorerApp>, z: &[f32]| {
        let r = nth_run(h.state(), 0);
        let n = r.views.nearest.as_ref().unwrap();
        assert_eq!(n.job.z, z, "the tile's latent vector");
        let px =
            decode_codes(&loaded.model, z.to_vec(), z.len(), CodeLabels::None, &cpu()).unwrap();
        assert!(max_abs_diff(&n.pixels, &px) < 1e-5, "the decode");
        let want_px = brute(&train, &px, 784, NEAREST_K);
        let want_z = brute(&codes.mu, z, codes.dim, NEAREST_K);
        for (got, want, space) in [
            (&n.near_pixels, &want_px, "pixel"),
            (&n.near_codes, &want_z, "latent"),
        ] {
            let gi: Vec<usize> = got.iter().map(|g| g.index).collect();
            let wi: Vec<usize> = want.iter().map(|w| w.0).collect();
            assert_eq!(gi, wi, "{space} neighbours");
            for (g, w) in got.iter().zip(want) {
                assert!(
                    (g.distance as f64 - w.1).abs() < 1e-3 * w.1.max(1.0),
                    "{space}: {g:?} vs {w:?}"
                );
            }
        }
    };

    // The slider image: the cursor's point.
    h.state_mut().push_command(UiCommand::NearestAt {
        run: id,
        view: ViewKey::Slider,
        cols: 1,
        at: [0.5, 0.5],
    });
    h.step();
    wait_result(&mut h);
    let z = h
        .state()
        .runs
        .cursor
        .latent_for(nth_run(h.state(), 0))
        .unwrap();
    check(&h, &z);

    // A grid cell: row 1, column 2 of the k × k grid the grid job decodes.
    let Some(Job::Decode { z: grid, n, .. }) = nth_run(h.state(), 0)
        .views
        .jobs
        .get(&ViewKey::Grid)
        .cloned()
    else {
        panic!("no grid job")
    };
    let k = (n as f64).sqrt().round() as usize;
    assert_eq!(k * k, n);
    let d = grid.len() / n;
    let i = k + 2;
    h.state_mut().push_command(UiCommand::NearestAt {
        run: id,
        view: ViewKey::Grid,
        cols: k,
        at: [(2.5) / k as f32, 1.5 / k as f32],
    });
    h.step();
    wait_result(&mut h);
    check(&h, &grid[i * d..(i + 1) * d]);
    let source = &nth_run(h.state(), 0)
        .views
        .nearest
        .as_ref()
        .unwrap()
        .job
        .source;
    assert_eq!(source, &format!("grid image {i}"));
    // The window draws (through wgpu, as the app does); LATENT_EXPLORER_SHOTS=DIR keeps
    // the frame as DIR/nearest-window.png for the guide.
    h.run_steps(2);
    let img = h.render().expect("render");
    assert!(img.width() > 0);
    if let Ok(dir) = std::env::var("LATENT_EXPLORER_SHOTS") {
        img.save(std::path::Path::new(&dir).join("nearest-window.png"))
            .unwrap();
    }

    // Reconstructions come from test images, not latent vectors: an error, no search.
    h.state_mut().push_command(UiCommand::CloseNearest(id));
    h.step();
    assert!(nth_run(h.state(), 0).views.nearest_query.is_none());
    h.state_mut().push_command(UiCommand::NearestAt {
        run: id,
        view: ViewKey::Recon,
        cols: 1,
        at: [0.5, 0.5],
    });
    h.step();
    let r = nth_run(h.state(), 0);
    assert!(r.views.nearest_query.is_none());
    assert!(
        r.status
            .errors
            .iter()
            .any(|e| e.contains("no decoded image there")),
        "{:?}",
        r.status.errors
    );
}
