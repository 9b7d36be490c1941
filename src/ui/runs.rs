//! The workspace's runs: the collection, the focused run, the baseline of the metrics table,
//! the epoch scrubber's position, the latent cursor every run decodes in lock-step, and the
//! sweeps followed (their runs are runs of the collection too).

use std::time::{Duration, Instant};

use super::run::{PALETTE, Run, RunId, SweepId};
use super::settings::STATS_DIGITS;
use super::sweeps::FollowedSweep;

/// What [`LatentCursor::latent_for`] says while a run's codes are not computed yet (not an
/// issue worth showing).
pub const WAITING_FOR_CODES: &str = "waiting for codes";

/// The latent point every run decodes: either "the code of test digit `digit`" (each run
/// encodes the same digit with its own encoder) or one explicit vector `z` (decoded by every
/// run whose latent size is `z.len()`; the others say so, nothing is padded).
#[derive(Debug, Clone)]
pub struct LatentCursor {
    /// The test digit followed, and the one "Encode digit" starts from.
    pub digit: usize,
    /// Whether every run shows its own code of `digit` (until a slider is moved).
    pub follow_digit: bool,
    /// Whether every run shows its own code of the user's input image (drawn or dropped);
    /// wins over `follow_digit` until a slider is moved or a digit is chosen.
    pub follow_input: bool,
    /// The explicit vector when not following a digit.
    pub z: Vec<f32>,
    /// The label a conditional model decodes under.
    pub label: usize,
    /// Seed of the prior samples' noise.
    pub prior_seed: u64,
    /// Seed of the next "Randomize".
    pub random_seed: u64,
    /// The attribute direction the cursor is moved along (the map's A and B selections).
    pub direction: CursorDirection,
}

/// An attribute direction for the cursor: two sets of test items, and how far along the
/// direction from B's mean code to A's the cursor is moved. Each run takes the direction
/// from its own codes of the same items, so "toward A" means the same images in every run
/// without any fit between their latent spaces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CursorDirection {
    /// Set A: the items the direction points toward.
    pub a: Vec<usize>,
    /// Set B: the items it points away from.
    pub b: Vec<usize>,
    /// How far along: each run's point is its base point + t · (A's mean code − B's).
    pub t: f32,
}

impl CursorDirection {
    /// Whether both sets are chosen.
    pub fn is_set(&self) -> bool {
        !self.a.is_empty() && !self.b.is_empty()
    }

    /// The two sets as `traverse --direction` takes them.
    pub fn spec(&self) -> Option<crate::explore::DirectionSpec> {
        use crate::explore::{DirectionSpec, ItemSet};
        self.is_set().then(|| DirectionSpec {
            a: ItemSet::of_items(self.a.iter().copied()),
            b: ItemSet::of_items(self.b.iter().copied()),
        })
    }

    /// `run`'s direction, from its own codes of the two sets, or why there is none.
    pub fn of_run(&self, run: &Run) -> Result<crate::explore::AttributeDirection, String> {
        let stats = run
            .views
            .stats
            .as_ref()
            .ok_or_else(|| WAITING_FOR_CODES.to_string())?;
        crate::explore::attribute_direction(&stats.codes, stats.latent, &self.a, &self.b)
            .map_err(|e| format!("attribute direction: {e}"))
    }

    /// `base` moved t along `run`'s direction (unchanged while a set is missing or t is 0).
    fn apply(&self, run: &Run, base: Vec<f32>) -> Result<Vec<f32>, String> {
        if !self.is_set() || self.t == 0.0 {
            return Ok(base);
        }
        let dir = self.of_run(run)?;
        if dir.vector.len() != base.len() {
            return Err("the attribute direction has another size".into());
        }
        Ok(crate::explore::along(&base, &dir.vector, &[self.t]))
    }
}

impl Default for LatentCursor {
    fn default() -> Self {
        Self {
            digit: 0,
            follow_digit: true,
            follow_input: false,
            z: Vec::new(),
            label: 0,
            prior_seed: 1,
            random_seed: 0x5EED,
            direction: CursorDirection::default(),
        }
    }
}

impl LatentCursor {
    /// The latent vector `run` decodes, or why it cannot: its base point moved along the
    /// attribute direction, if one is set.
    pub fn latent_for(&self, run: &Run) -> Result<Vec<f32>, String> {
        let base = self.base_for(run)?;
        self.direction.apply(run, base)
    }

