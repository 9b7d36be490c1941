//! One run of the workspace: a model with its own name and colour, either training here
//! (its worker), loaded from a file, or followed in a run directory that another process
//! writes; with its decoder, its history, its status, what its views last showed, and the
//! weights it had at the end of each epoch (for the epoch scrubber). A run of a followed
//! sweep says so ([`SweepMember`]): its records come from the sweep's one follower, and its
//! weights are loaded only while its views are shown ([`Run::show_views`] or the focus).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui::Color32;

use super::decoder::{Decoder, Images, LatentStats, ViewKey};
use crate::checkpoint::DatasetInfo;
use crate::data::Dataset;
use crate::rundir::Follower;
use crate::train::{
    Command, EvalMetrics, LatestSlot, LossHistory, Snapshot, TrainConfig, TrySendError,
    WorkerHandle, WorkerState,
};

/// A run's identity; never reused within a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub u32);

impl RunId {
    /// The tile painter's key for this run's `view` (freed when the run is removed).
    pub fn painter_key(self, view: ViewKey) -> u64 {
        ((self.0 as u64) << 16) | view.code()
    }

    /// Whether a painter key belongs to this run.
    pub fn owns_painter_key(self, key: u64) -> bool {
        key >> 16 == self.0 as u64
    }
}

/// A followed sweep's identity; never reused within a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SweepId(pub u32);

/// Where a run sits in a followed sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepMember {
    /// The sweep.
    pub sweep: SweepId,
    /// The run's index in the sweep's plan (its task index).
    pub index: usize,
    /// Its configuration's index in the sweep's groups (runs differing only by seed share
    /// it).
    pub group: usize,
}

/// Run colours, in the order new runs take them: distinguishable on dark and light
/// backgrounds (Okabe–Ito, without black).
pub const PALETTE: [Color32; 7] = [
    Color32::from_rgb(230, 159, 0),
    Color32::from_rgb(86, 180, 233),
    Color32::from_rgb(0, 158, 115),
    Color32::from_rgb(240, 228, 66),
    Color32::from_rgb(0, 114, 178),
    Color32::from_rgb(213, 94, 0),
    Color32::from_rgb(204, 121, 167),
];

/// Where a run's weights come from.
pub enum RunSource {
    /// Training in this app.
    Training(WorkerHandle),
    /// Loaded from a file; the weights sit in the slot.
    Loaded {
        /// The file.
        path: PathBuf,
        /// The loaded weights.
        slot: LatestSlot<Snapshot>,
    },
    /// A run directory another process writes.
    Following(Follower),
    /// A run of a followed sweep: its records come from the sweep's follower, which loads
    /// its checkpoints into `slot` only while `wanted`.
    Sweep {
        /// Its run directory.
        dir: PathBuf,
        /// The weights loaded for it (empty while not wanted).
        slot: LatestSlot<Snapshot>,
        /// Whether the follower was asked for its weights.
        wanted: bool,
    },
}

impl RunSource {
    /// The newest weights.
    pub fn slot(&self) -> LatestSlot<Snapshot> {
        match self {
            Self::Training(w) => w.snapshot_slot(),
            Self::Loaded { slot, .. } => slot.clone(),
            Self::Following(f) => f.snapshot_slot(),
            Self::Sweep { slot, .. } => slot.clone(),
        }
    }

    /// A word for the source in the runs list.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Training(_) => "training",
            Self::Loaded { .. } => "loaded",
            Self::Following(_) => "following",
            Self::Sweep { .. } => "following (sweep)",
        }
    }
}

/// What the run is doing.
#[derive(Debug, Clone)]
pub struct Status {
    /// Worker state (a followed run: Running while records arrive, Finished at the end).
    pub state: WorkerState,
    /// Last step seen.
    pub step: u64,
    /// Last epoch reported.
    pub epoch: usize,
    /// Training speed, images per second.
    pub samples_per_sec: f64,
    /// Errors (newest last), never swallowed.
    pub errors: Vec<String>,
    /// Informational notes (hyperparameter changes, saves).
    pub notes: super::recent::Recent<String>,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            state: WorkerState::Idle,
            step: 0,
            epoch: 0,
            samples_per_sec: 0.0,
            errors: Vec::new(),
            notes: super::recent::Recent::new(5),
        }
    }
}

