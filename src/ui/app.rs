//! The app's state ([`ExplorerApp`]) and how it starts ([`AppOptions`]): the runs, the
//! persisted settings, the device, the background file work and the commands waiting for
//! the logic step. The behaviour is spread over files that each add an `impl ExplorerApp`
//! block on top of this one (`logic`, `workspace`, `exploring`, `views`, `measuring`) and
//! `frame`, eframe's callbacks; this file names none of them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use burn::tensor::Device;
use eframe::egui;

use crate::data::Dataset;
use crate::gpu;
use crate::import::ImportOptions;
use crate::train::StepGate;
use crate::train::Waker;
use crate::train::share::SharingPolicy;

use super::command::UiCommand;
use super::io::Io;
use super::measure::{FrameStats, Measure};
use super::runs::Runs;
use super::settings::{self, DeviceChoice, Persisted, RunDraft, ViewSettings};
use super::{recent, session};

/// Options for starting the app (the CLI's `app` arguments; tests use a CPU device and
/// small data).
#[derive(Clone)]
pub struct AppOptions {
    /// Dataset for new runs (default: the draft's directory, or the bundled subset).
    pub data: Option<Arc<Dataset>>,
    /// The dataset field's text for this start (`app --data`), read like `train --data`.
    pub data_spec: Option<String>,
    /// Override the persisted device choice.
    pub device: Option<DeviceChoice>,
    /// Override the persisted sharing policy.
    pub sharing: Option<SharingPolicy>,
    /// Start a run from the draft when nothing else is opened.
    pub autostart: bool,
    /// Use this draft instead of the persisted one.
    pub draft: Option<RunDraft>,
    /// Use these view settings instead of the persisted ones.
    pub view: Option<ViewSettings>,
    /// Use this workspace (recent files, the runs to reopen) instead of the persisted one.
    pub workspace: Option<settings::Workspace>,
    /// Model files to open as runs.
    pub open: Vec<PathBuf>,
    /// Run directories to follow.
    pub follow: Vec<PathBuf>,
    /// Start the four-variant preset.
    pub preset: bool,
    /// Start runs of these variants from the draft.
    pub train: Vec<crate::variant::VariantKind>,
    /// The draft's epochs for this start (`app --epochs`).
    pub epochs: Option<usize>,
    /// How PyTorch files are read (an empty key map: the workspace's rules).
    pub import: ImportOptions,
    /// Measurement mode: repaint continuously, move a latent slider every few frames after
    /// a warm-up, print frame-time, slider-latency and per-run training figures after this
    /// many seconds, and close.
    pub measure_secs: Option<f64>,
    /// Show file dialogs (tests turn them off: a dialog request is answered "nothing
    /// chosen" at once).
    pub file_dialogs: bool,
    /// Open the compare layout on this tab.
    pub tab: Option<settings::CompareTab>,
    /// Start with "Aligned" runs on (`app --aligned`).
    pub aligned: bool,
    /// Where runs trained here are autosaved (default: the platform's data directory,
    /// [`session::autosave_dir`]).
    pub autosave_dir: Option<PathBuf>,
    /// How long a removed run can be brought back with Undo (default
    /// [`super::runs::UNDO_WINDOW`]).
    pub undo_window: Option<Duration>,
    /// An attribute direction to start with (its two sets, as `traverse --direction`
    /// takes them) and how far along it the cursor starts.
    pub direction: Option<(crate::explore::DirectionSpec, f32)>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            data: None,
            data_spec: None,
            device: None,
            sharing: None,
            autostart: true,
            draft: None,
            view: None,
            workspace: None,
            open: Vec::new(),
            follow: Vec::new(),
            preset: false,
            train: Vec::new(),
            epochs: None,
            import: ImportOptions::default(),
            measure_secs: None,
            file_dialogs: true,
            tab: None,
            aligned: false,
            autosave_dir: None,
            undo_window: None,
            direction: None,
        }
    }
}

/// Longest delay between a training event (or a view refreshed from newer weights) and the
/// redraw that shows it, on a GPU.
const BACKGROUND_REPAINT_GPU: Duration = Duration::from_millis(50);

