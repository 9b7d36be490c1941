//! Sweeps: a grid of runs described in one file ([`spec`]), planned into a sweep directory
//! of run directories ([`plan`]), each run brought to its end by one task ([`task`]) that
//! a launcher starts — child processes here ([`local`]) or a Slurm array job ([`slurm`]) —
//! and read back ([`status`], [`summary`]) without retraining. Slurm schedules; the product
//! describes, submits, resumes and shows.

pub mod follow;
pub mod local;
pub mod plan;
pub mod slurm;
pub mod spec;
pub mod status;
pub mod summary;
pub mod task;

pub use plan::{
    PLAN_FILE, Plan, PlanEntry, PlanError, Planned, RUNS_DIR, SWEEP_FILE, group_key, group_label,
    is_sweep_dir,
};
pub use spec::{PlannedRun, SpecError, SweepSpec};
pub use status::{RunState, RunStatus, sweep_status};