/// Most errors kept per run (the oldest go first).
const MAX_ERRORS: usize = 50;

impl Status {
    /// Record an error, unless it repeats the newest one (a refresh that fails the same way
    /// on every new snapshot is reported once).
    pub fn error(&mut self, e: impl Into<String>) {
        let e = e.into();
        if self.errors.last() != Some(&e) {
            self.errors.push(e);
        }
        if self.errors.len() > MAX_ERRORS {
            self.errors.remove(0);
        }
    }

    /// Add a note, keeping the last few.
    pub fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    /// Whether a worker is alive (not stopped, failed or finished).
    pub fn is_active(&self) -> bool {
        !matches!(
            self.state,
            WorkerState::Stopped | WorkerState::Failed | WorkerState::Finished
        )
    }
}

/// Most epoch snapshots kept per run; beyond it older epochs are thinned.
pub const MAX_KEPT_EPOCHS: usize = 24;

/// The weights a run had at the end of its epochs, for the epoch scrubber. Memory is
/// bounded: past [`MAX_KEPT_EPOCHS`] every other one of the older half is dropped (the
/// first and the newest are always kept), and the UI says which epochs remain.
#[derive(Debug, Clone, Default)]
pub struct EpochStore {
    kept: BTreeMap<usize, Arc<Snapshot>>,
    thinned: usize,
}

impl EpochStore {
    /// Keep `snap` as the end of its epoch.
    pub fn insert(&mut self, snap: Arc<Snapshot>) {
        self.kept.insert(snap.epoch, snap);
        if self.kept.len() > MAX_KEPT_EPOCHS {
            let epochs: Vec<usize> = self.kept.keys().copied().collect();
            let half = epochs.len() / 2;
            // Drop the odd positions of the older half, never the first.
            for (i, e) in epochs[..half].iter().enumerate() {
                if i % 2 == 1 {
                    self.kept.remove(e);
                    self.thinned += 1;
                }
            }
        }
    }

    /// The snapshot of the latest kept epoch at or before `epoch`.
    pub fn at_or_before(&self, epoch: usize) -> Option<&Arc<Snapshot>> {
        self.kept.range(..=epoch).next_back().map(|(_, s)| s)
    }

    /// Kept epochs, oldest first.
    pub fn epochs(&self) -> Vec<usize> {
        self.kept.keys().copied().collect()
    }

    /// The newest kept epoch.
    pub fn last(&self) -> Option<usize> {
        self.kept.keys().next_back().copied()
    }

    /// Epochs dropped to bound memory.
    pub fn thinned(&self) -> usize {
        self.thinned
    }
}

/// What a run's views last showed and what they need next.
#[derive(Default)]
pub struct RunViews {
    /// The latest images per view.
    pub images: HashMap<ViewKey, Images>,
    /// How many times each view's image was replaced (the painter re-uploads on change).
    pub versions: HashMap<ViewKey, u64>,
    /// Encoder statistics of the shown weights.
    pub stats: Option<LatentStats>,
    /// How each view's job was last asked for; a view missing here is asked for when it
    /// is wanted (cleared when the decoder is pointed at other weights).
    pub asked: HashMap<ViewKey, Asked>,
    /// Counts arrivals of [`RunViews::stats`] (the codes).
    pub codes_version: u64,
    /// [`RunViews::codes_version`] as the last frame saw it.
    pub codes_seen: u64,
    /// Decode the slider image on the UI thread (CPU only, while it stays fast).
    pub inline_decode: bool,
    /// Inline slider decodes in a row that went over their time budget (one slow decode,
    /// e.g. while another thread holds the CPU, does not end inline decoding).
    pub inline_slow: u8,
    /// Why the slider and grid views show nothing for this run (e.g. another latent size).
    pub issue: Option<String>,
    /// What the decoder was last pointed at; `None` forces the next re-pin.
    pub pinned_to: Option<PinKey>,
    /// The newest request id per view: older answers are dropped.
    pub requested: HashMap<ViewKey, u64>,
    /// The last job asked per view (exports re-run it on the host).
    pub jobs: HashMap<ViewKey, super::decoder::Job>,
    /// Anomaly scores of the shown weights.
    pub anomaly: Option<Box<super::decoder::AnomalyResult>>,
    /// The user's input as this run sees it.
    pub input: Option<super::decoder::InputResult>,
    /// A t-SNE embedding of its codes.
    pub embedding: Option<super::decoder::Embedding>,
    /// The amortisation gap of its test images.
    pub gap: Option<Box<super::decoder::GapResult>>,
    /// The prior's holes and the ex-post sampler's draws.
    pub holes: Option<Box<super::holes::HolesResult>>,
    /// The image the user asked the nearest training images of (its context menu).
    pub nearest_query: Option<super::nearest::NearestJob>,
    /// Its nearest training images.
    pub nearest: Option<Box<super::nearest::NearestResult>>,
    /// The last failure per view (cleared by its next result), for panels to show.
    pub failed: HashMap<ViewKey, String>,
    /// With "Aligned" on, this run's codes fitted onto the focused run's (none for the
    /// focused run itself).
    pub aligned: Option<Arc<AlignedTo>>,
    /// With "Aligned" on, the focused run's map frame, chained through its codes' updates.
    pub frame: Option<Arc<MapFrame>>,
}

