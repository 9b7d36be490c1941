//! The logic step: file results, worker and follower events, commands and decoder outputs
//! in; decode requests out. Never blocks on a worker, a decoder or a file.

use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

use super::app::ExplorerApp;
use super::command::{RunAction, UiCommand};
use super::decoder::{Job, Output, ViewKey};
use super::io::IoResult;
use super::run::{RunId, RunSource};
use super::workspace::repin;
use crate::explore::normal;
use crate::import::{ImportOptions, KeyMap};
use crate::train::{Command, Event};
use crate::variant::VariantKind;

/// The variants of the preset, in order.
pub const PRESET: [VariantKind; 4] = [
    VariantKind::Vae,
    VariantKind::BetaVae,
    VariantKind::Iwae,
    VariantKind::WaeMmd,
];

impl ExplorerApp {
    /// One logic step: events in, commands applied, decode requests out. Never blocks.
    pub fn logic_step(&mut self) {
        self.frames.tick();
        for r in self.io.drain() {
            self.on_io(r);
        }
        for id in self.runs.ids() {
            let events = match self.runs.get(id).map(|r| &r.source) {
                Some(RunSource::Training(w)) => w.drain(),
                Some(RunSource::Following(f)) => f.drain(),
                _ => Vec::new(),
            };
            for ev in events {
                self.on_event(id, ev);
            }
        }
        self.sweep_intake();
        for cmd in std::mem::take(&mut self.commands) {
            self.apply(cmd);
        }
        // A removal whose Undo has lapsed is done for good.
        if self
            .runs
            .removed
            .as_ref()
            .is_some_and(|r| Instant::now() >= r.until)
        {
            self.commit_removal();
        }
        // The followed sweeps load the weights of the runs shown, and only those.
        self.sync_sweep_weights();
        // Commands a busy worker could not take yet.
        for run in self.runs.iter_mut() {
            run.flush_commands();
        }
        for id in self.runs.ids() {
            self.take_decoder_outputs(id);
        }
        super::align::update(&mut self.runs, self.persisted.view.explore.aligned);
        self.request_views();
    }

    /// Files dropped on the window: directories are followed, files opened (sorted off the
    /// UI thread).
    pub(super) fn on_dropped(&mut self, paths: Vec<PathBuf>) {
        // Images are inputs to encode; everything else is a model or a run directory.
        let (images, others): (Vec<PathBuf>, Vec<PathBuf>) =
            paths.into_iter().partition(|p| super::io::is_image(p));
        if let Some(p) = images.into_iter().next_back() {
            self.persisted.view.compare_tab = super::settings::CompareTab::Input;
            self.apply_explore(UiCommand::OpenInput(p));
        }
        if !others.is_empty() {
            self.io.sort_paths(others, false);
        }
    }

    pub(super) fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    /// The PyTorch import options: the command line's, else the workspace's key map.
    fn import_options(&mut self) -> Option<ImportOptions> {
        let rules: Vec<&str> = self
            .persisted
            .workspace
            .key_map
            .iter()
            .map(|r| r.trim())
            .filter(|r| !r.is_empty())
            .collect();
        if self.import.map.is_some() || rules.is_empty() {
            return Some(self.import.clone());
        }
        match KeyMap::parse(&rules) {
            Ok(map) => Some(ImportOptions {
                map: Some(map),
                ..self.import.clone()
            }),
            Err(e) => {
                self.errors.push(e.to_string());
                None
            }
        }
    }

