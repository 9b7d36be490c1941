//! Issue 28's models: the capacity-annealed β-VAE (its KL follows the rising capacity) and
//! DIP-VAE I and II (their penalty against a host computation; their codes' covariance
//! nearer the identity than a VAE's at the same budget).

use latent_explorer::explore::encode_split;
use latent_explorer::model::ArchConfig;
use latent_explorer::train::{TrainConfig, Trainer};
use latent_explorer::variant::{
    CapacityVae, VariantKind, VariantParams, dip_covariance, dip_penalty,
};

use crate::common::{Lcg, cpu, scalar, small, t2, vec_of};

fn config(variant: VariantKind, latent: usize, params: VariantParams) -> TrainConfig {
    let mut cfg = TrainConfig {
        variant,
        beta: variant.default_beta(),
        batch_size: 100,
        variant_params: params,
        ..TrainConfig::default()
    };
    cfg.model.arch = ArchConfig::Mlp { hidden: vec![128] };
    cfg.model.latent_dim = latent;
    cfg
}

/// Host covariance of rows `[b, d]` (divided by b), plus the mean of `exp(logvar)` on the
/// diagonal when `second`.
fn host_cov(mu: &[f32], logvar: &[f32], b: usize, d: usize, second: bool) -> Vec<f64> {
    let mean: Vec<f64> = (0..d)
        .map(|j| (0..b).map(|i| mu[i * d + j] as f64).sum::<f64>() / b as f64)
        .collect();
    let mut c = vec![0.0; d * d];
    for i in 0..b {
        for p in 0..d {
            for q in 0..d {
                c[p * d + q] +=
                    (mu[i * d + p] as f64 - mean[p]) * (mu[i * d + q] as f64 - mean[q]) / b as f64;
            }
        }
    }
    if second {
        for p in 0..d {
            c[p * d + p] += (0..b)
                .map(|i| (logvar[i * d + p] as f64).exp())
                .sum::<f64>()
                / b as f64;
        }
    }
    c
}

fn host_penalty(c: &[f64], d: usize, od: f64, dg: f64) -> f64 {
    let mut s = 0.0;
    for p in 0..d {
        for q in 0..d {
            s += if p == q {
                dg * (c[p * d + q] - 1.0).powi(2)
            } else {
                od * c[p * d + q].powi(2)
            };
        }
    }
    s
}

#[test]
fn dip_penalties_match_a_host_computation() {
    let mut rng = Lcg(11);
    let (b, d) = (24, 5);
    let mu: Vec<f32> = rng.normals(b * d).iter().map(|v| 0.8 * v + 0.3).collect();
    let logvar: Vec<f32> = rng.normals(b * d).iter().map(|v| 0.5 * v - 1.0).collect();
    for second in [false, true] {
        let cov = dip_covariance(
            t2(mu.clone(), [b, d], &cpu()),
            t2(logvar.clone(), [b, d], &cpu()),
            second,
        );
        let got = vec_of(cov.clone());
        let want = host_cov(&mu, &logvar, b, d, second);
        for (g, w) in got.iter().zip(&want) {
            assert!((*g as f64 - w).abs() < 1e-5, "second={second}: {g} vs {w}");
        }
        // Unequal weights, so that swapping them is caught.
        let p = scalar(dip_penalty(cov, 3.0, 7.0));
        let h = host_penalty(&want, d, 3.0, 7.0);
        assert!(
            (p - h).abs() < 1e-4 * h.max(1.0),
            "second={second}: {p} vs {h}"
        );
    }
    // The identity costs nothing.
    let eye = t2(
        (0..16)
            .map(|i| if i % 5 == 0 { 1.0 } else { 0.0 })
            .collect(),
        [4, 4],
        &cpu(),
    );
    assert!(scalar(dip_penalty(eye, 10.0, 100.0)).abs() < 1e-9);
    // The paper's λ_d: 10 λ_od for DIP-VAE-I, λ_od for DIP-VAE-II.
    let p = VariantParams::default();
    assert_eq!((p.dip_lambda_d(false), p.dip_lambda_d(true)), (100.0, 10.0));
}