/// A run's codes fitted onto the focused run's, on the same test images.
#[derive(Debug, Clone)]
pub struct AlignedTo {
    /// The focused run.
    pub reference: RunId,
    /// The focused run's codes' step, and this run's, when fitted.
    pub steps: (u64, u64),
    /// The fit: this run's codes → the focused run's, or why there is none.
    pub fit: Result<crate::explore::Alignment, String>,
    /// The focused run's top two principal directions (its own coordinates).
    pub principal: Vec<Vec<f32>>,
}

/// The frame the focused run's map is drawn in while "Aligned" is on: its codes at the
/// first step shown, and each newer set of codes fitted onto the set shown before it, so
/// the map moves only as much as the codes do (no rotation or reflection jumps).
#[derive(Debug, Clone)]
pub struct MapFrame {
    /// The step of the codes it holds.
    pub step: u64,
    /// Latent size.
    pub dim: usize,
    /// The codes in the frame, row-major.
    pub codes: Arc<Vec<f32>>,
    /// The run's own coordinates → the frame (`None`: the frame is its own coordinates).
    pub to_frame: Option<crate::explore::Alignment>,
    /// The map's principal directions in the frame: those of the codes the frame started
    /// from, kept (recomputed ones may swap or flip sign from one step to the next).
    pub principal: Vec<Vec<f32>>,
    /// Codes sets chained so far.
    pub links: usize,
}

/// What a run's decoder is pointed at: the newest weights, or a scrubbed epoch's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinKey {
    /// The scrubbed epoch (None: the newest weights).
    pub scrub: Option<usize>,
    /// The epoch and step of the snapshot shown for it, if any.
    pub shown: Option<(usize, u64)>,
}

/// How a view's job was last asked for (its job is [`RunViews::jobs`]'s): a frame asks
/// again only when the job or this changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    /// The view's ask-again counter then (e.g. Rescore presses).
    pub again: u64,
    /// Newer weights redo it.
    pub keep: bool,
}

/// One model in the workspace.
pub struct Run {
    /// Identity.
    pub id: RunId,
    /// Name shown everywhere (editable).
    pub name: String,
    /// Colour used for this run everywhere: curves, image frames, tables.
    pub colour: Color32,
    /// Where the weights come from.
    pub source: RunSource,
    /// The run's configuration as it started (or as its file says).
    pub config: TrainConfig,
    /// The data its views encode (same image size as the model).
    pub data: Arc<Dataset>,
    /// What it was trained on, for its checkpoint header.
    pub dataset: DatasetInfo,
    /// Loss history.
    pub history: LossHistory,
    /// State, speed, errors.
    pub status: Status,
    /// Its decode thread.
    pub decoder: Decoder,
    /// Its views.
    pub views: RunViews,
    /// Weights at the end of each epoch.
    pub epochs: EpochStore,
    /// The epoch the scrubber pinned the views to (None: the newest weights).
    pub pinned: Option<usize>,
    /// Commands for its worker that could not be sent yet (the worker was busy).
    pub outbox: VecDeque<Command>,
    /// Its place in a followed sweep, if it is a sweep's run.
    pub sweep: Option<SweepMember>,
    /// The compare layout shows its images (every run but a sweep's, by default; a sweep's
    /// runs when the user asks, so that 200 runs do not all decode). The focused run is
    /// shown whatever this says.
    pub show_views: bool,
}

