//! The holes tab: per run, the training codes' density on their principal plane against the
//! prior's, N(0, I) and ex-post samples placed on it (coloured by their distance to the
//! nearest code or by the probe's confidence), both samplers' decodes with the probe's
//! scores side by side, and the hovered sample's nearest training images.

use eframe::egui;

use super::{ViewCtx, column_width, run_label};
use crate::ui::command::UiCommand;
use crate::ui::decoder::ViewKey;
use crate::ui::help;
use crate::ui::holes::{HOLES_SAMPLES, HolesResult, SamplerView};
use crate::ui::run::Run;
use crate::ui::settings::HOLES_COMPONENTS;
use crate::ui::tiles::{self, TileView};

/// Tiles per row of a sampler's grid.
const GRID_COLS: usize = 8;

/// Which sample is picked: the sampler (0: N(0, I), 1: ex-post) and its index.
type Pick = (usize, usize);

fn pick_id(run: &Run) -> egui::Id {
    egui::Id::unique(("holes-pick", run.id))
}

/// Draw the tab.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    ui.horizontal(|ui| {
        ui.heading("Prior holes").on_hover_text(help::TAB_HOLES);
        if ui
            .button("Resample")
            .on_hover_text(help::RESAMPLE)
            .clicked()
        {
            ctx.push(UiCommand::ResamplePrior);
        }
        ui.add(
            egui::DragValue::new(&mut ctx.view.explore.holes_components)
                .range(HOLES_COMPONENTS)
                .prefix("components "),
        )
        .on_hover_text(help::holes::COMPONENTS);
        ui.checkbox(
            &mut ctx.view.explore.holes_by_confidence,
            "colour by probe confidence",
        )
        .on_hover_text(help::holes::BY_CONFIDENCE);
    });
    let shown = ctx.shown();
    if shown.is_empty() {
        return;
    }
    let w = column_width(ui, shown.len()).max(160.0);
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.horizontal_top(|ui| {
            for run in &shown {
                ui.vertical(|ui| {
                    ui.set_width(w);
                    if shown.len() > 1 {
                        run_label(ui, run);
                    }
                    run_column(ui, ctx, run, w);
                });
            }
        });
    });
}

/// One run's column.
fn run_column(ui: &mut egui::Ui, ctx: &ViewCtx<'_>, run: &Run, w: f32) {
    if let Some(e) = run.views.failed.get(&ViewKey::Holes) {
        ui.colored_label(ui.visuals().error_fg_color, e);
    }
    let Some(h) = run.views.holes.as_deref() else {
        ui.weak("encoding the training set, fitting the mixture…");
        return;
    };
    scores(ui, h);
    let pick: Pick = ui
        .ctx()
        .data(|d| d.get_temp(pick_id(run)))
        .unwrap_or((0, 0));
    let plane_side = (w * 0.42).clamp(110.0, 460.0);
    let mut picked = None;
    ui.horizontal_top(|ui| {
        plane(
            ui,
            h,
            plane_side,
            ctx.view.explore.holes_by_confidence,
            pick,
        );
        ui.vertical(|ui| {
            let grid_w = (w - plane_side - 12.0).max(80.0);
            for (set, label, tip) in [
                (0, "N(0, I)", help::holes::PRIOR),
                (1, "ex-post", help::holes::GMM),
            ] {
                ui.label(label).on_hover_text(tip);
                if let Some(i) = grid(ui, ctx, run, h, set, grid_w, plane_side * 0.56, pick) {
                    picked = Some((set, i));
                }
            }
        });
    });
    let pick = picked.unwrap_or(pick);
    if picked.is_some() {
        ui.ctx().data_mut(|d| d.insert_temp(pick_id(run), pick));
    }
    neighbours(ui, run, h, pick, w);
}

