//! The persisted app settings (eframe's RON): any text gives settings inside the ranges the
//! controls offer, or an error, never a panic.
#![no_main]

use latent_explorer::ui::settings::Persisted;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Persisted::from_ron(text) {
        assert!((2..=32).contains(&p.view.grid_size));
        assert!((1..=32).contains(&p.view.matrix_rows));
        assert!(p.view.explore.fps.is_finite());
        assert!(p.workspace.recent.len() <= latent_explorer::ui::settings::MAX_RECENT);
        assert!(p.view.explore.traversal_range.validate().is_ok());
        // What is accepted saves and reads back the same (compared as text: the next run's
        // hyperparameters may hold a NaN, refused when that run starts).
        let again = ron::to_string(&p).expect("settings serialise");
        let back = Persisted::from_ron(&again).expect("saved settings read back");
        assert_eq!(ron::to_string(&back).expect("settings serialise"), again);
    }
});