/// ‖C − I‖_F for a covariance `C` `[d, d]`.
fn off_identity(c: &[f64], d: usize) -> f64 {
    (0..d * d)
        .map(|k| (c[k] - if k % (d + 1) == 0 { 1.0 } else { 0.0 }).powi(2))
        .sum::<f64>()
        .sqrt()
}

#[test]
fn dip_vaes_bring_the_codes_covariance_nearer_the_identity_than_a_vae() {
    let data = small(2000, 500);
    let d = 8;
    let steps = 200;
    let mut figures = Vec::new();
    let mut cov_of = |variant: VariantKind| {
        let mut t = Trainer::new(
            config(variant, d, VariantParams::default()),
            data.clone(),
            &cpu(),
        )
        .unwrap();
        for _ in 0..steps {
            let m = t.step().unwrap().metrics;
            assert!(
                m.terms.iter().all(|(_, v)| v.is_finite()),
                "{variant}: {m:?}"
            );
        }
        let post = encode_split(t.model(), &data.test, &cpu(), 250);
        let n = post.len();
        let c1 = host_cov(&post.mu, &post.logvar, n, d, false);
        let c2 = host_cov(&post.mu, &post.logvar, n, d, true);
        let f = (off_identity(&c1, d), off_identity(&c2, d));
        figures.push((variant, f));
        f
    };
    let vae = cov_of(VariantKind::Vae);
    let dip1 = cov_of(VariantKind::DipVaeI);
    let dip2 = cov_of(VariantKind::DipVaeII);
    println!(
        "‖Cov[μ] − I‖, ‖Cov[μ] + E[σ²] − I‖ on the test codes after {steps} steps: {figures:?}"
    );
    assert!(
        dip1.0 < 0.5 * vae.0,
        "DIP-VAE-I: Cov[μ] {:.3} from I, the VAE's {:.3}",
        dip1.0,
        vae.0
    );
    assert!(
        dip2.1 < 0.7 * vae.1,
        "DIP-VAE-II: Cov[z] {:.3} from I, the VAE's {:.3}",
        dip2.1,
        vae.1
    );
}

#[test]
fn the_capacity_vaes_kl_follows_the_rising_capacity() {
    let data = small(2000, 300);
    let params = VariantParams {
        capacity_gamma: 100.0,
        capacity_max: 10.0,
        capacity_steps: 150,
        ..VariantParams::default()
    };
    let objective = CapacityVae {
        gamma: 100.0,
        c_max: 10.0,
        steps: 150,
    };
    assert_eq!(
        (
            objective.capacity(0),
            objective.capacity(75),
            objective.capacity(500)
        ),
        (0.0, 5.0, 10.0)
    );
    let mut t = Trainer::new(
        config(VariantKind::CapacityVae, 20, params),
        data.clone(),
        &cpu(),
    )
    .unwrap();
    let mut gaps = Vec::new();
    let mut track = Vec::new();
    for _ in 0..250 {
        let m = t.step().unwrap().metrics;
        let term = |name: &str| {
            m.terms
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| *v)
                .unwrap()
        };
        let (kl, c) = (term("kl"), term("capacity"));
        assert!(
            (c - objective.capacity(m.step)).abs() < 1e-4,
            "step {}: C {c}",
            m.step
        );
        if m.step >= 40 {
            gaps.push((kl - c).abs());
        }
        if m.step.is_multiple_of(25) {
            track.push((m.step, c, kl));
        }
    }
    let mean_gap = gaps.iter().sum::<f64>() / gaps.len() as f64;
    println!("(step, C, KL): {track:?}; mean |KL − C| from step 40: {mean_gap:.3} nats");
    assert!(
        mean_gap < 1.0,
        "KL strays {mean_gap:.2} nats from C on average"
    );
    // Midway up the ramp the KL is near half the final capacity, not already at it.
    let mid = track.iter().find(|(s, _, _)| *s == 75).unwrap();
    assert!(
        (mid.2 - 5.0).abs() < 1.5,
        "KL {:.2} at step 75 (C = 5)",
        mid.2
    );
}
