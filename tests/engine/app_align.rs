//! Aligned runs in the app: a trained checkpoint and a copy of it whose latent is an exact
//! rotation (`align::rotated`), opened side by side. With "Aligned" off their maps on two
//! dimensions differ and one slider vector decodes to different images; with it on, the
//! copy is fitted onto the focused run with residual ≈ 0, both maps put every test digit in
//! the same place, and the sliders' vector, mapped into the copy, decodes to the same image.

use std::path::PathBuf;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use latent_explorer::checkpoint::{self, CheckpointMeta};
use latent_explorer::gpu::TileSource;
use latent_explorer::ui::ExplorerApp;
use latent_explorer::ui::decoder::ViewKey;
use latent_explorer::ui::panels::map::{MapGeometry, geometry_id};
use latent_explorer::ui::run::{Run, RunId};
use latent_explorer::ui::settings::{CompareTab, MapAxes};

use crate::align::{random_orthogonal, rotated};
use crate::app::{harness, options, quiesce, run_until, trained_checkpoint};
use crate::common::{cpu, max_abs_diff};
use crate::help::redraw;

fn points(h: &Harness<'_, ExplorerApp>, id: RunId) -> Vec<[f64; 2]> {
    h.ctx
        .data(|m| m.get_temp::<MapGeometry>(geometry_id(id)))
        .expect("the map was drawn")
        .points
        .to_vec()
}

fn worst(a: &[[f64; 2]], b: &[[f64; 2]]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(p, q)| (p[0] - q[0]).abs().max((p[1] - q[1]).abs()))
        .fold(0.0, f64::max)
}

fn slider_image(run: &Run) -> Vec<f32> {
    match run.image(ViewKey::Slider).map(|i| &i.source) {
        Some(TileSource::Host(v)) => v.as_ref().clone(),
        _ => panic!("expected host pixels on the CPU backend"),
    }
}

/// Set the sliders' vector and wait for both runs' images of it.
fn show_vector(h: &mut Harness<'static, ExplorerApp>, z: &[f32]) {
    h.state_mut().runs.cursor.set_explicit(z.to_vec());
    redraw(h);
    quiesce(h);
    redraw(h);
}