    /// The point `run` decodes before the attribute direction moves it: its code of the
    /// followed digit or input, or the explicit vector (what the sliders set).
    pub fn base_for(&self, run: &Run) -> Result<Vec<f32>, String> {
        let d = run.latent_dim();
        if self.follow_input {
            return match &run.views.input {
                Some(inp) if inp.code.len() == d => Ok(inp.code.clone()),
                Some(_) => Err("the input's code has another size".into()),
                None => Err(WAITING_FOR_CODES.to_string()),
            };
        }
        if self.follow_digit {
            let stats = run
                .views
                .stats
                .as_ref()
                .ok_or_else(|| WAITING_FOR_CODES.to_string())?;
            let i = self.digit;
            if stats.latent == d && (i + 1) * d <= stats.codes.len() {
                Ok(stats.codes[i * d..(i + 1) * d].to_vec())
            } else {
                Err(format!("test image #{i} is not among the encoded images"))
            }
        } else if let Some(fit) = run
            .views
            .aligned
            .as_ref()
            .and_then(|a| a.fit.as_ref().ok())
            .filter(|f| f.target_dim == self.z.len())
        {
            // Aligned runs: the sliders' vector is in the focused run's coordinates.
            Ok(fit.map_back(&self.z))
        } else if self.z.len() == d {
            Ok(self.z.clone())
        } else {
            Err(format!(
                "latent size {d} ≠ the sliders' {}: not decoded",
                self.z.len()
            ))
        }
    }

    /// Whether each run shows its own code (of a test digit or of the input) rather than
    /// one explicit vector.
    pub fn follows_codes(&self) -> bool {
        self.follow_digit || self.follow_input
    }

    /// Stop following codes: the sliders hold one explicit vector.
    pub fn set_explicit(&mut self, z: Vec<f32>) {
        self.z = z;
        self.follow_digit = false;
        self.follow_input = false;
    }

    /// The values the sliders show: `focused`'s code of the digit, or the explicit vector
    /// (the base point, before an attribute direction moves it).
    pub fn slider_values(&self, focused: Option<&Run>) -> Vec<f32> {
        match focused {
            Some(run) if self.follows_codes() => self
                .base_for(run)
                .unwrap_or_else(|_| vec![0.0; run.latent_dim()]),
            Some(run) if self.z.len() != run.latent_dim() => vec![0.0; run.latent_dim()],
            _ => self.z.clone(),
        }
    }
}

/// The runs of the workspace.
pub struct Runs {
    list: Vec<Run>,
    next_id: u32,
    /// The run the focus layout shows and live edits apply to.
    pub focused: Option<RunId>,
    /// The run the metrics table computes deltas against.
    pub baseline: Option<RunId>,
    /// The shared latent point.
    pub cursor: LatentCursor,
    /// The epoch scrubber: show every run as it was at the end of this epoch (None: live).
    pub scrub: Option<usize>,
    /// Test digits selected on the latent map, highlighted in every run's map.
    pub selection: std::collections::BTreeSet<usize>,
    /// The user's input image (drawn or loaded), fitted to the data's image size.
    pub input: Option<std::sync::Arc<Vec<f32>>>,
    /// Where the input came from (a file name, or "drawing").
    pub input_source: String,
    /// The sweep directories followed, in the order they were opened.
    pub sweeps: Vec<FollowedSweep>,
    next_sweep: u32,
    /// Where the runs trained here are autosaved (none: the platform has no data
    /// directory).
    pub autosave_dir: Option<std::path::PathBuf>,
    /// How long a removal can be undone (see [`Removed`]).
    pub undo_window: Duration,
    /// The run removed last, while its removal can be undone (a run whose weights live
    /// only in this app: its autosave is deleted once this lapses).
    pub removed: Option<Removed>,
    /// Rescore presses: each asks every run's anomaly scores again.
    pub rescores: u64,
    /// Reembed presses: each asks every run's t-SNE embedding again.
    pub reembeds: u64,
    /// Inputs set: each is encoded again, even with the same pixels.
    pub inputs_set: u64,
}

/// How long a removed run whose weights live only in the app can be brought back with Undo,
/// by default; its autosave is deleted after.
pub const UNDO_WINDOW: Duration = Duration::from_secs(10);

/// A removed run kept whole (paused, its autosave on disk) until its Undo lapses.
pub struct Removed {
    /// The run, as it was.
    pub run: Run,
    /// Its place in the list.
    pub index: usize,
    /// Whether it had the focus, and was the baseline.
    pub focused: bool,
    /// Whether it was the metrics table's baseline.
    pub baseline: bool,
    /// Whether it was training (Undo resumes it).
    pub resume: bool,
    /// When the Undo lapses.
    pub until: Instant,
}

impl Default for Runs {
    fn default() -> Self {
        Self {
            list: Vec::new(),
            next_id: 1,
            focused: None,
            baseline: None,
            cursor: LatentCursor::default(),
            scrub: None,
            selection: Default::default(),
            input: None,
            input_source: String::new(),
            sweeps: Vec::new(),
            next_sweep: 1,
            removed: None,
            undo_window: UNDO_WINDOW,
            autosave_dir: None,
            rescores: 0,
            reembeds: 0,
            inputs_set: 0,
        }
    }
}

