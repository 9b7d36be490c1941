//! The amortisation gap: per run, its map of the test codes (on its top two principal
//! directions, as the latent map draws them) coloured by each image's gap (−ELBO) −
//! (−IWAE_k), a colour scale, the mean gap, and the images its encoder serves worst. The
//! gaps are the library's [`crate::explore::GapReport`], computed only while this tab shows.

use eframe::egui;

use super::collapse::{colour_bar, heat_colour};
use super::map::{digit_image, project};
use super::{ViewCtx, column_width, k_seed_rescore, run_label};
use crate::ui::command::UiCommand;
use crate::ui::decoder::{GapResult, ViewKey};
use crate::ui::help;
use crate::ui::run::Run;
use crate::ui::settings;

/// Worst-served images listed.
const SHOWN: usize = 8;

/// How near (in points) the pointer must be to a dot to hover it.
const PICK: f32 = 6.0;

fn controls(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let ex = &mut ctx.view.explore;
    let mut rescore = false;
    ui.horizontal_wrapped(|ui| {
        rescore = k_seed_rescore(
            ui,
            "samples k",
            &mut ex.gap_k,
            settings::GAP_K,
            help::explore::GAP_K,
            &mut ex.gap_seed,
            help::explore::GAP_SEED,
        );
    });
    if rescore {
        ctx.push(UiCommand::Rescore);
    }
}

/// Draw the controls and one column per shown run.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    controls(ui, ctx);
    let shown = ctx.shown();
    if shown.is_empty() {
        return;
    }
    // One colour scale for every run (to the largest run's 98th percentile of its gaps), so
    // colours compare across them.
    let hi = shown
        .iter()
        .filter_map(|r| r.views.gap.as_ref())
        .map(|g| quantile(&g.report.gaps(), 0.98))
        .fold(1e-6, f64::max);
    let w = column_width(ui, shown.len()).max(160.0);
    ui.horizontal_top(|ui| {
        for run in shown {
            ui.vertical(|ui| {
                ui.set_width(w);
                run_label(ui, run);
                column(ui, ctx, run, w, hi);
            });
        }
    });
}

/// The value below which `q` of the finite `values` lie (0 when none).
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn column(ui: &mut egui::Ui, ctx: &ViewCtx<'_>, run: &Run, w: f32, hi: f64) {
    if let Some(e) = run.views.failed.get(&ViewKey::Gap) {
        ui.colored_label(ui.visuals().warn_fg_color, format!("no gap: {e}"));
    }
    let Some(result) = &run.views.gap else {
        ui.weak(if run.data_fits() {
            format!(
                "scoring each test image with {} samples of z…",
                settings::clamp_to(ctx.view.explore.gap_k, &settings::GAP_K)
            )
        } else {
            "the workspace data has another image size: nothing to score".into()
        });
        return;
    };
    let rep = &result.report;
    let gaps = rep.gaps();
    let stale = run.shown().is_some_and(|s| s.step != result.step);
    ui.horizontal(|ui| {
        ui.label("mean gap");
        ui.heading(format!("{:.2} nats", rep.mean_gap()));
    })
    .response
    .on_hover_text(help::TAB_GAP);
    ui.small(format!(
        "{} images, k = {}, seed {}; weights of step {}{}; {:.1} s",
        rep.len(),
        rep.k,
        rep.seed,
        result.step,
        if stale { " (newer exist: Rescore)" } else { "" },
        result.micros as f64 / 1e6
    ));
    let side = ((w - 10.0) / SHOWN as f32 - 4.0).clamp(20.0, 80.0);
    let map_h = (ui.available_height() - side - 90.0).clamp(80.0, w);
    gap_map(ui, ctx, run, result, &gaps, hi, egui::vec2(w, map_h));
    colour_bar(ui, w, 0.0, hi, |v| format!("{v:.2} nats"), None)
        .on_hover_text(help::explore::GAP_MAP);
    ui.small("served worst")
        .on_hover_text(help::explore::GAP_WORST);
    ui.horizontal(|ui| {
        for (i, g) in rep.worst(SHOWN) {
            digit_image(ui, ctx, i, side).on_hover_text(format!(
                "test {} #{i}: gap {g:.2} nats (−ELBO {:.1}, −IWAE {:.1})",
                ctx.data.noun(),
                -rep.elbo[i],
                -rep.iwae[i]
            ));
        }
    });
}

