//! The lane policy: whether a split batch's parts run on the CPU lanes or inline, chosen by
//! measured step time (see [`LanePolicy`]).

/// Chooses, by measured step time, whether a split batch's parts run side by side on the
/// lanes or one after another on the trainer's thread (the same numbers either way). On an
/// idle machine the lanes win; while a software-rendered window takes both cores, the
/// low-priority lanes get the CPU late and every hand-off waits, and the trainer's own
/// thread wins. After a stretch of [`LanePolicy::PERIOD`] steps (doubled, up to
/// [`LanePolicy::LONGEST`], each time a probe confirms the choice) the other way is tried
/// for [`LanePolicy::PROBE`] steps.
///
/// Each way's cost is the **median** of its recent steps, not a running mean: on a shared
/// machine single steps take ten times as long now and then (a neighbour takes the core),
/// and one such step in a running mean made the policy leave the faster way for a stretch
/// (measured: two lanes at 69k images/s left for one thread at 37k). The first step after
/// each change of way is not counted either: it pays for the change (lanes waking up,
/// caches filling).
///
/// A probe that beats the current way is **confirmed** before the policy moves: the current
/// way runs [`LanePolicy::PROBE`] steps more, and the policy changes only if the probe also
/// beats those. Without it a neighbour that slowed the machine for a few steps sent an
/// idle machine's two lanes (2.4 ms a step) to one thread (3.4 ms) for a whole stretch:
/// the slow steps set off the probe, and the probe, run after they ended, was compared
/// with them (`bench --threads 2`, MLP: 29–33k images/s against 47–56k on the lanes).
#[derive(Debug, Clone)]
pub struct LanePolicy {
    /// Seconds per image of recent steps on the lanes (`[0]`) and inline (`[1]`): the
    /// current stretch's last [`LanePolicy::RECENT`], and the other way's last probe.
    samples: [Vec<f64>; 2],
    /// Whether steps now run on the lanes.
    lanes: bool,
    /// Steps left in the current stretch.
    left: u32,
    /// Whether the current stretch is a probe of the other way.
    probing: bool,
    /// The cost of a probe that beat the way before it, while that way runs again to confirm
    /// it ([`LanePolicy::PROBE`] steps): the policy moves only if the probe beats these too.
    confirming: Option<f64>,
    /// Steps of the next stretch between probes.
    period: u32,
    /// The chosen way's cost when it was chosen: a stretch ends early (with a probe) when
    /// the median of its last [`LanePolicy::RECENT`] steps grows half as much again, e.g.
    /// when a window starts taking the CPU.
    chosen: Option<f64>,
    /// Whether the next step is the first of its way after a change (not counted).
    fresh: bool,
    /// Steps counted since the way was last chosen: a stretch ends early only on
    /// [`LanePolicy::RECENT`] steps of its own (else the samples that ended the last
    /// stretch would end every one after it, each after a step).
    counted: usize,
}

impl Default for LanePolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl LanePolicy {
    /// Steps of the first stretch, and of every stretch after a change of way.
    pub const PERIOD: u32 = 96;
    /// The longest stretch between probes.
    pub const LONGEST: u32 = 16 * Self::PERIOD;
    /// Steps of a probe of the other way (the first not counted).
    pub const PROBE: u32 = 4;
    /// Steps of a way whose median is its cost (odd: the median is one of them).
    pub const RECENT: usize = 7;

    /// A policy that starts on the lanes.
    pub fn new() -> Self {
        Self {
            samples: [Vec::new(), Vec::new()],
            lanes: true,
            left: Self::PERIOD,
            probing: false,
            confirming: None,
            period: Self::PERIOD,
            chosen: None,
            fresh: true,
            counted: 0,
        }
    }

    /// Whether the next split step runs on the lanes (else inline).
    pub fn lanes(&self) -> bool {
        self.lanes
    }

    /// Record a split step's seconds per image, then pick the way of the next step.
    pub fn record(&mut self, secs_per_image: f64) {
        let way = usize::from(!self.lanes);
        if std::mem::take(&mut self.fresh) {
            // The change of way's own cost: not this way's.
        } else if secs_per_image.is_finite() {
            let s = &mut self.samples[way];
            s.push(secs_per_image);
            self.counted += 1;
            if s.len() > Self::RECENT {
                s.remove(0);
            }
        }
        self.left = self.left.saturating_sub(1);
        if !self.probing
            && self.confirming.is_none()
            && self.counted >= Self::RECENT
            && let Some(chosen) = self.chosen
            && let Some(now) = median(&self.samples[way])
            && now > 1.5 * chosen
        {
            // The machine changed: look again now, and often for a while.
            self.left = 0;
            self.period = Self::PERIOD;
        }
        if self.left > 0 {
            return;
        }
        if self.probing {
            self.probing = false;
            let probed = median(&self.samples[way]);
            let before = median(&self.samples[1 - way]);
            // Back to the way before the probe: for a stretch if the probe lost, for a
            // confirmation if it won.
            self.lanes = !self.lanes;
            self.fresh = true;
            match (probed, before) {
                (Some(probed), Some(before)) if probed < before => {
                    self.samples[1 - way].clear();
                    self.confirming = Some(probed);
                    self.left = Self::PROBE;
                }
                _ => self.stay(before),
            }
        } else if let Some(probed) = self.confirming.take() {
            let now = median(&self.samples[way]);
            if now.is_some_and(|now| probed < now) {
                // Confirmed: the probed way, whose samples are the probe's.
                self.lanes = !self.lanes;
                self.period = Self::PERIOD;
                self.left = self.period;
                self.chosen = Some(probed);
                self.counted = 0;
                self.fresh = true;
            } else {
                self.stay(now);
            }
        } else {
            self.lanes = !self.lanes;
            self.samples[usize::from(!self.lanes)].clear();
            self.probing = true;
            self.left = Self::PROBE;
            self.fresh = true;
        }
    }

    /// Keep the current way for a stretch twice as long as the last (the probe lost), at
    /// `cost`.
    fn stay(&mut self, cost: Option<f64>) {
        self.period = (self.period * 2).min(Self::LONGEST);
        self.left = self.period;
        self.chosen = cost;
        self.counted = 0;
    }
}

/// The median of `v` (`None` when it is empty).
fn median(v: &[f64]) -> Option<f64> {
    crate::stats::median_range(v).map(|(m, _, _)| m)
}
