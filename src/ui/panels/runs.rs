//! The runs list: add runs (new, preset, open, follow, recent) and, per run, its colour,
//! name, state and controls (pause, resume, step, continue, save, focus, remove). A
//! followed sweep's runs are listed under the sweep, one collapsed section per
//! configuration, with the runs still planned counted there.

use eframe::egui;

use super::ViewCtx;
use crate::train::{Command, WorkerState};
use crate::ui::command::{RunAction, UiCommand};
use crate::ui::help;
use crate::ui::run::{Run, RunSource};
use crate::ui::runs::Runs;
use crate::ui::sweeps::{FollowedSweep, group_colour};

/// A one-line description of what a run is doing.
fn state_line(run: &Run) -> String {
    let s = &run.status;
    let what = match (&run.source, s.state) {
        (RunSource::Loaded { .. }, _) => "loaded".to_string(),
        (RunSource::Following(_), WorkerState::Idle) => "waiting for the run to start".into(),
        (RunSource::Following(_), WorkerState::Running) => "following".into(),
        (RunSource::Following(_), st) => format!("followed, {st:?}").to_lowercase(),
        (RunSource::Sweep { .. }, WorkerState::Running) => "following".into(),
        (RunSource::Sweep { .. }, st) => format!("followed, {st:?}").to_lowercase(),
        (RunSource::Training(_), st) => format!("{st:?}").to_lowercase(),
    };
    let speed = if matches!(run.source, RunSource::Loaded { .. }) || s.samples_per_sec <= 0.0 {
        String::new()
    } else {
        format!(" · {:.0} img/s", s.samples_per_sec)
    };
    format!(
        "{} · latent {} · {what} · epoch {} · step {}{speed}",
        run.config.variant,
        run.latent_dim(),
        s.epoch,
        s.step
    )
}

fn run_row(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>, run: &Run) {
    let id = run.id;
    let focused = ctx.runs.focused == Some(id);
    let stroke = if focused {
        egui::Stroke::new(1.5, run.colour)
    } else {
        ui.visuals().widgets.noninteractive.bg_stroke
    };
    egui::Frame::group(ui.style()).stroke(stroke).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.horizontal(|ui| {
            let mut c = run.colour;
            if egui::color_picker::color_edit_button_srgba(
                ui,
                &mut c,
                egui::color_picker::Alpha::Opaque,
            )
            .on_hover_text("This run's colour in curves, frames and tables")
            .changed()
            {
                ctx.push(UiCommand::Run(id, RunAction::Recolour(c)));
            }
            let mut name = run.name.clone();
            let l = ui.label("name");
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut name)
                        .desired_width(110.0)
                        .id_salt(("run-name", id.0)),
                )
                .labelled_by(l.id)
                .on_hover_text(help::RUN_NAME);
            if r.changed() && !name.trim().is_empty() {
                ctx.push(UiCommand::Run(id, RunAction::Rename(name)));
            }
            if ui
                .selectable_label(focused, "Focus run")
                .on_hover_text("Live settings and the focus layout show this run")
                .clicked()
            {
                ctx.push(UiCommand::Run(id, RunAction::Focus));
            }
            if run.sweep.is_some() {
                let mut shown = run.show_views;
                if ui
                    .checkbox(&mut shown, "views")
                    .on_hover_text(help::SHOW_VIEWS)
                    .changed()
                {
                    ctx.push(UiCommand::Run(id, RunAction::ShowViews(shown)));
                }
            }
        });
        ui.small(state_line(run));
        ui.horizontal_wrapped(|ui| {
            let training = matches!(run.source, RunSource::Training(_));
            let active = training && run.status.is_active();
            if active {
                for (label, cmd, tip) in [
                    ("Pause", Command::Pause, help::PAUSE),
                    ("Resume", Command::Resume, help::RESUME),
                    ("Step", Command::Step, help::STEP),
                ] {
                    if ui.small_button(label).on_hover_text(tip).clicked() {
                        ctx.push(UiCommand::Run(id, RunAction::Worker(cmd)));
                    }
                }
            } else if ui
                .small_button("Continue")
                .on_hover_text(format!(
                    "Train this model further here from its newest weights, for {} epochs (the next run's setting): exactly where it stopped when the weights carry their training state (a run trained here, a file written by `train`), else with a fresh optimiser",
                    ctx.draft.spec.epochs
                ))
                .clicked()
            {
                ctx.push(UiCommand::Run(id, RunAction::Continue));
            }
            if ui
                .small_button("Save…")
                .on_hover_text("Save the newest weights as a checkpoint (the CLI's format, written atomically)")
                .clicked()
            {
                ctx.push(UiCommand::Run(id, RunAction::Save(None)));
            }
            if ui
                .add_enabled(!run.history.is_empty(), egui::Button::new("Metrics…").small())
                .on_hover_text(help::EXPORT_METRICS)
                .on_disabled_hover_text(help::EXPORT_METRICS)
                .clicked()
            {
                ctx.push(UiCommand::Run(id, RunAction::ExportMetrics(None)));
            }
            let remove_help = if ctx.runs.only_here(run) {
                help::remove_only_copy(ctx.runs.undo_window)
            } else {
                help::REMOVE.to_string()
            };
            if ui.small_button("Remove").on_hover_text(remove_help).clicked() {
                ctx.push(UiCommand::Run(id, RunAction::Remove));
            }
        });
        for e in run.status.errors.iter().rev().take(2) {
            ui.colored_label(egui::Color32::from_rgb(255, 110, 100), format!("Error: {e}"));
        }
        if let RunSource::Loaded { path, .. } = &run.source {
            ui.weak(path.display().to_string());
        }
        if let RunSource::Following(f) = &run.source {
            ui.weak(format!("run directory {}", f.dir().display()));
        }
    });
}

