//! Reconstructions: a fixed row of test digits above their live reconstructions.

use eframe::egui;

use super::decoder::{Images, ViewKey};
use super::{Settings, UiCommand, tiles};

/// Draw the panel.
pub fn show(
    ui: &mut egui::Ui,
    s: &mut Settings,
    img: Option<&Images>,
    version: u64,
    cmds: &mut Vec<UiCommand>,
) {
    ui.horizontal(|ui| {
        let h = ui.heading("Reconstructions");
        let r = ui
            .add(
                egui::DragValue::new(&mut s.recon_count)
                    .range(1..=32)
                    .suffix(" digits"),
            )
            .labelled_by(h.id);
        if r.changed() {
            cmds.push(UiCommand::ReconChanged);
        }
    });
    ui.small("top: test digits · bottom: reconstructions of their posterior means");
    let cols = img.map_or(s.recon_count, |i| (i.n / 2).max(1));
    let w = ui.available_width();
    tiles::show(
        ui,
        ViewKey::Recon,
        img,
        version,
        cols,
        2,
        egui::vec2(w, 120.0),
        s.colormap,
        None,
    );
}