#[test]
fn aligned_runs_put_a_rotated_copys_digits_in_place_and_decode_the_sliders_alike() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("app_align");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (orig, _, _) = trained_checkpoint(&dir, 1);
    let loaded = checkpoint::load(&orig, &cpu()).unwrap();
    let d = loaded.meta.train.model.latent_dim;
    let q = random_orthogonal(d, 51);
    let turned = dir.join("turned.safetensors");
    let meta = CheckpointMeta::new(
        loaded.meta.train.clone(),
        loaded.meta.dataset.clone(),
        loaded.meta.epoch,
        loaded.meta.step,
        None,
    );
    checkpoint::save(&turned, &rotated(&loaded.model, &q, d), &loaded.aux, &meta).unwrap();

    let mut opts = options(1000, 50, 20);
    opts.autostart = false;
    opts.open = vec![orig, turned];
    if let Some(v) = opts.view.as_mut() {
        v.compare_tab = CompareTab::Map;
        v.explore.map_axes = MapAxes::Dims;
        v.explore.map_dims = [0, 1];
    }
    let mut h = harness(opts);
    run_until(&mut h, 120, "both runs' codes", |a| {
        a.runs.len() == 2 && a.runs.iter().all(|r| r.views.stats.is_some())
    });
    quiesce(&mut h);
    redraw(&mut h);
    let focused = h.state().runs.focused.expect("a focused run");
    let other = h.state().runs.iter().find(|r| r.id != focused).unwrap().id;
    let z: Vec<f32> = (0..d).map(|j| 1.5 * ((j as f32) * 0.9).sin()).collect();

    // Off: nothing fitted, and the maps disagree.
    assert!(h.state().runs.iter().all(|r| r.views.aligned.is_none()));
    let spread = points(&h, focused)
        .iter()
        .map(|p| p[0].abs().max(p[1].abs()))
        .fold(0.0, f64::max);
    assert!(worst(&points(&h, focused), &points(&h, other)) > 0.05 * spread);

    // On: the copy fitted with residual ≈ 0, and every digit in the same place.
    h.state_mut().persisted.view.explore.aligned = true;
    redraw(&mut h);
    quiesce(&mut h);
    redraw(&mut h);
    let app = h.state();
    let fitted = app.runs.get(other).unwrap().views.aligned.clone();
    let fit = fitted
        .as_ref()
        .expect("the copy is fitted")
        .fit
        .as_ref()
        .unwrap();
    assert!(fit.residual < 1e-3, "residual {}", fit.residual);
    assert!(app.runs.get(focused).unwrap().views.frame.is_some());
    let w = worst(&points(&h, focused), &points(&h, other));
    assert!(w <= 1e-3 * spread, "a digit is {w} away (spread {spread})");

    // The sliders: the copy decodes their vector mapped into its own coordinates, to the
    // focused run's image.
    h.state_mut().persisted.view.compare_tab = CompareTab::Latents;
    show_vector(&mut h, &z);
    let app = h.state();
    let mapped = app
        .runs
        .cursor
        .latent_for(app.runs.get(other).unwrap())
        .unwrap();
    assert!(max_abs_diff(&mapped, &fit.map_back(&z)) < 1e-6);
    let (a, b) = (
        slider_image(app.runs.get(focused).unwrap()),
        slider_image(app.runs.get(other).unwrap()),
    );
    assert!(max_abs_diff(&a, &b) < 1e-3, "{}", max_abs_diff(&a, &b));
    // The hover help names the fit.
    let help = h
        .get_all_by_label("Aligned")
        .next()
        .expect("the Aligned checkbox")
        .accesskit_node()
        .description()
        .unwrap_or_default();
    assert!(help.contains("relative residual 0.00"), "{help}");

    // Off again: the same vector, as it is, gives the copy another image.
    h.state_mut().persisted.view.explore.aligned = false;
    show_vector(&mut h, &z);
    let app = h.state();
    let (a, b) = (
        slider_image(app.runs.get(focused).unwrap()),
        slider_image(app.runs.get(other).unwrap()),
    );
    assert!(max_abs_diff(&a, &b) > 0.01, "unaligned images agree");

    // Through the epochs: the focused run's next codes are its codes turned by another
    // rotation (a new epoch whose codes only turned). The chained frame fits them onto the
    // map shown before, so no digit moves; drawn as they are, they would have.
    h.state_mut().persisted.view.explore.aligned = true;
    h.state_mut().persisted.view.compare_tab = CompareTab::Map;
    redraw(&mut h);
    quiesce(&mut h);
    redraw(&mut h);
    let before = points(&h, focused);
    let turn = random_orthogonal(d, 61);
    let raw: Vec<[f64; 2]> = {
        let run = h.state_mut().runs.get_mut(focused).unwrap();
        let s = run.views.stats.as_mut().unwrap();
        let mut turned = vec![0.0f32; s.codes.len()];
        for (r, c) in s.codes.chunks_exact(d).enumerate() {
            for k in 0..d {
                turned[r * d + k] =
                    (0..d).map(|j| c[j] as f64 * turn[j * d + k]).sum::<f64>() as f32;
            }
        }
        s.codes = turned;
        s.step += 1;
        s.codes
            .chunks_exact(d)
            .map(|c| [c[0] as f64, c[1] as f64])
            .collect()
    };
    redraw(&mut h);
    let frame = h
        .state()
        .runs
        .get(focused)
        .unwrap()
        .views
        .frame
        .clone()
        .unwrap();
    assert_eq!(frame.links, 1, "one set of codes chained");
    let after = points(&h, focused);
    let moved = worst(&before, &after);
    assert!(
        moved <= 1e-3 * spread,
        "a digit moved {moved} (spread {spread})"
    );
    assert!(
        worst(&before, &raw) > 0.05 * spread,
        "the turn moved nothing"
    );
    // The copy, fitted onto the new codes, still sits on the focused run's map.
    let w = worst(&after, &points(&h, other));
    assert!(w <= 1e-3 * spread, "a digit is {w} away (spread {spread})");
}