/// The same on a software rasteriser, where one frame of a large window costs ~100 ms of
/// CPU: drawing training progress 4 times a second leaves most of the CPU to training.
/// What the user does (a slider drag, a click) is still drawn at once.
const BACKGROUND_REPAINT_SOFTWARE: Duration = Duration::from_millis(250);

/// The explorer application.
pub struct ExplorerApp {
    /// View settings, the next run's draft, the workspace (persisted).
    pub persisted: Persisted,
    /// The runs.
    pub runs: Runs,
    /// The data new runs train on and loaded runs are shown with.
    pub(super) data: Arc<Dataset>,
    /// The directory `data` came from ("" for the bundled or given data).
    pub(super) data_source: String,
    /// Counts replacements of `data` (views drawn from it are uploaded again).
    pub(super) data_generation: u64,
    /// Runs to start once the data the draft names has been read.
    pub(super) waiting_for_data: Vec<crate::train::RunSpec>,
    /// The device every run trains (when trained here) and decodes on.
    pub(super) device: Device,
    pub(super) device_label: String,
    pub(super) adapter_label: String,
    /// The window is drawn by a software rasteriser (every pixel costs CPU).
    pub(super) software_renderer: bool,
    /// Decoded tensors stay on the GPU and are drawn from their buffers.
    pub(super) gpu_buffers: bool,
    pub(super) render_state: Option<eframe::egui_wgpu::RenderState>,
    /// Repaint at once (answers to requests, file results).
    pub(super) waker: Waker,
    /// Repaint soon (training events, refreshed views): throttled on a software renderer.
    pub(super) worker_waker: Waker,
    /// How runs share the CPU, and the gate they take turns through.
    pub(super) sharing: SharingPolicy,
    pub(super) gate: Option<Arc<StepGate>>,
    pub(super) io: Io,
    /// PyTorch import options given on the command line (else the workspace's key map).
    pub(super) import: ImportOptions,
    pub(super) commands: Vec<UiCommand>,
    /// Frame timing.
    pub frames: FrameStats,
    pub(super) measure: Option<Measure>,
    /// Workspace errors (a file that did not open, a dataset that did not load), newest last.
    pub errors: Vec<String>,
    /// Workspace notes (saved files, opened runs).
    pub notes: recent::Recent<String>,
    /// Where the runs trained here are autosaved.
    pub(super) autosave: session::Autosave,
}