/// The probe's scores and the gaps, both samplers side by side.
fn scores(ui: &mut egui::Ui, h: &HolesResult) {
    let line = |name: &str, v: &SamplerView, gap: f32| match v.score {
        Some(s) => format!(
            "{name}: confidence {:.2}, IS {:.2}, gap {gap:.2}",
            s.confidence, s.inception
        ),
        None => format!("{name}: gap {gap:.2} (no probe: digits only)"),
    };
    ui.label(line("N(0, I)", &h.prior, h.holes.prior.median_gap()))
        .on_hover_text(help::holes::SCORES);
    ui.label(line("ex-post", &h.gmm, h.holes.gmm.median_gap()))
        .on_hover_text(help::holes::SCORES);
    let probe = if h.probe_micros > 0 {
        format!(", probe trained in {:.1} s", h.probe_micros as f64 / 1e6)
    } else {
        String::new()
    };
    ui.weak(format!(
        "prior mass in holes {:.0}% · K = {} · {} codes · step {} · {:.2} s{probe}",
        100.0 * h.holes.plane.prior_mass_in_holes(),
        h.job.components,
        h.codes,
        h.step,
        h.micros as f64 / 1e6
    ))
    .on_hover_text(help::holes::PLANE);
}

/// Green (0) to red (1).
fn ramp(t: f32) -> egui::Color32 {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        1.0
    };
    egui::Color32::from_rgb((40.0 + 215.0 * t) as u8, (200.0 - 150.0 * t) as u8, 60)
}

/// The colour of each sample of a set: its gap over `scale`, or 1 − its confidence.
fn colours(h: &HolesResult, set: usize, by_confidence: bool, scale: f32) -> Vec<egui::Color32> {
    let (draws, view) = if set == 0 {
        (&h.holes.prior, &h.prior)
    } else {
        (&h.holes.gmm, &h.gmm)
    };
    if by_confidence && !view.confidence.is_empty() {
        view.confidence.iter().map(|c| ramp(1.0 - c)).collect()
    } else {
        draws.gap.iter().map(|g| ramp(g / scale)).collect()
    }
}

/// The largest gap of the N(0, I) draws: the colour scale's end.
fn gap_scale(h: &HolesResult) -> f32 {
    h.holes
        .prior
        .gap
        .iter()
        .chain(&h.holes.gmm.gap)
        .copied()
        .filter(|g| g.is_finite())
        .fold(1e-6, f32::max)
}

/// The plane: the codes' density, the prior's rings, both samplers' draws.
fn plane(ui: &mut egui::Ui, h: &HolesResult, side: f32, by_confidence: bool, pick: Pick) {
    let (rect, resp) = ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::hover());
    resp.on_hover_text(help::holes::PLANE);
    let p = ui.painter_at(rect);
    p.rect_filled(rect, 0.0, egui::Color32::from_gray(18));
    let d = &h.holes.plane;
    let e = d.extent as f32;
    let at = |x: f64, y: f64| {
        egui::pos2(
            rect.left() + (x as f32 + e) / (2.0 * e) * side,
            rect.bottom() - (y as f32 + e) / (2.0 * e) * side,
        )
    };
    let top = d.codes.iter().copied().fold(0.0, f64::max).max(1e-12);
    let edges = d.edges();
    let mut mesh = egui::Mesh::default();
    for iy in 0..d.bins {
        for ix in 0..d.bins {
            let c = d.codes[iy * d.bins + ix];
            if c <= 0.0 {
                continue;
            }
            let t = (c / top).sqrt() as f32;
            let r = egui::Rect::from_two_pos(
                at(edges[ix], edges[iy]),
                at(edges[ix + 1], edges[iy + 1]),
            );
            mesh.add_colored_rect(
                r,
                egui::Color32::from_rgb(
                    (30.0 + 60.0 * t) as u8,
                    (40.0 + 110.0 * t) as u8,
                    (60.0 + 190.0 * t) as u8,
                ),
            );
        }
    }
    p.add(mesh);
    let centre = at(0.0, 0.0);
    for r in [1.0f32, 2.0, 3.0] {
        p.circle_stroke(
            centre,
            r / (2.0 * e) * side,
            egui::Stroke::new(1.0, egui::Color32::from_gray(150)),
        );
    }
    let scale = gap_scale(h);
    for (set, draws) in [(0, &h.holes.prior), (1, &h.holes.gmm)] {
        let cols = colours(h, set, by_confidence, scale);
        for (i, (xy, c)) in draws.xy.iter().zip(cols).enumerate() {
            let q = at(xy[0], xy[1]);
            if set == 0 {
                p.circle_filled(q, 2.8, c);
            } else {
                p.rect_filled(
                    egui::Rect::from_center_size(q, egui::vec2(5.0, 5.0)),
                    0.0,
                    c,
                );
            }
            if (set, i) == pick {
                p.circle_stroke(q, 6.0, egui::Stroke::new(1.5, egui::Color32::WHITE));
            }
        }
    }
}

