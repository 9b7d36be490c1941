//! The Collapse and Gap tabs in the app: the gap is computed only while its tab shows (one
//! job per run, the library's gaps of the shown weights), and neither tab costs a job while
//! closed.

use std::path::PathBuf;

use latent_explorer::explore::{CollapseTimeline, amortisation_gaps};
use latent_explorer::ui::decoder::ViewKey;
use latent_explorer::ui::settings::{CompareTab, STATS_DIGITS};

use crate::app::{harness, options, quiesce, run_until, trained_checkpoint};
use crate::common::cpu;

#[test]
fn the_gap_is_asked_for_only_while_its_tab_shows_and_matches_the_library() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("collapse_app");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (ckpt, _, _) = trained_checkpoint(&dir, 1);
    let mut opts = options(1000, 50, 20);
    opts.autostart = false;
    opts.open = vec![ckpt.clone(), ckpt];
    let mut h = harness(opts);
    run_until(&mut h, 120, "both runs' codes", |a| {
        a.runs.len() == 2 && a.runs.iter().all(|r| r.views.stats.is_some())
    });
    quiesce(&mut h);
    // The latents and collapse tabs ask for no gap.
    for tab in [CompareTab::Latents, CompareTab::Collapse] {
        h.state_mut().persisted.view.compare_tab = tab;
        h.run_steps(3);
        quiesce(&mut h);
        for r in h.state().runs.iter() {
            assert!(
                !r.views.requested.contains_key(&ViewKey::Gap) && r.views.gap.is_none(),
                "{tab:?}: a gap was asked for"
            );
            // The collapse tab's matrix: the checkpoint's one evaluation.
            let t = CollapseTimeline::of_history(&r.history).unwrap();
            assert_eq!(t.len(), r.history.epochs.len());
            assert_eq!(t.dim, r.latent_dim());
        }
    }
    // The gap tab: every shown run scores its test images once, as the library does.
    {
        let v = &mut h.state_mut().persisted.view;
        v.compare_tab = CompareTab::Gap;
        v.explore.gap_k = 3;
        v.explore.gap_seed = 5;
    }
    run_until(&mut h, 120, "both runs' gaps", |a| {
        a.runs.iter().all(|r| r.views.gap.is_some())
    });
    let app = h.state();
    let data = app.data().clone();
    for r in app.runs.iter() {
        let got = &r.views.gap.as_ref().unwrap().report;
        let snap = r.shown().expect("weights shown");
        let want = amortisation_gaps(
            &snap.model,
            snap.config.model.likelihood,
            &data.test,
            STATS_DIGITS,
            3,
            5,
            &cpu(),
        )
        .unwrap();
        assert_eq!((got.k, got.len()), (3, data.test.len()));
        assert_eq!(got, &want, "the app's gaps differ from the library's");
    }
    // Back to the latents tab: the gap is not asked again.
    let asked: Vec<Option<u64>> = app
        .runs
        .iter()
        .map(|r| r.views.requested.get(&ViewKey::Gap).copied())
        .collect();
    h.state_mut().persisted.view.compare_tab = CompareTab::Latents;
    h.run_steps(3);
    quiesce(&mut h);
    let after: Vec<Option<u64>> = h
        .state()
        .runs
        .iter()
        .map(|r| r.views.requested.get(&ViewKey::Gap).copied())
        .collect();
    assert_eq!(asked, after, "the gap was asked again with its tab closed");
}