impl Run {
    /// Queue a command for the worker; a live change replaces a queued one of its kind
    /// (only the newest β of a drag matters).
    pub fn queue_command(&mut self, c: Command) {
        use std::mem::discriminant;
        let live = matches!(
            c,
            Command::SetBeta(_)
                | Command::SetLr(_)
                | Command::SetSchedule(_)
                | Command::SetFreeBits(_)
        );
        if live
            && let Some(last) = self.outbox.back_mut()
            && discriminant(last) == discriminant(&c)
        {
            *last = c;
            return;
        }
        self.outbox.push_back(c);
    }

    /// Send queued commands without waiting; what a busy worker cannot take stays queued.
    pub fn flush_commands(&mut self) {
        let RunSource::Training(w) = &self.source else {
            self.outbox.clear();
            return;
        };
        while let Some(c) = self.outbox.pop_front() {
            match w.try_send(c) {
                Ok(()) => {}
                Err(TrySendError::Full(c)) => {
                    self.outbox.push_front(c);
                    break;
                }
                Err(TrySendError::Ended) => {
                    self.outbox.clear();
                    self.status.error("the training worker has ended");
                    break;
                }
            }
        }
    }

    /// Whether the run's data fits the model: its image size, and its labels for a
    /// conditional one (else nothing that encodes data is requested).
    pub fn data_fits(&self) -> bool {
        let m = &self.config.model;
        self.data.check_model(m).is_ok()
    }
    /// Latent dimensions of the model.
    pub fn latent_dim(&self) -> usize {
        self.config.model.latent_dim
    }

    /// The run's name as a file name: letters, digits and `-` kept, anything else `_`
    /// (saved checkpoints, autosaves and exports are named after it).
    pub fn file_stem(&self) -> String {
        self.name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// Whether the run's codes are quantised (a VQ-VAE: no KL term to show).
    pub fn is_quantized(&self) -> bool {
        matches!(
            self.config.model.latent,
            crate::model::LatentKind::Quantized { .. }
        )
    }

    /// Whether the run's objective bounds the likelihood (else no −ELBO is shown).
    pub fn has_bound(&self) -> bool {
        self.config.variant.has_likelihood_bound()
    }

    /// Why the run has no weights here though its directory holds some: a sweep's run
    /// whose views are not shown (its weights are not loaded, to bound memory).
    pub fn weights_not_loaded(&self) -> Option<String> {
        match &self.source {
            RunSource::Sweep { wanted: false, .. } => Some(format!(
                "{}'s weights are loaded only while its views are shown: tick its \"views\" box (or focus it), then try again",
                self.name
            )),
            _ => None,
        }
    }

    /// The newest weights (live, not pinned).
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.source.slot().get()
    }

    /// The weights the views show: the pinned epoch's, or the newest.
    pub fn shown(&self) -> Option<Arc<Snapshot>> {
        match self.pinned {
            Some(e) => self.epochs.at_or_before(e).cloned(),
            None => self.latest(),
        }
    }

    /// The newest test metrics.
    pub fn last_metrics(&self) -> Option<&EvalMetrics> {
        self.history.epochs.last().map(|(_, _, m)| m)
    }

    /// The test metrics after `epoch` (or the latest epoch before it).
    pub fn metrics_at(&self, epoch: usize) -> Option<&(usize, u64, EvalMetrics)> {
        self.history
            .epochs
            .iter()
            .rev()
            .find(|(e, _, _)| *e <= epoch)
    }

    /// The latest image of a view.
    pub fn image(&self, key: ViewKey) -> Option<&Images> {
        self.views.images.get(&key)
    }

    /// How many times a view's image was replaced.
    pub fn image_version(&self, key: ViewKey) -> u64 {
        self.views.versions.get(&key).copied().unwrap_or(0)
    }

    /// Store a decoded image.
    pub fn set_image(&mut self, key: ViewKey, img: Images) {
        *self.views.versions.entry(key).or_insert(0) += 1;
        self.views.images.insert(key, img);
    }
}