    pub(super) fn on_io(&mut self, r: IoResult) {
        match r {
            IoResult::Loaded { path, result } => match result {
                Ok(loaded) => self.add_loaded(path, *loaded),
                Err(e) => self.errors.push(format!("cannot open {e}")),
            },
            IoResult::Saved { run, path, result } => {
                let name = self.runs.get(run).map(|r| r.name.clone()).unwrap_or_default();
                match result {
                    Ok(()) => {
                        let msg = format!("saved {name} to {}", path.display());
                        if let Some(r) = self.runs.get_mut(run) {
                            r.status.note(msg.clone());
                        }
                        self.persisted.workspace.remember(path);
                        self.note(msg);
                    }
                    Err(e) => self.errors.push(format!(
                        "saving {name} failed (nothing was overwritten): {e}"
                    )),
                }
            }
            IoResult::Autosaved(done) => {
                for e in self.autosave.done(done) {
                    tracing::warn!("{e}");
                    self.errors.push(e);
                }
            }
            IoResult::Exported(Ok(written)) => self.note(format!("saved {written}")),
            IoResult::Exported(Err(e)) => self.errors.push(format!("export failed: {e}")),
            IoResult::Picked(cmd) => self.commands.push(cmd),
            IoResult::Failed(e) => self.errors.push(e),
            IoResult::Dataset { dir, result } => self.data_loaded(dir, result),
            IoResult::DraftLoaded { path, result } => match result {
                Ok(cfg) => {
                    let ignored = self.persisted.draft.set_config(*cfg);
                    self.note(format!("the next run's settings from {}", path.display()));
                    for what in ignored {
                        self.note(format!("not an app setting, left out: {what}"));
                    }
                }
                Err(e) => self.errors.push(format!("cannot load the next run's settings: {e}")),
            },
            IoResult::Sorted {
                files,
                dirs,
                sweeps,
                missing,
                follow,
                asked,
            } => {
                for sweep in sweeps {
                    match sweep {
                        Ok(opened) => self.follow_sweep(*opened, asked),
                        Err(e) => self.errors.push(format!("cannot follow the sweep {e}")),
                    }
                }
                for p in missing {
                    self.errors
                        .push(format!("cannot open {}: no such file or directory", p.display()));
                }
                if follow {
                    for p in files {
                        self.errors.push(format!(
                            "cannot follow {}: not a directory (a run directory is what `latent-explorer train --run-dir DIR` writes)",
                            p.display()
                        ));
                    }
                } else if !files.is_empty() {
                    self.commands.push(UiCommand::Open(files));
                }
                for d in dirs {
                    self.follow(d);
                }
            }
            IoResult::NothingPicked(why) if !self.io.dialogs => self.note(why),
            IoResult::NothingPicked(why) => self.note(format!(
                "{why} (if no dialog appeared, this desktop has no file-dialog portal: drop files on the window or pass them on the command line)"
            )),
        }
    }

    fn on_event(&mut self, id: RunId, ev: Event) {
        let scrub = self.runs.scrub;
        let Some(run) = self.runs.get_mut(id) else {
            return;
        };
        match ev {
            Event::State(s) => {
                run.status.state = s;
                if let RunSource::Following(f) = &run.source
                    && let Some((config, dataset)) = f.info().start
                    && config != run.config
                {
                    // The real configuration arrived: views requested with the placeholder
                    // one (another latent size, perhaps) are dropped and asked again.
                    run.config = config;
                    run.dataset = dataset;
                    run.decoder.forget(&ViewKey::ALL);
                    run.views.asked.clear();
                    let m = &run.config.model;
                    if let Err(e) = run.data.check_model(m) {
                        run.status.error(format!(
                            "{e}: reconstructions, codes and the same-input matrix are not shown"
                        ));
                    }
                }
            }
            Event::Step(m) => {
                // Steps taken (the event names the 0-based step just taken).
                run.status.step = m.step + 1;
                run.history.push_step(&m);
            }
            Event::Epoch {
                epoch,
                step,
                metrics,
                snapshot,
            } => {
                run.status.epoch = epoch;
                run.status.step = run.status.step.max(step);
                // A new evaluation of the same weights (e.g. the final IWAE evaluation of a
                // followed run) replaces the earlier one.
                run.history.push_epoch(epoch, step, metrics);
                run.epochs.insert(snapshot);
                if scrub.is_some() {
                    // A run that had not reached the scrubbed epoch may now have.
                    repin(run);
                }
            }
            Event::Throughput {
                samples_per_sec, ..
            } => run.status.samples_per_sec = samples_per_sec,
            Event::Changed(s) => run.status.note(s),
            Event::NonFinite { step, term, value } => run.status.error(format!(
                "{term} became {value} at step {step}: training paused with the last finite weights (lower the learning rate, then Resume)"
            )),
            Event::Error(e) => run.status.error(e),
        }
    }

