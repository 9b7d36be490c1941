//! Prior samples: decodes of z ~ N(0, I), resampled on demand.

use eframe::egui;

use super::decoder::{Images, ViewKey};
use super::{Settings, UiCommand, tiles};

/// Draw the panel.
pub fn show(
    ui: &mut egui::Ui,
    s: &Settings,
    img: Option<&Images>,
    version: u64,
    cmds: &mut Vec<UiCommand>,
) {
    ui.horizontal(|ui| {
        ui.heading("Prior samples");
        if ui.button("Resample").clicked() {
            cmds.push(UiCommand::ResamplePrior);
        }
    });
    let side = ui
        .available_width()
        .min(ui.available_height() - 8.0)
        .clamp(80.0, 420.0);
    tiles::show(
        ui,
        ViewKey::Prior,
        img,
        version,
        8,
        8,
        egui::vec2(side, side),
        s.colormap,
        None,
    );
}
