//! Aligned runs: with "Aligned" on, every shown run's codes of the test images are fitted
//! onto the focused run's by orthogonal Procrustes ([`crate::explore::align`]), and the
//! focused run's map frame is chained through its codes' updates (each newer set of codes
//! fitted onto the set shown before it, e.g. epoch by epoch with the scrubber). A fit is
//! redone only when either run's codes change; with the toggle off nothing is kept.

use std::sync::Arc;

use super::run::{AlignedTo, MapFrame, Run, RunId};
use super::runs::Runs;
use crate::explore;

/// Fit what changed since the last frame (nothing when `on` is false: every fit and frame
/// is dropped). Each frame only compares steps; codes are copied and fitted only when a
/// run's or the focused run's codes changed.
pub fn update(runs: &mut Runs, on: bool) {
    let focused = runs.focused;
    let key = focused.and_then(|id| {
        let s = runs.get(id)?.views.stats.as_ref()?;
        Some((id, s.step, s.latent, s.codes.len()))
    });
    let (Some((fid, step, dim, len)), true) = (key, on) else {
        for run in runs.iter_mut() {
            run.views.aligned = None;
            run.views.frame = None;
        }
        return;
    };
    let stale = runs.iter().any(|run| {
        if run.id == fid {
            !run.views
                .frame
                .as_ref()
                .is_some_and(|f| f.step == step && f.dim == dim && f.codes.len() == len)
        } else {
            run.views.frame.is_some()
                || match (&run.views.aligned, &run.views.stats) {
                    (Some(a), Some(s)) => a.reference != fid || a.steps != (step, s.step),
                    (None, Some(_)) => true,
                    (_, None) => run.views.aligned.is_some(),
                }
        }
    });
    if !stale {
        return;
    }
    let Some(reference) = reference_of(runs, fid) else {
        return;
    };
    for run in runs.iter_mut() {
        if run.id == fid {
            run.views.aligned = None;
            refresh_frame(run, &reference);
        } else {
            run.views.frame = None;
            refresh_fit(run, &reference);
        }
    }
}

/// What the other runs are fitted onto: the focused run's codes.
struct Reference {
    id: RunId,
    step: u64,
    dim: usize,
    codes: Arc<Vec<f32>>,
    principal: Vec<Vec<f32>>,
}

fn reference_of(runs: &Runs, id: RunId) -> Option<Reference> {
    let s = runs.get(id)?.views.stats.as_ref()?;
    Some(Reference {
        id,
        step: s.step,
        dim: s.latent,
        codes: Arc::new(s.codes.clone()),
        principal: s.principal.clone(),
    })
}

/// The focused run's frame: started on its codes, then each newer set of codes fitted onto
/// the frame's codes before it.
fn refresh_frame(run: &mut Run, r: &Reference) {
    let up_to_date = run
        .views
        .frame
        .as_ref()
        .is_some_and(|f| f.step == r.step && f.dim == r.dim && f.codes.len() == r.codes.len());
    if up_to_date {
        return;
    }
    let chained = run
        .views
        .frame
        .as_ref()
        .filter(|f| f.dim == r.dim && f.codes.len() == r.codes.len())
        .and_then(|f| {
            let fit = explore::align(&r.codes, r.dim, &f.codes, r.dim).ok()?;
            Some(MapFrame {
                step: r.step,
                dim: r.dim,
                codes: Arc::new(fit.map_all(&r.codes)),
                to_frame: Some(fit),
                principal: f.principal.clone(),
                links: f.links + 1,
            })
        });
    let frame = chained.unwrap_or_else(|| MapFrame {
        step: r.step,
        dim: r.dim,
        codes: r.codes.clone(),
        to_frame: None,
        principal: r.principal.clone(),
        links: 0,
    });
    run.views.frame = Some(Arc::new(frame));
}

/// Another run's fit onto the focused run's codes (redone when either's codes change).
fn refresh_fit(run: &mut Run, r: &Reference) {
    let Some(s) = run.views.stats.as_ref() else {
        run.views.aligned = None;
        return;
    };
    let steps = (r.step, s.step);
    // A failed fit is kept too: tried again only when the codes change.
    let fresh = run
        .views
        .aligned
        .as_ref()
        .is_some_and(|a| a.reference == r.id && a.steps == steps);
    if fresh {
        return;
    }
    run.views.aligned = Some(Arc::new(AlignedTo {
        reference: r.id,
        steps,
        fit: explore::align(&s.codes, s.latent, &r.codes, r.dim).map_err(|e| e.to_string()),
        principal: r.principal.clone(),
    }));
}

/// How one of `run`'s codes maps into the focused run's map `frame`: the run's fit onto
/// the focused run, then the focused run's chain (the focused run itself: the chain only).
/// `None` when the run has no fit (yet, or it failed).
pub fn to_frame<'a>(run: &'a Run, frame: &'a MapFrame) -> Option<impl Fn(&[f32]) -> Vec<f32> + 'a> {
    let fit = if run.views.frame.is_some() {
        None
    } else {
        Some(run.views.aligned.as_ref()?.fit.as_ref().ok()?)
    };
    Some(move |z: &[f32]| {
        let z = match fit {
            Some(f) => f.map(z),
            None => z.to_vec(),
        };
        match &frame.to_frame {
            Some(t) => t.map(&z),
            None => z,
        }
    })
}

/// One line per run of how its fit went (for hover help).
pub fn fit_lines(runs: &Runs) -> Vec<String> {
    runs.iter()
        .filter_map(|run| {
            if Some(run.id) == runs.focused {
                let f = run.views.frame.as_ref()?;
                return Some(format!(
                    "{}: the reference frame ({} code updates chained)",
                    run.name, f.links
                ));
            }
            Some(match &run.views.aligned.as_ref()?.fit {
                Ok(fit) => format!(
                    "{}: relative residual {:.3}, mean |corr| after alignment {:.2}, top canonical correlation {:.2}",
                    run.name,
                    fit.residual,
                    fit.mean_aligned_corr(),
                    fit.canonical.first().copied().unwrap_or(0.0)
                ),
                Err(e) => format!("{}: not aligned: {e}", run.name),
            })
        })
        .collect()
}