impl Runs {
    /// A fresh identity for the next run.
    pub fn next_id(&mut self) -> RunId {
        let id = RunId(self.next_id);
        self.next_id += 1;
        id
    }

    /// A fresh identity for the next sweep followed.
    pub fn next_sweep_id(&mut self) -> SweepId {
        let id = SweepId(self.next_sweep);
        self.next_sweep += 1;
        id
    }

    /// A followed sweep.
    pub fn sweep(&self, id: SweepId) -> Option<&FollowedSweep> {
        self.sweeps.iter().find(|s| s.id == id)
    }

    /// A followed sweep, mutably.
    pub fn sweep_mut(&mut self, id: SweepId) -> Option<&mut FollowedSweep> {
        self.sweeps.iter_mut().find(|s| s.id == id)
    }

    /// Whether `run`'s images are decoded and shown: the focused run always, any other
    /// when its [`Run::show_views`] says so (every run but a sweep's, unless asked).
    pub fn shows_views(&self, run: &Run) -> bool {
        run.show_views || self.focused == Some(run.id)
    }

    /// The colour for the next run: the first palette colour no run uses.
    pub fn next_colour(&self) -> eframe::egui::Color32 {
        PALETTE
            .iter()
            .copied()
            .find(|c| self.list.iter().all(|r| r.colour != *c))
            .unwrap_or(PALETTE[self.list.len() % PALETTE.len()])
    }

    /// Add a run; the first run added gets the focus and becomes the baseline.
    pub fn add(&mut self, run: Run) {
        if self.focused.is_none() {
            self.focused = Some(run.id);
        }
        if self.baseline.is_none() {
            self.baseline = Some(run.id);
        }
        self.list.push(run);
    }

    /// Take a run out (focus and baseline move to the first remaining run).
    pub fn remove(&mut self, id: RunId) -> Option<Run> {
        let i = self.list.iter().position(|r| r.id == id)?;
        let run = self.list.remove(i);
        let first = self.list.first().map(|r| r.id);
        if self.focused == Some(id) {
            self.focused = first;
        }
        if self.baseline == Some(id) {
            self.baseline = first;
        }
        Some(run)
    }

    /// Whether `run`'s weights live only in this app: trained here, or reopened from its
    /// autosave (removing it for good deletes that, its only copy).
    pub fn only_here(&self, run: &Run) -> bool {
        match &run.source {
            super::run::RunSource::Training(_) => true,
            super::run::RunSource::Loaded { path, .. } => self
                .autosave_dir
                .as_deref()
                .is_some_and(|d| path.starts_with(d)),
            _ => false,
        }
    }

    /// Where `id` is in the list.
    pub fn position(&self, id: RunId) -> Option<usize> {
        self.list.iter().position(|r| r.id == id)
    }

    /// Put a run back at `index` (or last), as [`Runs::add`] does otherwise.
    pub fn insert(&mut self, index: usize, run: Run) {
        self.add(run);
        let last = self.list.len() - 1;
        if index < last {
            let r = self.list.remove(last);
            self.list.insert(index, r);
        }
    }

    /// All runs, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &Run> {
        self.list.iter()
    }

    /// All runs, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Run> {
        self.list.iter_mut()
    }

    /// Identities in order.
    pub fn ids(&self) -> Vec<RunId> {
        self.list.iter().map(|r| r.id).collect()
    }

    /// One run.
    pub fn get(&self, id: RunId) -> Option<&Run> {
        self.list.iter().find(|r| r.id == id)
    }

    /// One run, mutably.
    pub fn get_mut(&mut self, id: RunId) -> Option<&mut Run> {
        self.list.iter_mut().find(|r| r.id == id)
    }

    /// The focused run.
    pub fn focused_run(&self) -> Option<&Run> {
        self.focused.and_then(|id| self.get(id))
    }

    /// How many runs.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// How many test digits the digit field, the digit shortcuts and the path's ends go
    /// through: those whose codes the runs compute ([`STATS_DIGITS`] at most), in the
    /// focused run's data.
    pub fn digit_count(&self) -> usize {
        self.focused_run()
            .map_or(STATS_DIGITS, |r| r.data.test.len())
            .clamp(1, STATS_DIGITS)
    }

    /// The newest kept epoch over all runs (the scrubber's range).
    pub fn max_epoch(&self) -> usize {
        self.list
            .iter()
            .filter_map(|r| r.epochs.last())
            .max()
            .unwrap_or(0)
    }
}