/// One sampler's decodes as a grid; returns the hovered sample.
#[allow(clippy::too_many_arguments)]
fn grid(
    ui: &mut egui::Ui,
    ctx: &ViewCtx<'_>,
    run: &Run,
    h: &HolesResult,
    set: usize,
    w: f32,
    max_h: f32,
    pick: Pick,
) -> Option<usize> {
    let view = if set == 0 { &h.prior } else { &h.gmm };
    let rows = HOLES_SAMPLES.div_ceil(GRID_COLS);
    let version = h
        .step
        .wrapping_mul(1_000_003)
        .wrapping_add(h.micros)
        .wrapping_add(h.job.seed << 32)
        .wrapping_add(h.job.components as u64);
    let r = tiles::show_host(
        ui,
        TileView {
            key: run.id.painter_key(ViewKey::Holes) | ((set as u64 + 1) << 8),
            version,
            cols: GRID_COLS,
            rows,
            max_size: egui::vec2(w, max_h.max(40.0)),
            colormap: ctx.view.colormap,
            highlight: (pick.0 == set).then_some(pick.1 as u32),
            frame: None,
            first: 0,
        },
        view.pixels.clone(),
        HOLES_SAMPLES,
        h.shape,
    );
    let hovered = r.hover_pos().and_then(|pos| {
        let rel = pos - r.rect.min;
        let col = (rel.x / r.rect.width() * GRID_COLS as f32).floor() as usize;
        let row = (rel.y / r.rect.height() * rows as f32).floor() as usize;
        let i = row * GRID_COLS + col.min(GRID_COLS - 1);
        (i < HOLES_SAMPLES).then_some(i)
    });
    r.on_hover_text(if set == 0 {
        help::holes::PRIOR
    } else {
        help::holes::GMM
    });
    hovered
}

/// The picked sample's nearest training images in pixel and latent space.
fn neighbours(ui: &mut egui::Ui, run: &Run, h: &HolesResult, pick: Pick, w: f32) {
    let (set, i) = pick;
    let (draws, view) = if set == 0 {
        (&h.holes.prior, &h.prior)
    } else {
        (&h.holes.gmm, &h.gmm)
    };
    let conf = view
        .confidence
        .get(i)
        .map(|c| format!(", probe confidence {c:.2}"))
        .unwrap_or_default();
    ui.label(format!(
        "{} sample {i}: gap to the nearest code {:.2}{conf}",
        if set == 0 { "N(0, I)" } else { "ex-post" },
        draws.gap.get(i).copied().unwrap_or(f32::NAN)
    ))
    .on_hover_text(help::holes::NEAREST);
    let shape = h.shape;
    let k = view.near_pixels.get(i).map_or(0, Vec::len).max(1);
    let side = ((w - 60.0) / k as f32 - 8.0).clamp(28.0, 84.0);
    for (name, near) in [
        ("pixels", view.near_pixels.get(i)),
        ("latent", view.near_codes.get(i)),
    ] {
        let Some(near) = near else {
            continue;
        };
        ui.horizontal(|ui| {
            ui.label(name).on_hover_text(help::holes::NEAREST);
            for n in near {
                ui.vertical(|ui| {
                    train_image(ui, run, n.index, shape, side);
                    ui.small(format!("#{} {:.2}", n.index, n.distance));
                });
            }
        });
    }
}

/// A training image of `run`'s data as an egui texture (kept by run and index); also the
/// nearest-training-images window's.
pub(super) fn train_image(
    ui: &mut egui::Ui,
    run: &Run,
    i: usize,
    shape: crate::data::ImageShape,
    side: f32,
) {
    let split = &run.data.train;
    if i >= split.len() {
        ui.label("—");
        return;
    }
    let size = super::image_size(ui, shape, egui::vec2(side, side));
    let id = egui::Id::unique(("holes-train", run.id, i));
    let tex: Option<egui::TextureHandle> = ui.ctx().data(|m| m.get_temp(id));
    let tex = tex.unwrap_or_else(|| {
        let ci = super::host_image(&split.image(i), split.shape());
        let t = ui
            .ctx()
            .load_texture(format!("train {i}"), ci, egui::TextureOptions::NEAREST);
        ui.ctx().data_mut(|m| m.insert_temp(id, t.clone()));
        t
    });
    ui.add(egui::Image::new((tex.id(), size)))
        .on_hover_text(help::holes::NEAREST);
}
