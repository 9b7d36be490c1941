//! Training panel: dataset, variant, architecture, hyperparameters and run controls.

use eframe::egui;

use super::{ArchChoice, DeviceChoice, ScheduleChoice, Settings, Status, UiCommand};
use crate::train::{Command, WorkerState};
use crate::variant::VariantKind;

/// One row of the settings grid: a label and the widget it names (for accessibility).
fn row(
    ui: &mut egui::Ui,
    label: &str,
    widget: impl FnOnce(&mut egui::Ui) -> egui::Response,
) -> egui::Response {
    let l = ui.label(label);
    let r = widget(ui).labelled_by(l.id);
    ui.end_row();
    r
}

/// Draw the panel; edits that apply live are sent to the worker.
pub fn show(
    ui: &mut egui::Ui,
    s: &mut Settings,
    status: &Status,
    train_len: usize,
    cmds: &mut Vec<UiCommand>,
) {
    ui.heading("Training");
    ui.horizontal(|ui| {
        if ui.button("Start").clicked() {
            cmds.push(UiCommand::Start);
        }
        if ui.button("Pause").clicked() {
            cmds.push(UiCommand::Worker(Command::Pause));
        }
        if ui.button("Resume").clicked() {
            cmds.push(UiCommand::Worker(Command::Resume));
        }
        if ui.button("Step").clicked() {
            cmds.push(UiCommand::Worker(Command::Step));
        }
        if ui.button("Reset").clicked() {
            cmds.push(UiCommand::Reset);
        }
    });
    let running = !matches!(
        status.state,
        WorkerState::Stopped | WorkerState::Failed | WorkerState::Finished
    );
    egui::Grid::new("train-settings")
        .num_columns(2)
        .spacing([8.0, 4.0])
        .show(ui, |ui| {
            row(ui, "Dataset dir", |ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut s.data_dir)
                        .hint_text("bundled MNIST")
                        .desired_width(150.0),
                )
            });
            let l = ui.label("Variant");
            egui::ComboBox::from_id_salt("variant")
                .selected_text(s.variant.label())
                .show_ui(ui, |ui| {
                    for v in VariantKind::ALL {
                        if ui.selectable_value(&mut s.variant, v, v.label()).changed() {
                            s.beta = v.default_beta();
                        }
                    }
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
            ui.label("Architecture");
            ui.horizontal(|ui| {
                ui.radio_value(&mut s.arch, ArchChoice::Mlp, "MLP");
                ui.radio_value(&mut s.arch, ArchChoice::Conv, "Conv");
            });
            ui.end_row();
            if s.arch == ArchChoice::Mlp {
                row(ui, "Hidden width", |ui| {
                    ui.add(egui::DragValue::new(&mut s.hidden).range(8..=4096))
                });
            }
            row(ui, "Latent dim", |ui| {
                ui.add(egui::DragValue::new(&mut s.latent).range(1..=256))
            });
            let r = row(ui, "β (live)", |ui| {
                ui.add(
                    egui::DragValue::new(&mut s.beta)
                        .range(0.0..=100.0)
                        .speed(0.05),
                )
            });
            if r.changed() && running {
                cmds.push(UiCommand::Worker(Command::SetBeta(s.beta)));
            }
            let l = ui.label("KL schedule (live)");
            let before = s.clone();
            egui::ComboBox::from_id_salt("schedule")
                .selected_text(format!("{:?}", s.schedule))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut s.schedule, ScheduleChoice::Constant, "Constant");
                    ui.selectable_value(&mut s.schedule, ScheduleChoice::Linear, "Linear");
                    ui.selectable_value(&mut s.schedule, ScheduleChoice::Cyclical, "Cyclical");
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
            match s.schedule {
                ScheduleChoice::Constant => {}
                ScheduleChoice::Linear => {
                    row(ui, "Warm-up steps", |ui| {
                        ui.add(egui::DragValue::new(&mut s.warmup_steps).range(1..=1_000_000))
                    });
                }
                ScheduleChoice::Cyclical => {
                    let l = ui.label("Cycles / ratio");
                    ui.horizontal(|ui| {
                        ui.add(egui::DragValue::new(&mut s.cycles).range(1..=100))
                            .labelled_by(l.id);
                        ui.add(
                            egui::DragValue::new(&mut s.cycle_ratio)
                                .range(0.05..=1.0)
                                .speed(0.01),
                        )
                        .labelled_by(l.id);
                    });
                    ui.end_row();
                }
            }
            if (
                before.schedule,
                before.warmup_steps,
                before.cycles,
                before.cycle_ratio,
            ) != (s.schedule, s.warmup_steps, s.cycles, s.cycle_ratio)
                && running
            {
                // Live schedule changes keep the run's length.
                let steps_per_epoch = train_len.div_ceil(s.batch.max(1)) as u64;
                cmds.push(UiCommand::Worker(Command::SetSchedule(
                    s.kl_schedule(steps_per_epoch * s.epochs as u64),
                )));
            }
            let l = ui.label("Free bits (live)");
            ui.horizontal(|ui| {
                let a = ui.checkbox(&mut s.free_bits_on, "on");
                let b = ui
                    .add_enabled(
                        s.free_bits_on,
                        egui::DragValue::new(&mut s.free_bits)
                            .range(0.0..=5.0)
                            .speed(0.01),
                    )
                    .labelled_by(l.id);
                if (a.changed() || b.changed()) && running {
                    cmds.push(UiCommand::Worker(Command::SetFreeBits(
                        s.free_bits_on.then_some(s.free_bits),
                    )));
                }
            });
            ui.end_row();
            let r = row(ui, "Learning rate (live)", |ui| {
                ui.add(
                    egui::DragValue::new(&mut s.lr)
                        .range(1e-6..=1.0)
                        .speed(1e-5)
                        .max_decimals(6),
                )
            });
            if r.changed() && running {
                cmds.push(UiCommand::Worker(Command::SetLr(s.lr)));
            }
            row(ui, "Batch", |ui| {
                ui.add(egui::DragValue::new(&mut s.batch).range(1..=4096))
            });
            row(ui, "Epochs", |ui| {
                ui.add(egui::DragValue::new(&mut s.epochs).range(1..=100_000))
            });
            row(ui, "Seed", |ui| ui.add(egui::DragValue::new(&mut s.seed)));
            let l = ui.label("Device");
            egui::ComboBox::from_id_salt("device")
                .selected_text(format!("{:?}", s.device))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut s.device, DeviceChoice::Auto, "Auto");
                    ui.selectable_value(&mut s.device, DeviceChoice::Gpu, "GPU");
                    ui.selectable_value(&mut s.device, DeviceChoice::Cpu, "CPU");
                })
                .response
                .labelled_by(l.id);
            ui.end_row();
        });
    ui.small("Dataset, architecture, latent size, batch, epochs, seed and device apply on Reset.");
}
