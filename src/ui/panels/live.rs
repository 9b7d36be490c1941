//! Live hyperparameters of the focused run while it trains here: β, the KL schedule, free
//! bits and the learning rate, applied from the next step.

use eframe::egui;

use super::draft::{row, row_label};
use super::{ViewCtx, run_label};
use crate::train::{Command, RunSpec, ScheduleKind};
use crate::ui::command::{RunAction, UiCommand};
use crate::ui::help;
use crate::ui::run::RunSource;
use crate::variant::KlSchedule;

/// Draw the panel (nothing unless the focused run trains here).
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let runs = ctx.runs;
    let Some(run) = runs.focused_run() else {
        return;
    };
    if !matches!(run.source, RunSource::Training(_)) || !run.status.is_active() {
        return;
    }
    let id = run.id;
    let cfg = &run.config;
    egui::CollapsingHeader::new("Live settings of the focused run")
        .default_open(true)
        .show(ui, |ui| {
            run_label(ui, run);
            let mut send = Vec::new();
            egui::Grid::new("live-settings")
                .num_columns(2)
                .spacing([8.0, 4.0])
                .show(ui, |ui| {
                    let mut beta = cfg.beta;
                    let r = row(ui, "β (live)", help::BETA, |ui| {
                        ui.add(
                            egui::DragValue::new(&mut beta)
                                .range(0.0..=100.0)
                                .speed(0.05),
                        )
                    });
                    if r.changed() {
                        send.push(Command::SetBeta(beta));
                    }
                    let mut lr = cfg.optim.lr;
                    let r = row(ui, "Learning rate (live)", help::LR, |ui| {
                        ui.add(
                            egui::DragValue::new(&mut lr)
                                .range(1e-6..=1.0)
                                .speed(1e-5)
                                .max_decimals(6),
                        )
                    });
                    if r.changed() {
                        send.push(Command::SetLr(lr));
                    }
                    let l = row_label(ui, "Free bits (live)", help::FREE_BITS);
                    ui.horizontal(|ui| {
                        let mut on = cfg.free_bits.is_some();
                        let mut v = cfg.free_bits.unwrap_or(0.1);
                        let a = ui.checkbox(&mut on, "on").on_hover_text(help::FREE_BITS);
                        let b = ui
                            .add_enabled(
                                on,
                                egui::DragValue::new(&mut v).range(0.0..=5.0).speed(0.01),
                            )
                            .labelled_by(l.id)
                            .on_hover_text(help::FREE_BITS)
                            .on_disabled_hover_text(help::FREE_BITS);
                        if a.changed() || b.changed() {
                            send.push(Command::SetFreeBits(on.then_some(v)));
                        }
                    });
                    ui.end_row();
                    let current = match cfg.schedule {
                        KlSchedule::Constant => ScheduleKind::Constant,
                        KlSchedule::Linear { .. } => ScheduleKind::Linear,
                        KlSchedule::Cyclical { .. } => ScheduleKind::Cyclical,
                    };
                    let mut kind = current;
                    let l = row_label(ui, "KL schedule (live)", help::KL_SCHEDULE);
                    egui::ComboBox::from_id_salt("live-schedule")
                        .selected_text(format!("{kind:?}"))
                        .show_ui(ui, |ui| {
                            ui.selectable_value(&mut kind, ScheduleKind::Constant, "Constant");
                            ui.selectable_value(&mut kind, ScheduleKind::Linear, "Linear");
                            ui.selectable_value(&mut kind, ScheduleKind::Cyclical, "Cyclical");
                        })
                        .response
                        .labelled_by(l.id)
                        .on_hover_text(help::KL_SCHEDULE);
                    ui.end_row();
                    if kind != current {
                        // The new schedule keeps the run's length; its parameters come from
                        // the next run's settings.
                        let steps = cfg.steps_per_epoch(run.data.train.len()) * cfg.epochs as u64;
                        let spec = RunSpec {
                            kl_schedule: kind,
                            ..ctx.draft.spec.clone()
                        };
                        send.push(Command::SetSchedule(spec.kl_schedule(steps)));
                    }
                });
            for c in send {
                ctx.push(UiCommand::Run(id, RunAction::Worker(c)));
            }
            ui.small("Changes apply from the next step.");
        })
        .header_response
        .on_hover_text("β, learning rate, free bits and the KL schedule of the focused run, changed while it trains");
}
