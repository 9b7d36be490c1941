//! The nearest-training-images windows: one per run whose image the user asked about (an
//! image view's context menu, "Nearest training images"), with the decoded image and the
//! training images nearest to it in pixel and in latent space.

use eframe::egui;

use super::ViewCtx;
use crate::ui::command::UiCommand;
use crate::ui::decoder::ViewKey;
use crate::ui::help;
use crate::ui::nearest::NearestResult;
use crate::ui::run::Run;

/// Side of the decoded image and of each neighbour, in points.
const SIDE: f32 = 72.0;

/// Draw every open window.
pub fn windows(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let runs = ctx.runs;
    let asked = runs.iter().filter(|r| r.views.nearest_query.is_some());
    for (k, run) in asked.enumerate() {
        let Some(q) = &run.views.nearest_query else {
            continue;
        };
        let mut open = true;
        // Several runs' windows open one under the other, not on top of each other.
        let at = egui::pos2(300.0 + 24.0 * k as f32, 60.0 + 228.0 * k as f32);
        egui::Window::new(format!("Nearest training images · {}", run.name))
            .id(egui::Id::unique(("nearest-window", run.id)))
            .default_pos(at)
            .open(&mut open)
            .resizable(false)
            .collapsible(false)
            .show(ui.ctx(), |ui| {
                ui.label(format!("{}, as {} decodes it", q.source, run.name))
                    .on_hover_text(help::NEAREST_WINDOW);
                match (&run.views.nearest, run.views.failed.get(&ViewKey::Nearest)) {
                    (Some(r), _) if r.job == *q => body(ui, run, r),
                    (_, Some(e)) => {
                        ui.colored_label(egui::Color32::LIGHT_RED, e);
                    }
                    _ => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("searching the training images…");
                        });
                    }
                }
            });
        if !open {
            ctx.push(UiCommand::CloseNearest(run.id));
        }
    }
}

/// The decoded image, then a row of neighbours per space with their distances.
fn body(ui: &mut egui::Ui, run: &Run, r: &NearestResult) {
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            decoded(ui, run, r);
            ui.small("asked about");
        });
        ui.separator();
        ui.vertical(|ui| {
            for (name, near) in [("pixels", &r.near_pixels), ("latent", &r.near_codes)] {
                ui.horizontal(|ui| {
                    ui.label(name).on_hover_text(help::NEAREST_WINDOW);
                    for n in near {
                        ui.vertical(|ui| {
                            super::holes::train_image(ui, run, n.index, r.shape, SIDE);
                            ui.small(format!("#{} {:.2}", n.index, n.distance));
                        });
                    }
                });
            }
        });
    });
    ui.small(format!(
        "{} training images searched by brute force in {:.2} s (weights of step {})",
        run.data.train.len(),
        r.micros as f64 / 1e6,
        r.step
    ));
}

/// The decoded image as a texture, made once per result.
fn decoded(ui: &mut egui::Ui, run: &Run, r: &NearestResult) {
    type Cached = (usize, egui::TextureHandle);
    let id = egui::Id::unique(("nearest-decoded", run.id));
    // The result's pixel buffer identifies it.
    let version = std::sync::Arc::as_ptr(&r.pixels) as usize;
    let cached: Option<Cached> = ui.ctx().data(|m| m.get_temp(id));
    let tex = match cached {
        Some((v, t)) if v == version => t,
        _ => {
            let ci = super::host_image(&r.pixels, r.shape);
            let t = ui
                .ctx()
                .load_texture("nearest decoded", ci, egui::TextureOptions::NEAREST);
            ui.ctx()
                .data_mut(|m| m.insert_temp::<Cached>(id, (version, t.clone())));
            t
        }
    };
    let size = super::image_size(ui, r.shape, egui::vec2(SIDE * 1.5, SIDE * 1.5));
    ui.add(egui::Image::new((tex.id(), size)))
        .on_hover_text(help::NEAREST_WINDOW);
}