impl ExplorerApp {
    /// Build the app from eframe's creation context.
    pub fn new(cc: &eframe::CreationContext<'_>, opts: AppOptions) -> Self {
        // The saved settings are read as text and checked (sizes clamped to what the controls
        // offer); unreadable ones are reported and replaced by the defaults.
        let (mut persisted, settings_error) =
            match cc.storage.and_then(|s| s.get_string(eframe::APP_KEY)) {
                None => (Persisted::default(), None),
                Some(text) => match Persisted::from_ron(&text) {
                    Ok(p) => (p, None),
                    Err(e) => (Persisted::default(), Some(e.to_string())),
                },
            };
        if let Some(d) = opts.draft.clone() {
            persisted.draft = d;
        }
        if let Some(spec) = &opts.data_spec {
            persisted.draft.data_dir = spec.clone();
        }
        if let Some(e) = opts.epochs {
            persisted.draft.spec.epochs = e;
        }
        if let Some(v) = opts.view.clone() {
            persisted.view = v;
        }
        if let Some(w) = opts.workspace.clone() {
            persisted.workspace = w;
        }
        if let Some(t) = opts.tab {
            persisted.view.layout = settings::Layout::Compare;
            persisted.view.compare_tab = t;
        }
        if opts.aligned {
            persisted.view.explore.aligned = true;
        }
        // Command-line choices apply to this session only; the saved ones stay.
        let device_choice = opts.device.unwrap_or(persisted.draft.device);
        let mut errors: Vec<String> = settings_error.into_iter().collect();
        let (data, data_source) = match opts.data.clone() {
            Some(d) => (d, String::new()),
            None => {
                let dir = persisted.draft.data_dir.trim().to_string();
                match load_dataset(&dir) {
                    Ok(d) => (Arc::new(d), dir),
                    Err(e) => {
                        errors.push(e);
                        match Dataset::bundled() {
                            Ok(d) => (Arc::new(d), String::new()),
                            Err(e) => {
                                errors.push(format!("loading the bundled data: {e}"));
                                (
                                    Arc::new(Dataset {
                                        name: "none".into(),
                                        train: crate::data::Split::empty(
                                            crate::data::ImageShape::grey(28, 28),
                                        ),
                                        test: crate::data::Split::empty(
                                            crate::data::ImageShape::grey(28, 28),
                                        ),
                                        factors: None,
                                    }),
                                    String::new(),
                                )
                            }
                        }
                    }
                }
            }
        };
        let render_state = cc.wgpu_render_state.clone();
        if let Some(rs) = &render_state {
            gpu::tiles::install(rs);
        }
        let ctx = cc.egui_ctx.clone();
        let waker: Waker = Arc::new(move || ctx.request_repaint());
        // Training events arrive at every step; redrawing them a few times a second is
        // plenty and leaves the CPU to training.
        let software = render_state
            .as_ref()
            .is_none_or(|rs| gpu::is_software(&rs.adapter.get_info()));
        let background = if software {
            BACKGROUND_REPAINT_SOFTWARE
        } else {
            BACKGROUND_REPAINT_GPU
        };
        let ctx = cc.egui_ctx.clone();
        let worker_waker: Waker = Arc::new(move || ctx.request_repaint_after(background));
        let sharing = opts.sharing.unwrap_or(persisted.draft.sharing);
        // The policy is this app's: each worker lowers its own threads (its thread, its
        // compute pool, the lowered CPU lanes; `WorkerOptions::low_priority`), nothing of the
        // process's, so another app or a test in the same process keeps its own.
        let mut app = Self {
            persisted,
            runs: Runs::default(),
            data,
            data_source,
            data_generation: 0,
            waiting_for_data: Vec::new(),
            device: Device::flex(),
            device_label: String::new(),
            adapter_label: render_state
                .as_ref()
                .map(|rs| gpu::describe(&rs.adapter.get_info()))
                .unwrap_or_else(|| "none (no wgpu renderer)".into()),
            software_renderer: software,
            gpu_buffers: false,
            render_state,
            io: Io::new(waker.clone()),
            waker,
            worker_waker,
            sharing,
            gate: sharing.gate_slots().map(|n| Arc::new(StepGate::new(n))),
            import: opts.import.clone(),
            commands: Vec::new(),
            frames: FrameStats::default(),
            measure: opts.measure_secs.map(Measure::new),
            errors,
            notes: recent::Recent::new(6),
            autosave: session::Autosave::default(),
        };
        app.io.dialogs = opts.file_dialogs;
        app.runs.autosave_dir = opts.autosave_dir.clone().or_else(session::autosave_dir);
        if let Some(w) = opts.undo_window {
            app.runs.undo_window = w;
        }
        app.choose_device(device_choice);
        if let Some((spec, t)) = &opts.direction {
            // The items whose codes every run computes: the first of the test set.
            let n = app.data.test.len().min(settings::STATS_DIGITS);
            let labels = &app.data.test.labels;
            match (
                spec.a.resolve(labels, n, 'A'),
                spec.b.resolve(labels, n, 'B'),
            ) {
                (Ok(a), Ok(b)) => {
                    app.runs.cursor.direction = super::runs::CursorDirection { a, b, t: *t };
                }
                (Err(e), _) | (_, Err(e)) => app.errors.push(format!("--direction: {e}")),
            }
        }
        if !opts.open.is_empty() {
            app.commands.push(UiCommand::Open(opts.open.clone()));
        }
        for dir in &opts.follow {
            app.commands.push(UiCommand::Follow(dir.clone()));
        }
        if opts.preset {
            app.commands.push(UiCommand::Preset);
        }
        for &v in &opts.train {
            app.commands.push(UiCommand::NewRunOf(v));
        }
        let opened = !opts.open.is_empty()
            || !opts.follow.is_empty()
            || opts.preset
            || !opts.train.is_empty();
        // The workspace of the last session comes back unless the command line names runs.
        let (files, dirs) = session::restore(&app.persisted.workspace.session);
        let restored = !opened && (!files.is_empty() || !dirs.is_empty());
        if restored {
            if !files.is_empty() {
                app.commands.push(UiCommand::Open(files));
            }
            app.commands.extend(dirs.into_iter().map(UiCommand::Follow));
        }
        if opts.autostart && !opened && !restored {
            app.commands.push(UiCommand::NewRun);
        }
        // A lost X display saves the training runs before the process ends.
        session::install_display_loss_handler();
        // Ctrl-C or SIGTERM (`interrupt::install`, done by the `app` command) closes the
        // window the normal way, so the runs are saved as on any close; a watcher thread
        // turns the signal's flag into the close command (a handler may not call into egui).
        let ctx = cc.egui_ctx.clone();
        let _ = std::thread::Builder::new()
            .name("close-on-signal".into())
            .spawn(move || {
                while !crate::interrupt::requested() {
                    std::thread::sleep(Duration::from_millis(100));
                }
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                ctx.request_repaint();
            });
        app
    }