/// How a sweep's runs in the workspace stand: done, running, failed or stopped.
fn sweep_counts(runs: &Runs, sweep: &FollowedSweep) -> [usize; 3] {
    let mut c = [0; 3];
    for id in (0..sweep.members.len()).filter_map(|i| sweep.member(i)) {
        match runs.get(id).map(|r| r.status.state) {
            Some(WorkerState::Finished) => c[0] += 1,
            Some(WorkerState::Failed | WorkerState::Stopped) => c[2] += 1,
            Some(_) => c[1] += 1,
            None => {}
        }
    }
    c
}

/// A followed sweep: its state in one line, and one collapsed section per configuration.
fn sweep_section(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>, sweep: &FollowedSweep) {
    let runs = ctx.runs;
    let [done, running, stopped] = sweep_counts(runs, sweep);
    egui::CollapsingHeader::new(
        egui::RichText::new(format!("Sweep {} · {} runs", sweep.name, sweep.runs.len())).strong(),
    )
    .id_salt(("sweep", sweep.id.0))
    .default_open(true)
    .show(ui, |ui| {
        ui.small(format!(
            "{} configurations · {done} done · {running} running · {stopped} failed or stopped · {} planned",
            sweep.groups.len(),
            sweep.planned()
        ));
        ui.weak(format!("sweep directory {}", sweep.dir.display()));
        for e in sweep.errors.iter().rev().take(2) {
            ui.colored_label(egui::Color32::from_rgb(255, 110, 100), format!("Error: {e}"));
        }
        if ui
            .small_button("Remove sweep")
            .on_hover_text(help::REMOVE_SWEEP)
            .clicked()
        {
            ctx.push(UiCommand::RemoveSweep(sweep.id));
        }
        for (g, group) in sweep.groups.iter().enumerate() {
            let members = sweep.group_members(g);
            let planned = sweep.group_planned(g);
            let title = egui::RichText::new(format!(
                "{} · {} runs: {} in, {} planned",
                group.label,
                group.runs.len(),
                members.len(),
                planned.len()
            ))
            .color(group_colour(g));
            egui::CollapsingHeader::new(title)
                .id_salt(("sweep-group", sweep.id.0, g))
                .default_open(false)
                .show(ui, |ui| {
                    for id in &members {
                        if let Some(run) = runs.get(*id) {
                            run_row(ui, ctx, run);
                        }
                    }
                    if !planned.is_empty() {
                        ui.weak(format!("planned, not started: {}", planned.join(", ")));
                    }
                })
                .header_response
                .on_hover_text(help::SWEEP_GROUP);
        }
    })
    .header_response
    .on_hover_text(help::SWEEP);
}

