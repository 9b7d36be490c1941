//! The 2D interpolation grid: two latent dimensions or the top two principal directions,
//! up to 32×32, linear or inverse-normal-CDF spacing; other dimensions at the slider values.

use eframe::egui;

use super::decoder::{Images, ViewKey};
use super::{GridAxes, Settings, UiCommand, tiles};
use crate::explore::Spacing;
use crate::gpu::Colormap;

/// Draw the panel.
pub fn show(
    ui: &mut egui::Ui,
    s: &mut Settings,
    latent: usize,
    have_stats: bool,
    img: Option<&Images>,
    version: u64,
    cmds: &mut Vec<UiCommand>,
) {
    let before = (
        s.grid_axes,
        s.grid_dims,
        s.grid_size,
        s.grid_spacing,
        s.grid_range,
    );
    ui.heading("Interpolation grid");
    ui.horizontal(|ui| {
        ui.radio_value(
            &mut s.grid_axes,
            GridAxes::Principal,
            "principal directions",
        );
        ui.radio_value(&mut s.grid_axes, GridAxes::Dims, "dimensions");
        if s.grid_axes == GridAxes::Dims {
            let max = latent.saturating_sub(1);
            let l = ui.label("x");
            ui.add(
                egui::DragValue::new(&mut s.grid_dims[0])
                    .range(0..=max)
                    .prefix("z"),
            )
            .labelled_by(l.id);
            let l = ui.label("y");
            ui.add(
                egui::DragValue::new(&mut s.grid_dims[1])
                    .range(0..=max)
                    .prefix("z"),
            )
            .labelled_by(l.id);
        } else if !have_stats {
            ui.weak("(waiting for codes)");
        }
    });
    ui.horizontal(|ui| {
        ui.add(egui::Slider::new(&mut s.grid_size, 2..=32).text("size"));
        let l = ui.label("spacing");
        egui::ComboBox::from_id_salt("spacing")
            .selected_text(match s.grid_spacing {
                Spacing::Linear => "linear",
                Spacing::InverseCdf => "inverse CDF",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut s.grid_spacing, Spacing::Linear, "linear");
                ui.selectable_value(&mut s.grid_spacing, Spacing::InverseCdf, "inverse CDF");
            })
            .response
            .labelled_by(l.id);
        if s.grid_spacing == Spacing::Linear {
            let l = ui.label("range");
            ui.add(
                egui::DragValue::new(&mut s.grid_range)
                    .range(0.1..=10.0)
                    .speed(0.05)
                    .prefix("±"),
            )
            .labelled_by(l.id);
        }
        let l = ui.label("colours");
        egui::ComboBox::from_id_salt("colormap")
            .selected_text(format!("{:?}", s.colormap))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut s.colormap, Colormap::Gray, "Gray");
                ui.selectable_value(&mut s.colormap, Colormap::Viridis, "Viridis");
            })
            .response
            .labelled_by(l.id);
    });
    if before
        != (
            s.grid_axes,
            s.grid_dims,
            s.grid_size,
            s.grid_spacing,
            s.grid_range,
        )
    {
        cmds.push(UiCommand::GridChanged);
    }
    let n = img.map_or(s.grid_size, |i| (i.n as f64).sqrt().round() as usize);
    let side = ui
        .available_width()
        .min(ui.available_height() - 8.0)
        .max(120.0);
    let centre = if n % 2 == 1 {
        Some((n * n / 2) as u32)
    } else {
        None
    };
    tiles::show(
        ui,
        ViewKey::Grid,
        img,
        version,
        n,
        n,
        egui::vec2(side, side),
        s.colormap,
        centre,
    );
}