/// The run's codes on its top two principal directions, each dot coloured by its gap.
fn gap_map(
    ui: &mut egui::Ui,
    ctx: &ViewCtx<'_>,
    run: &Run,
    result: &GapResult,
    gaps: &[f64],
    hi: f64,
    size: egui::Vec2,
) {
    let (rect, resp) = ui.allocate_exact_size(size, egui::Sense::hover());
    let Some(stats) = run.views.stats.as_ref().filter(|s| s.latent > 0) else {
        ui.painter().text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            "encoding the test set…",
            egui::FontId::proportional(12.0),
            ui.visuals().weak_text_color(),
        );
        return;
    };
    let d = stats.latent;
    let (u, v) = if stats.principal.len() == 2 {
        (stats.principal[0].clone(), stats.principal[1].clone())
    } else {
        (
            crate::explore::axis(d, 0),
            crate::explore::axis(d, 1.min(d - 1)),
        )
    };
    // The projection changes only with the codes: kept between frames.
    let key = egui::Id::unique(("gap-points", run.id.0));
    let version = egui::Id::unique((stats.step, stats.codes.len(), ctx.data_generation));
    type Cached = (egui::Id, std::sync::Arc<Vec<[f64; 2]>>);
    let cached: Option<Cached> = ui.ctx().data(|m| m.get_temp(key));
    let pts = match cached {
        Some((ver, p)) if ver == version => p,
        _ => {
            let p = std::sync::Arc::new(project(&stats.codes, d, &u, &v));
            ui.ctx()
                .data_mut(|m| m.insert_temp::<Cached>(key, (version, p.clone())));
            p
        }
    };
    let n = pts.len().min(gaps.len());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for p in pts[..n]
        .iter()
        .filter(|p| p[0].is_finite() && p[1].is_finite())
    {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    if x0 >= x1 || y0 >= y1 {
        (x0, x1, y0, y1) = (x0.min(-1.0), x1.max(1.0), y0.min(-1.0), y1.max(1.0));
    }
    // Equal scales on both axes (distances in the plane are distances between codes),
    // centred.
    let inner = rect.shrink(6.0);
    let s = (inner.width() as f64 / (x1 - x0)).min(inner.height() as f64 / (y1 - y0));
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let to_screen = |p: [f64; 2]| {
        egui::pos2(
            inner.center().x + ((p[0] - cx) * s) as f32,
            inner.center().y - ((p[1] - cy) * s) as f32,
        )
    };
    ui.painter().rect_stroke(
        rect,
        2.0,
        egui::Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color),
        egui::StrokeKind::Inside,
    );
    // Small gaps first, so the worst-served images are drawn on top.
    let mut order: Vec<usize> = (0..n).filter(|&i| pts[i][0].is_finite()).collect();
    order.sort_by(|&a, &b| gaps[a].total_cmp(&gaps[b]));
    let mut mesh = egui::Mesh::default();
    for &i in &order {
        let c = to_screen(pts[i]);
        mesh.add_colored_rect(
            egui::Rect::from_center_size(c, egui::vec2(3.2, 3.2)),
            heat_colour(gaps[i] / hi),
        );
    }
    ui.painter().with_clip_rect(rect).add(mesh);
    let hovered = resp.hover_pos().and_then(|pos| {
        order
            .iter()
            .rev()
            .map(|&i| (i, to_screen(pts[i]).distance_sq(pos)))
            .filter(|(_, d)| *d <= PICK * PICK)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    });
    match hovered {
        Some(i) => {
            let rep = &result.report;
            resp.on_hover_ui_at_pointer(|ui| {
                ui.label(format!("test {} #{i}", ctx.data.noun()));
                digit_image(ui, ctx, i, 84.0);
                ui.small(format!(
                    "gap {:.2} nats (−ELBO {:.1}, −IWAE {:.1})",
                    gaps[i], -rep.elbo[i], -rep.iwae[i]
                ));
            });
        }
        None => {
            resp.on_hover_text(help::explore::GAP_MAP);
        }
    }
}