    fn take_decoder_outputs(&mut self, id: RunId) {
        let focused = self.runs.focused == Some(id);
        let has_input = self.runs.input.is_some();
        let Some(run) = self.runs.get_mut(id) else {
            return;
        };
        for out in run.decoder.drain() {
            match out {
                Output::Images(key, img) => {
                    // An answer to an older request (the decode thread finishing one the UI
                    // thread already superseded) never replaces a newer image.
                    if img.request < run.views.requested.get(&key).copied().unwrap_or(0) {
                        continue;
                    }
                    if key == ViewKey::Slider && focused {
                        self.frames.slider_image(img.request);
                    }
                    run.set_image(key, img);
                }
                Output::Stats(mut s) => {
                    // Principal directions have no sign; keep the grid's orientation stable
                    // by pointing each new one the way the previous one pointed.
                    if let Some(prev) = &run.views.stats {
                        for (new, old) in s.principal.iter_mut().zip(&prev.principal) {
                            let dot: f32 = new.iter().zip(old).map(|(a, b)| a * b).sum();
                            if dot < 0.0 {
                                new.iter_mut().for_each(|v| *v = -*v);
                            }
                        }
                    }
                    run.views.stats = Some(s);
                    run.views.codes_version += 1;
                }
                Output::Anomaly(a) => {
                    run.views.failed.remove(&ViewKey::Anomaly);
                    run.views.anomaly = Some(a);
                }
                Output::Embedding(e) => {
                    run.views.failed.remove(&ViewKey::Embedding);
                    run.views.embedding = Some(e);
                }
                Output::Gap(g) => {
                    run.views.failed.remove(&ViewKey::Gap);
                    run.views.gap = Some(g);
                }
                Output::Holes(h) => {
                    run.views.failed.remove(&ViewKey::Holes);
                    run.views.holes = Some(h);
                }
                Output::Nearest(n) => {
                    run.views.failed.remove(&ViewKey::Nearest);
                    run.views.nearest = Some(n);
                }
                Output::Input(inp) => {
                    // Older than the newest request, or for an input since cleared.
                    if !has_input
                        || inp.request
                            < run
                                .views
                                .requested
                                .get(&ViewKey::Input)
                                .copied()
                                .unwrap_or(0)
                    {
                        continue;
                    }
                    run.views.input = Some(inp);
                }
                Output::Error(key, e) => {
                    run.views.failed.insert(key, e.clone());
                    run.status.error(format!("{key:?} view: {e}"));
                }
            }
        }
    }

