//! KL-weight schedules: constant, linear warm-up and cyclical annealing (Fu et al. 2019).

use serde::{Deserialize, Serialize};

/// Shape of the rising part of each cycle of a cyclical schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum CycleShape {
    /// `w = x`.
    Linear,
    /// `w = ½ − ½ cos(π x)`.
    Cosine,
    /// `w = 1 / (1 + exp(−(12 x − 6)))`, as in Fu et al.'s reference code.
    Sigmoid,
}

/// A schedule for the weight multiplying the KL term (before β), in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KlSchedule {
    /// Always 1.
    #[default]
    Constant,
    /// Rises linearly from 0 at step 0 to 1 at `warmup_steps`, then stays at 1.
    Linear {
        /// Steps to reach full weight.
        warmup_steps: u64,
    },
    /// Fu et al. 2019: `total_steps` split into `cycles` periods; within each, the weight
    /// rises over the first `ratio` of the period (with `shape`) and then holds at 1.
    Cyclical {
        /// Length of the whole run in steps.
        total_steps: u64,
        /// Number of cycles M.
        cycles: u32,
        /// Fraction R of each cycle spent rising, in `(0, 1]`.
        ratio: f64,
        /// Shape of the rise.
        shape: CycleShape,
    },
}

impl KlSchedule {
    /// Check the parameters; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Self::Constant => Ok(()),
            Self::Linear { warmup_steps: 0 } => Err("linear warm-up needs warmup_steps > 0".into()),
            Self::Linear { .. } => Ok(()),
            Self::Cyclical {
                total_steps,
                cycles,
                ratio,
                ..
            } => {
                if cycles == 0 {
                    Err("cyclical schedule needs cycles > 0".into())
                } else if total_steps < cycles as u64 {
                    Err(format!(
                        "cyclical schedule needs total_steps ({total_steps}) ≥ cycles ({cycles})"
                    ))
                } else if !(ratio > 0.0 && ratio <= 1.0) {
                    Err(format!("cyclical ratio {ratio} must be in (0, 1]"))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The weight at 0-based `step`.
    pub fn weight(&self, step: u64) -> f64 {
        match *self {
            Self::Constant => 1.0,
            Self::Linear { warmup_steps } => (step as f64 / warmup_steps.max(1) as f64).min(1.0),
            Self::Cyclical {
                total_steps,
                cycles,
                ratio,
                shape,
            } => {
                let period = total_steps as f64 / cycles.max(1) as f64;
                let tau = (step as f64 % period) / period;
                if tau >= ratio {
                    return 1.0;
                }
                let x = tau / ratio;
                match shape {
                    CycleShape::Linear => x,
                    CycleShape::Cosine => 0.5 - 0.5 * (std::f64::consts::PI * x).cos(),
                    CycleShape::Sigmoid => 1.0 / (1.0 + (-(12.0 * x - 6.0)).exp()),
                }
            }
        }
    }
}

impl std::fmt::Display for KlSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Constant => write!(f, "constant"),
            Self::Linear { warmup_steps } => write!(f, "linear warm-up over {warmup_steps} steps"),
            Self::Cyclical {
                total_steps,
                cycles,
                ratio,
                shape,
            } => write!(
                f,
                "cyclical ({cycles} cycles over {total_steps} steps, R={ratio}, {shape:?})"
            ),
        }
    }
}