    /// Pick the training/decoding device from `choice` and the adapter.
    pub(super) fn choose_device(&mut self, choice: DeviceChoice) {
        let hardware = !self.software_renderer;
        let want_gpu = match choice {
            DeviceChoice::Cpu => false,
            DeviceChoice::Auto => hardware,
            DeviceChoice::Gpu => true,
        };
        let shared = if want_gpu {
            match self.render_state.as_ref().map(gpu::shared_burn_device) {
                Some(Ok(d)) => Some(d),
                Some(Err(e)) => {
                    self.errors.push(format!(
                        "cannot share the wgpu device with burn: {e}; using the CPU"
                    ));
                    None
                }
                None => {
                    self.errors
                        .push("no wgpu renderer: training on the CPU".into());
                    None
                }
            }
        } else {
            None
        };
        match shared {
            Some(d) => {
                self.device = d;
                self.gpu_buffers = true;
                self.device_label =
                    format!("GPU (wgpu, shared with the UI: {})", self.adapter_label);
            }
            None => {
                self.device = Device::flex();
                self.gpu_buffers = false;
                self.device_label = "CPU (burn flex)".into();
            }
        }
    }

    /// Queue a command (panels call this; tests may too).
    pub fn push_command(&mut self, cmd: UiCommand) {
        self.commands.push(cmd);
    }

    /// Training device description.
    pub fn device_label(&self) -> &str {
        &self.device_label
    }

    /// The data new runs train on.
    pub fn data(&self) -> &Arc<Dataset> {
        &self.data
    }

    /// How runs share the CPU.
    pub fn sharing(&self) -> SharingPolicy {
        self.sharing
    }

    /// Whether the window is drawn by a software rasteriser (views then leave out what only
    /// decorates, such as plot backdrops).
    pub fn software_renderer(&self) -> bool {
        self.software_renderer
    }

    /// The keys of the tile painter's GPU slots (one per run and view drawn so far).
    pub fn painter_slots(&self) -> Vec<u64> {
        self.render_state
            .as_ref()
            .map(gpu::tiles::slot_keys)
            .unwrap_or_default()
    }

    /// Background file work not yet finished (loads, saves, dialogs).
    pub fn io_in_flight(&self) -> usize {
        self.io.in_flight()
    }
}

/// The dataset the draft's field names (see [`crate::data::Source::parse`]), read before the
/// window opens; the error names the directory.
fn load_dataset(dir: &str) -> Result<Dataset, String> {
    crate::data::Source::parse(dir)?
        .open(&|_, _| {})
        .map(|o| o.data)
        .map_err(|e| format!("loading the dataset: {e}"))
}
