//! KL schedules against their formulas.

use latent_explorer::variant::{CycleShape, KlSchedule};

/// Fu et al. 2019, eq. in §4 / reference code `frange_cycle_*`: with period T/M and
/// τ = (t mod (T/M)) / (T/M), β = f(τ/R) for τ < R and 1 afterwards.
fn reference(t: u64, total: u64, m: u32, r: f64, shape: CycleShape) -> f64 {
    let period = total as f64 / m as f64;
    let tau = (t as f64 % period) / period;
    if tau >= r {
        return 1.0;
    }
    let x = tau / r;
    match shape {
        CycleShape::Linear => x,
        CycleShape::Cosine => 0.5 - 0.5 * (std::f64::consts::PI * x).cos(),
        CycleShape::Sigmoid => 1.0 / (1.0 + (6.0 - 12.0 * x).exp()),
    }
}

#[test]
fn cyclical_schedule_matches_the_formula() {
    // T = 1000 steps, M = 4 cycles (period 250), R = 0.5 (rise over 125 steps).
    let s = |shape| KlSchedule::Cyclical {
        total_steps: 1000,
        cycles: 4,
        ratio: 0.5,
        shape,
    };
    let lin = s(CycleShape::Linear);
    // Hand-computed points.
    assert_eq!(lin.weight(0), 0.0);
    assert!((lin.weight(25) - 0.2).abs() < 1e-12);
    assert!((lin.weight(62) - 62.0 / 125.0).abs() < 1e-12);
    assert_eq!(lin.weight(125), 1.0);
    assert_eq!(lin.weight(249), 1.0);
    assert_eq!(lin.weight(250), 0.0);
    assert!((lin.weight(300) - 0.4).abs() < 1e-12);
    assert_eq!(lin.weight(999), 1.0);
    let cos = s(CycleShape::Cosine);
    assert!(
        (cos.weight(62) - (0.5 - 0.5 * (std::f64::consts::PI * 62.0 / 125.0).cos())).abs() < 1e-12
    );
    assert!((cos.weight(250 + 125 / 2) - cos.weight(125 / 2)).abs() < 1e-12);
    let sig = s(CycleShape::Sigmoid);
    assert!(
        (sig.weight(500 + 62) - 1.0 / (1.0 + (6.0 - 12.0 * 62.0 / 125.0f64).exp())).abs() < 1e-12
    );
    for shape in [CycleShape::Linear, CycleShape::Cosine, CycleShape::Sigmoid] {
        let sch = s(shape);
        for t in (0..1000).step_by(7) {
            let (got, want) = (sch.weight(t), reference(t, 1000, 4, 0.5, shape));
            assert!(
                (got - want).abs() < 1e-12,
                "{shape:?} t={t}: {got} vs {want}"
            );
            assert!((0.0..=1.0).contains(&got));
        }
    }
}

#[test]
fn linear_warmup_and_constant() {
    let s = KlSchedule::Linear { warmup_steps: 100 };
    assert_eq!(s.weight(0), 0.0);
    assert!((s.weight(30) - 0.3).abs() < 1e-12);
    assert_eq!(s.weight(100), 1.0);
    assert_eq!(s.weight(10_000), 1.0);
    assert_eq!(KlSchedule::Constant.weight(12345), 1.0);
}

#[test]
fn invalid_schedules_are_rejected_with_reasons() {
    let bad = [
        KlSchedule::Linear { warmup_steps: 0 },
        KlSchedule::Cyclical {
            total_steps: 100,
            cycles: 0,
            ratio: 0.5,
            shape: CycleShape::Linear,
        },
        KlSchedule::Cyclical {
            total_steps: 100,
            cycles: 4,
            ratio: 1.5,
            shape: CycleShape::Linear,
        },
    ];
    for s in bad {
        let e = s.validate().unwrap_err();
        assert!(!e.is_empty(), "{s:?}");
    }
}
