//! The slider image: the cursor's latent vector decoded by every run (on the CPU, on the
//! UI thread when that is fast, so the image changes in the frame of the drag).

use std::time::{Duration, Instant};

use super::view::{Ctx, DerivedView, NoView};
use crate::ui::decoder::{self, Job, Output, ViewKey};
use crate::ui::run::Run;
use crate::ui::settings::CompareTab;

/// Longest a slider decode may take on the UI thread before decoding moves off it.
const INLINE_DECODE_BUDGET: Duration = Duration::from_millis(3);
/// Inline slider decodes over budget in a row after which the run decodes on its thread.
const INLINE_SLOW_LIMIT: u8 = 3;

/// The slider image view.
pub struct Slider;

impl DerivedView for Slider {
    fn key(&self) -> ViewKey {
        ViewKey::Slider
    }

    fn wanted(&self, run: &Run, ctx: &Ctx<'_>) -> bool {
        ctx.shows_latents(run) || ctx.shows_tab(run, CompareTab::Input)
    }

    fn encodes_data(&self) -> bool {
        false
    }

    fn job(&self, _run: &Run, ctx: &Ctx<'_>) -> Result<Job, NoView> {
        let z = ctx.latent.clone().map_err(NoView)?;
        Ok(Job::Decode {
            z,
            n: 1,
            label: Some(ctx.cursor.label),
        })
    }

    /// A run's own code is asked for again when the codes are redone.
    fn redo_on_new_weights(&self, _run: &Run, ctx: &Ctx<'_>) -> bool {
        !ctx.cursor.follows_codes()
    }
}

/// On the CPU, decode the slider's single image on the UI thread when that is fast (it
/// usually takes ~0.1 ms), so the image changes in the same frame as the drag.
/// [`INLINE_SLOW_LIMIT`] decodes in a row slower than [`INLINE_DECODE_BUDGET`] turn this
/// off for the run; its decode thread then delivers the image a frame later. Returns
/// whether the image was decoded here.
pub fn decode_inline(run: &mut Run, id: u64, job: &Job, device: &burn::tensor::Device) -> bool {
    if !run.views.inline_decode {
        return false;
    }
    let Some(snap) = run.shown() else {
        return false;
    };
    let t0 = Instant::now();
    let out = decoder::execute(
        ViewKey::Slider,
        id,
        job,
        &snap,
        &run.data,
        device,
        false,
        t0,
    );
    if t0.elapsed() > INLINE_DECODE_BUDGET {
        run.views.inline_slow += 1;
        if run.views.inline_slow >= INLINE_SLOW_LIMIT {
            run.views.inline_decode = false;
        }
    } else {
        run.views.inline_slow = 0;
    }
    match out {
        Output::Images(key, img) => {
            run.set_image(key, img);
            true
        }
        _ => false,
    }
}
