//! Latent sliders: one per dimension, ordered by KL (inactive dimensions marked), and a
//! large decoded image that follows the drag.

use eframe::egui;

use super::decoder::{Images, LatentStats, ViewKey};
use super::{Settings, UiCommand, tiles};
use crate::explore::order_by_desc;
use crate::train::metrics::ACTIVE_UNIT_THRESHOLD;
use crate::variant::VariantKind;

/// Draw the panel.
#[allow(clippy::too_many_arguments)]
pub fn show(
    ui: &mut egui::Ui,
    s: &Settings,
    latent: &[f32],
    stats: Option<&LatentStats>,
    img: Option<&Images>,
    version: u64,
    digit: usize,
    cmds: &mut Vec<UiCommand>,
) {
    ui.heading("Latent sliders");
    ui.horizontal(|ui| {
        if ui.button("Randomize").clicked() {
            cmds.push(UiCommand::RandomizeLatent);
        }
        if ui.button("Zero").clicked() {
            cmds.push(UiCommand::ZeroLatent);
        }
        if ui.button("Encode digit").clicked() {
            cmds.push(UiCommand::EncodeDigit(digit));
        }
        let mut d = digit;
        let l = ui.label("test digit");
        if ui
            .add(egui::DragValue::new(&mut d).range(0..=999).prefix("#"))
            .labelled_by(l.id)
            .changed()
        {
            cmds.push(UiCommand::EncodeDigit(d));
        }
        if ui.button("Next").clicked() {
            cmds.push(UiCommand::EncodeDigit((digit + 1) % 1000));
        }
        if s.variant == VariantKind::Cvae {
            let mut l = s.label;
            let t = ui.label("decode as");
            if ui
                .add(egui::DragValue::new(&mut l).range(0..=9))
                .labelled_by(t.id)
                .changed()
            {
                cmds.push(UiCommand::SetLabel(l));
            }
        }
    });
    let d = latent.len();
    let order = match stats {
        Some(st) if st.kl_per_dim.len() == d && st.gaussian => order_by_desc(&st.kl_per_dim),
        Some(st) if st.mean_variance.len() == d => order_by_desc(&st.mean_variance),
        _ => (0..d).collect(),
    };
    ui.horizontal_top(|ui| {
        let side = 220.0f32.min(ui.available_width() * 0.42);
        tiles::show(
            ui,
            ViewKey::Slider,
            img,
            version,
            1,
            1,
            egui::vec2(side, side),
            s.colormap,
            None,
        );
        egui::ScrollArea::vertical()
            .id_salt("sliders")
            .max_height(ui.available_height().max(120.0))
            .show(ui, |ui| {
                ui.vertical(|ui| {
                    for &j in &order {
                        let mut v = latent[j];
                        ui.horizontal(|ui| {
                            ui.spacing_mut().slider_width = 110.0;
                            let r = ui.add(
                                egui::Slider::new(&mut v, -3.0..=3.0)
                                    .text(format!("z{j}"))
                                    .max_decimals(2)
                                    // Codes beyond ±3 are shown as they are, not clamped.
                                    .clamping(egui::SliderClamping::Never),
                            );
                            // egui may round the shown value to the displayed decimals and
                            // report that as a change; only a move larger than the rounding
                            // is the user's, so a followed digit code is not overwritten.
                            if r.changed() && (v - latent[j]).abs() > 0.005 {
                                cmds.push(UiCommand::SetLatent(j, v));
                            }
                            if let Some(st) = stats
                                && st.kl_per_dim.len() == d
                            {
                                let inactive = st.mean_variance[j] <= ACTIVE_UNIT_THRESHOLD;
                                // Quantised codes have no KL: show their spread instead.
                                let (what, v) = if st.gaussian {
                                    ("KL", st.kl_per_dim[j])
                                } else {
                                    ("var", st.mean_variance[j])
                                };
                                let text = format!(
                                    "{what} {v:.2}{}",
                                    if inactive { " · inactive" } else { "" }
                                );
                                if inactive {
                                    ui.weak(text);
                                } else {
                                    ui.small(text);
                                }
                            }
                        });
                    }
                });
            });
    });
}
