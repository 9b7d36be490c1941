//! The lane policy: whether a split batch's parts run on the CPU lanes or inline, chosen by
//! measured step time (see [`LanePolicy`]).

/// Chooses, by measured step time, whether a split batch's parts run side by side on the
/// lanes or one after another on the trainer's thread (the same numbers either way). On an
/// idle machine the lanes win; while a software-rendered window takes both cores, the
/// low-priority lanes get the CPU late and every hand-off waits, and the trainer's own
/// thread wins. After a stretch of [`LanePolicy::PERIOD`] steps (doubled, up to
/// [`LanePolicy::LONGEST`], each time a probe confirms the choice) the other way is tried
/// for [`LanePolicy::PROBE`] steps.
#[derive(Debug, Clone)]
pub(super) struct LanePolicy {
    /// Smoothed seconds per image of recent steps, on the lanes and inline.
    cost: [Option<f64>; 2],
    /// Whether steps now run on the lanes.
    pub(super) lanes: bool,
    /// Steps left in the current stretch.
    left: u32,
    /// Whether the current stretch is a probe of the other way.
    probing: bool,
    /// Steps of the next stretch between probes.
    period: u32,
    /// The chosen way's cost when it was chosen: a stretch ends early (with a probe) when
    /// its cost grows half as much again, e.g. when a window starts taking the CPU.
    chosen: Option<f64>,
}

impl LanePolicy {
    const PERIOD: u32 = 96;
    const LONGEST: u32 = 16 * Self::PERIOD;
    const PROBE: u32 = 3;

    pub(super) fn new() -> Self {
        Self {
            cost: [None, None],
            lanes: true,
            left: Self::PERIOD,
            probing: false,
            period: Self::PERIOD,
            chosen: None,
        }
    }

    /// Record a split step's seconds per image, then pick the way of the next step.
    pub(super) fn record(&mut self, secs_per_image: f64) {
        let slot = &mut self.cost[usize::from(!self.lanes)];
        *slot = Some(match *slot {
            Some(c) => 0.7 * c + 0.3 * secs_per_image,
            None => secs_per_image,
        });
        self.left = self.left.saturating_sub(1);
        let now = self.cost[usize::from(!self.lanes)];
        if !self.probing
            && let (Some(now), Some(chosen)) = (now, self.chosen)
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
            // Back to the faster way for a stretch: longer each time the way stays.
            let before = !self.lanes;
            if let [Some(on_lanes), Some(inline)] = self.cost {
                self.lanes = on_lanes <= inline;
            }
            self.period = if self.lanes == before {
                (self.period * 2).min(Self::LONGEST)
            } else {
                Self::PERIOD
            };
            self.probing = false;
            self.left = self.period;
            self.chosen = self.cost[usize::from(!self.lanes)];
        } else {
            self.lanes = !self.lanes;
            self.probing = true;
            self.left = Self::PROBE;
        }
    }
}