    fn apply(&mut self, cmd: UiCommand) {
        match cmd {
            UiCommand::Run(id, action) => self.apply_run(id, action),
            UiCommand::NewRun => {
                let spec = self.persisted.draft.spec.clone();
                self.start_run(spec);
            }
            UiCommand::NewRunOf(v) => self.start_variant(v),
            UiCommand::Preset => {
                for v in PRESET {
                    self.start_variant(v);
                }
            }
            UiCommand::Open(paths) => {
                if let Some(opts) = self.import_options() {
                    for p in paths {
                        self.io
                            .load(p, self.device.clone(), opts.clone(), self.data.clone());
                    }
                }
            }
            UiCommand::Follow(dir) => self.io.sort_paths(vec![dir], true),
            UiCommand::RemoveSweep(id) => self.remove_sweep(id),
            UiCommand::UndoRemove => self.undo_removal(),
            UiCommand::PickFiles => self.io.pick_files(),
            UiCommand::PickFollowDir => self.io.pick_follow_dir(),
            UiCommand::SaveDraft(None) => self.io.pick_draft(false),
            UiCommand::LoadDraft(None) => self.io.pick_draft(true),
            UiCommand::SaveDraft(Some(path)) => {
                let text = self.persisted.draft.to_config().to_toml();
                self.io.save_draft(path, text);
            }
            UiCommand::LoadDraft(Some(path)) => self.io.load_draft(path),
            UiCommand::SetLayout(l) => self.persisted.view.layout = l,
            UiCommand::Scrub(e) => {
                self.runs.scrub = e;
                for r in self.runs.iter_mut() {
                    r.pinned = e;
                    repin(r);
                }
            }
            UiCommand::SetLatent(j, v) => {
                let current = self.runs.cursor.slider_values(self.runs.focused_run());
                let c = &mut self.runs.cursor;
                if j < current.len() {
                    let mut z = current;
                    z[j] = v;
                    c.set_explicit(z);
                }
            }
            UiCommand::RandomizeLatent => {
                let d = self.cursor_dim();
                let c = &mut self.runs.cursor;
                let mut rng = ChaCha8Rng::seed_from_u64(c.random_seed);
                c.random_seed = c.random_seed.wrapping_add(1);
                let z = (0..d).map(|_| normal(&mut rng)).collect();
                c.set_explicit(z);
            }
            UiCommand::ZeroLatent => {
                let d = self.cursor_dim();
                let c = &mut self.runs.cursor;
                c.set_explicit(vec![0.0; d]);
            }
            UiCommand::SetLabel(l) => self.runs.cursor.label = l,
            UiCommand::EncodeDigit(i) => {
                let c = &mut self.runs.cursor;
                c.digit = i;
                c.follow_digit = true;
                c.follow_input = false;
                // A conditional model reconstructs a digit under its own label.
                let cvae = self.runs.focused_run().is_some_and(|r| {
                    matches!(r.config.variant, VariantKind::Cvae | VariantKind::M2)
                });
                if cvae && let Some(&l) = self.data.test.labels.get(i) {
                    self.runs.cursor.label = l as usize;
                }
            }
            UiCommand::ResamplePrior => self.runs.cursor.prior_seed += 1,
            UiCommand::SetDirectionSet(toward) => {
                let items: Vec<usize> = self.runs.selection.iter().copied().collect();
                let dir = &mut self.runs.cursor.direction;
                if toward {
                    dir.a = items;
                } else {
                    dir.b = items;
                }
            }
            UiCommand::SetAlong(t) => {
                if t.is_finite() {
                    self.runs.cursor.direction.t = t;
                }
            }
            UiCommand::NearestAt {
                run,
                view,
                cols,
                at,
            } => {
                if let Some(r) = self.runs.get_mut(run) {
                    match tile_latent(r.views.jobs.get(&view), cols, at) {
                        Some((i, z, label)) => {
                            r.views.nearest = None;
                            r.views.nearest_query = Some(super::nearest::NearestJob {
                                z,
                                label,
                                source: format!("{} image {i}", view_name(view)),
                            });
                        }
                        None => r.status.error(format!(
                            "{}: no decoded image there to search for",
                            view_name(view)
                        )),
                    }
                }
            }
            UiCommand::CloseNearest(run) => {
                if let Some(r) = self.runs.get_mut(run) {
                    r.views.nearest_query = None;
                    r.views.nearest = None;
                }
            }
            UiCommand::ClearDirection => {
                self.runs.cursor.direction = Default::default();
            }
            UiCommand::SelectDigits(_)
            | UiCommand::SetPathEnds(..)
            | UiCommand::Rescore
            | UiCommand::Reembed
            | UiCommand::SetInput { .. }
            | UiCommand::ClearInput
            | UiCommand::OpenInput(_)
            | UiCommand::PickInput
            | UiCommand::FollowInput
            | UiCommand::Export { .. } => self.apply_explore(cmd),
            UiCommand::ClearErrors => {
                self.errors.clear();
                for r in self.runs.iter_mut() {
                    r.status.errors.clear();
                }
            }
        }
    }

    /// The sliders' dimension: the focused run's latent size.
    fn cursor_dim(&self) -> usize {
        self.runs
            .focused_run()
            .map(|r| r.latent_dim())
            .unwrap_or(self.runs.cursor.z.len())
    }