/// The bar of the run removed last, while its removal can be undone: its name, what
/// happens when the bar goes, and Undo.
fn undo_bar(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    let Some(removed) = &ctx.runs.removed else {
        return;
    };
    let left = removed
        .until
        .saturating_duration_since(std::time::Instant::now());
    // Redrawn as the seconds count down, and when the bar goes.
    ui.ctx()
        .request_repaint_after(left.min(std::time::Duration::from_secs(1)));
    egui::Frame::group(ui.style())
        .fill(ui.visuals().extreme_bg_color)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal_wrapped(|ui| {
                ui.label(egui::RichText::new(format!("Removed run {}", removed.run.name)).strong());
                ui.weak(format!(
                    "· in {} s it is stopped and its autosave deleted",
                    left.as_secs_f64().ceil()
                ));
                if ui.button("Undo").on_hover_text(help::UNDO_REMOVE).clicked() {
                    ctx.push(UiCommand::UndoRemove);
                }
            });
        });
}

/// Draw the runs list.
pub fn show(ui: &mut egui::Ui, ctx: &mut ViewCtx<'_>) {
    ui.horizontal(|ui| {
        ui.heading("Runs");
        ui.weak(format!("{} in the workspace", ctx.runs.len()));
    });
    undo_bar(ui, ctx);
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("New run")
            .on_hover_text("Start training a run with the settings under Next run")
            .clicked()
        {
            ctx.push(UiCommand::NewRun);
        }
        if ui
            .button("Preset: 4 variants")
            .on_hover_text("Start VAE, β-VAE, IWAE and WAE-MMD on the same data and seed")
            .clicked()
        {
            ctx.push(UiCommand::Preset);
        }
        if ui
            .button("Open…")
            .on_hover_text("Open checkpoints or PyTorch models (.safetensors, .pt, .pth); dropping files on the window works too")
            .clicked()
        {
            ctx.push(UiCommand::PickFiles);
        }
        if ui
            .button("Follow dir…")
            .on_hover_text(help::FOLLOW_DIR)
            .clicked()
        {
            ctx.push(UiCommand::PickFollowDir);
        }
        ui.menu_button("Recent", |ui| {
            if ctx.workspace.recent.is_empty() {
                ui.weak("nothing opened yet");
            }
            for p in ctx.workspace.recent.clone() {
                if ui
                    .button(p.display().to_string())
                    .on_hover_text(help::RECENT_ENTRY)
                    .clicked()
                {
                    ctx.push(UiCommand::Open(vec![p]));
                    ui.close();
                }
            }
        })
        .response
        .on_hover_text(help::RECENT);
    });
    egui::CollapsingHeader::new("PyTorch key map")
        .default_open(false)
        .show(ui, |ui| {
            let l = ui.small(
                "Rules REGEX=NAME, one per line, renaming a PyTorch file's tensors to ours \
                 (e.g. encoder\\.0\\.(weight|bias)=model.encoder.body.layers.0.$1). \
                 Not needed for the PyTorch examples' VAE.",
            );
            let mut text = ctx.workspace.key_map.join("\n");
            if ui
                .add(
                    egui::TextEdit::multiline(&mut text)
                        .desired_rows(3)
                        .desired_width(f32::INFINITY)
                        .code_editor(),
                )
                .labelled_by(l.id)
                .on_hover_text(help::KEY_MAP)
                .changed()
            {
                ctx.workspace.key_map = text.split('\n').map(str::to_string).collect();
            }
        })
        .header_response
        .on_hover_text(help::KEY_MAP);
    if ctx.io_in_flight > 0 {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.weak(format!("{} file task(s) in progress", ctx.io_in_flight));
        });
        if let Some((done, total)) = ctx.io_progress {
            ui.add(
                egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                    .text(format!("reading images {done}/{total}")),
            );
        }
    }
    let runs = ctx.runs;
    for run in runs.iter().filter(|r| r.sweep.is_none()) {
        run_row(ui, ctx, run);
    }
    for sweep in &runs.sweeps {
        sweep_section(ui, ctx, sweep);
    }
}