    fn apply_run(&mut self, id: RunId, action: RunAction) {
        match action {
            RunAction::Worker(c) => {
                let Some(run) = self.runs.get_mut(id) else {
                    return;
                };
                match &run.source {
                    RunSource::Training(_) => {
                        // The run's configuration shows live values at once (the worker
                        // validates them; a refusal comes back as an error event).
                        match &c {
                            Command::SetBeta(b) => run.config.beta = *b,
                            Command::SetLr(lr) => run.config.optim.lr = *lr,
                            Command::SetSchedule(s) => run.config.schedule = *s,
                            Command::SetFreeBits(fb) => run.config.free_bits = *fb,
                            _ => {}
                        }
                        run.queue_command(c);
                        run.flush_commands();
                    }
                    _ => {
                        let e = format!(
                            "{} is {}, not training here: use Continue to train it",
                            run.name,
                            run.source.kind()
                        );
                        run.status.error(e);
                    }
                }
            }
            RunAction::Save(None) => {
                if let Some(run) = self.runs.get(id)
                    && let Some(why) = run.weights_not_loaded()
                {
                    self.errors.push(why);
                } else if let Some(run) = self.runs.get(id) {
                    let name = format!("{}.safetensors", run.file_stem());
                    let dir = self
                        .persisted
                        .workspace
                        .recent
                        .first()
                        .and_then(|p| p.parent().map(|d| d.to_path_buf()));
                    self.io.pick_save(id, name, dir.as_deref());
                }
            }
            RunAction::Save(Some(path)) => {
                let Some(run) = self.runs.get(id) else {
                    return;
                };
                match run.latest() {
                    Some(snap) => {
                        // Test figures belong in the file only if they were computed on
                        // exactly these weights (not on a mid-epoch snapshot).
                        let metrics = run
                            .history
                            .epochs
                            .iter()
                            .rev()
                            .find(|(e, s, _)| *e == snap.epoch && *s == snap.step)
                            .map(|(_, _, m)| m.clone());
                        let dataset = run.dataset.clone();
                        self.io.save(id, path, snap, dataset, metrics);
                    }
                    None => self
                        .errors
                        .push(format!("{} has no weights to save yet", run.name)),
                }
            }
            RunAction::Continue => self.continue_run(id),
            RunAction::ExportMetrics(dir) => {
                let Some(run) = self.runs.get(id) else {
                    return;
                };
                match (&run.source, dir) {
                    (RunSource::Following(f), _) => {
                        let dir = f.dir().to_path_buf();
                        self.io.export_metrics(dir);
                    }
                    _ if run.history.is_empty() => self
                        .errors
                        .push(format!("{} has no metrics to export yet", run.name)),
                    (_, None) => self.io.pick_metrics_dir(id),
                    (_, Some(dir)) => {
                        let stem = run.file_stem();
                        self.io.export_history(run.history.clone(), dir, stem);
                    }
                }
            }
            RunAction::Rename(name) => {
                if let Some(r) = self.runs.get_mut(id) {
                    r.name = name;
                }
            }
            RunAction::Recolour(c) => {
                if let Some(r) = self.runs.get_mut(id) {
                    r.colour = c;
                }
            }
            RunAction::Remove => self.remove_run(id),
            RunAction::Focus => {
                if self.runs.get(id).is_some() {
                    self.runs.focused = Some(id);
                    self.after_focus_change();
                }
            }
            RunAction::SetBaseline => {
                if self.runs.get(id).is_some() {
                    self.runs.baseline = Some(id);
                }
            }
            RunAction::ShowViews(show) => {
                if let Some(r) = self.runs.get_mut(id) {
                    r.show_views = show;
                }
                self.refresh_intervals();
            }
        }
    }

    /// The sliders take the focused run's size: an explicit vector of another size goes
    /// back to following the digit.
    pub(super) fn after_focus_change(&mut self) {
        let d = self.runs.focused_run().map(|r| r.latent_dim());
        let c = &mut self.runs.cursor;
        if let Some(d) = d
            && !c.follows_codes()
            && c.z.len() != d
        {
            c.follow_digit = true;
        }
    }
}

/// What a view is called in messages.
fn view_name(view: ViewKey) -> &'static str {
    match view {
        ViewKey::Slider => "slider",
        ViewKey::Grid => "grid",
        ViewKey::Prior => "prior sample",
        ViewKey::Path => "path",
        ViewKey::Traversal => "traversal",
        _ => "view",
    }
}

/// The tile at `at` (fractions of the view's width and height) of a view drawn `cols`
/// tiles per row from a decode job: its index, latent vector and label. `None` for a view
/// not decoded from latent vectors, or a place with no tile.
fn tile_latent(
    job: Option<&Job>,
    cols: usize,
    at: [f32; 2],
) -> Option<(usize, Vec<f32>, Option<usize>)> {
    let Some(Job::Decode { z, n, label }) = job else {
        return None;
    };
    let (n, cols) = (*n, cols.max(1));
    if n == 0 || z.len() % n != 0 || !(0.0..=1.0).contains(&at[0]) || !(0.0..=1.0).contains(&at[1])
    {
        return None;
    }
    let d = z.len() / n;
    let rows = n.div_ceil(cols);
    let col = ((at[0] * cols as f32) as usize).min(cols - 1);
    let row = ((at[1] * rows as f32) as usize).min(rows - 1);
    let i = row * cols + col;
    (i < n).then(|| (i, z[i * d..(i + 1) * d].to_vec(), *label))
}
