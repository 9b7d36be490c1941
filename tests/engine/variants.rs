//! Variant zoo: IWAE and WAE-MMD objectives.

use burn::tensor::{Tensor, TensorData};
use latent_explorer::data::Batcher;
use latent_explorer::model::Likelihood;
use latent_explorer::model::gaussian::{kl_std_normal, reparameterize};
use latent_explorer::train::{TrainConfig, Trainer};
use latent_explorer::variant::{
    AuxModules, Kernel, StepContext, VariantKind, VariantParams, iwae_bound, mmd2_unbiased,
    posterior_and_prior, sinkhorn_cost, tc_decomposition,
};

use crate::common::{Lcg, cpu, scalar, small, t2};

/// Host f64 reference for the unbiased MMD² with the same kernels.
fn mmd2_reference(kernel: Kernel, x: &[Vec<f64>], y: &[Vec<f64>]) -> f64 {
    let d = x[0].len() as f64;
    let c = 2.0 * d;
    let k = |a: &[f64], b: &[f64]| {
        let d2: f64 = a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum();
        match kernel {
            Kernel::Imq => [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]
                .iter()
                .map(|s| s * c / (s * c + d2))
                .sum(),
            Kernel::Rbf => (-d2 / c).exp(),
        }
    };
    let (n, m) = (x.len() as f64, y.len() as f64);
    let mut sxx = 0.0;
    for i in 0..x.len() {
        for j in 0..x.len() {
            if i != j {
                sxx += k(&x[i], &x[j]);
            }
        }
    }
    let mut syy = 0.0;
    for i in 0..y.len() {
        for j in 0..y.len() {
            if i != j {
                syy += k(&y[i], &y[j]);
            }
        }
    }
    let sxy: f64 = x.iter().flat_map(|a| y.iter().map(move |b| k(a, b))).sum();
    sxx / (n * (n - 1.0)) + syy / (m * (m - 1.0)) - 2.0 * sxy / (n * m)
}

fn sample(rng: &mut Lcg, n: usize, d: usize, shift: f64) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| (0..d).map(|_| rng.normal() + shift).collect())
        .collect()
}

fn to_tensor(rows: &[Vec<f64>]) -> Tensor<2> {
    let d = rows[0].len();
    let flat: Vec<f32> = rows.iter().flatten().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), d]), &cpu())
}

#[test]
fn mmd_matches_a_host_reference() {
    let mut rng = Lcg(21);
    let (x, y) = (sample(&mut rng, 20, 4, 0.0), sample(&mut rng, 30, 4, 0.5));
    for kernel in [Kernel::Imq, Kernel::Rbf] {
        let got = scalar(mmd2_unbiased(kernel, to_tensor(&x), to_tensor(&y)));
        let want = mmd2_reference(kernel, &x, &y);
        assert!(
            (got - want).abs() < 1e-4 * want.abs().max(1.0),
            "{kernel:?}: {got} vs {want}"
        );
    }
}

#[test]
fn unbiased_mmd_is_zero_for_one_gaussian_and_positive_for_a_shifted_one() {
    let mut rng = Lcg(8);
    let (reps, n, d) = (200, 64, 8);
    for kernel in [Kernel::Imq, Kernel::Rbf] {
        let mut same = Vec::new();
        let mut shifted = Vec::new();
        for _ in 0..reps {
            let x = sample(&mut rng, n, d, 0.0);
            let y = sample(&mut rng, n, d, 0.0);
            let z = sample(&mut rng, n, d, 0.5);
            same.push(scalar(mmd2_unbiased(kernel, to_tensor(&x), to_tensor(&y))));
            shifted.push(scalar(mmd2_unbiased(kernel, to_tensor(&x), to_tensor(&z))));
        }
        let (m0, se0) = mean_se(&same);
        let (m1, se1) = mean_se(&shifted);
        assert!(
            m0.abs() < 3.0 * se0,
            "{kernel:?}: same-distribution MMD² {m0} ± {se0}"
        );
        assert!(
            m1 > 10.0 * se1 && m1 > 10.0 * se0,
            "{kernel:?}: shifted MMD² {m1} ± {se1}"
        );
    }
}

fn train_one_epoch(variant: VariantKind) -> (f64, f64) {
    let cfg = TrainConfig {
        variant,
        batch_size: 32,
        epochs: 1,
        seed: 2,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(cfg, small(1024, 256), &cpu()).unwrap();
    let before = t.evaluate(0).rec;
    loop {
        let out = t.step().unwrap();
        for (name, v) in &out.metrics.terms {
            assert!(v.is_finite(), "{variant}: {name} = {v}");
        }
        if out.epoch_done {
            break;
        }
    }
    (before, t.evaluate(0).rec)
}

fn step_ctx(beta: f64, dataset_size: usize) -> StepContext {
    StepContext {
        step: 0,
        beta,
        kl_weight: 1.0,
        free_bits: None,
        likelihood: Likelihood::Bernoulli,
        dataset_size,
    }
}

/// Mean and standard error.
fn mean_se(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
    (m, (var / v.len() as f64).sqrt())
}

#[test]
fn iwae_and_wae_train_and_improve_reconstruction() {
    for v in [
        VariantKind::Iwae,
        VariantKind::WaeMmd,
        VariantKind::BetaTcvae,
    ] {
        let (before, after) = train_one_epoch(v);
        assert!(
            after < before - 100.0,
            "{v}: reconstruction {before:.1} → {after:.1}"
        );
    }
    assert!(!VariantKind::WaeMmd.has_likelihood_bound());
    assert!(VariantKind::Iwae.has_likelihood_bound());
}

#[test]
fn iwae_trains_its_k_sample_bound_not_the_elbo() {
    // A briefly trained VAE, whose posterior is narrow enough for k samples to matter.
    let data = small(1024, 64);
    let mut t = Trainer::new(
        TrainConfig {
            batch_size: 64,
            seed: 4,
            ..TrainConfig::default()
        },
        data.clone(),
        &cpu(),
    )
    .unwrap();
    for _ in 0..30 {
        t.step().unwrap();
    }
    let model = t.inference_model();
    let x = Batcher::new(cpu())
        .batch(&data.test, &(0..32).collect::<Vec<_>>())
        .images;
    let params = VariantParams {
        iwae_k: 5,
        ..VariantParams::default()
    };
    let objective = VariantKind::Iwae.build(&params);
    let batch = Batcher::new(cpu()).batch(&data.test, &(0..32).collect::<Vec<_>>());
    let ctx = step_ctx(1.0, 1024);
    let reps = 150;
    let (mut loss, mut k5, mut k1) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        loss.push(scalar(
            objective
                .loss(&model, &AuxModules::empty(), &batch, 0, &ctx)
                .total,
        ));
        let bound =
            |k| -scalar(iwae_bound(&model, Likelihood::Bernoulli, x.clone(), None, k, None).mean());
        k5.push(bound(5));
        k1.push(bound(1));
    }
    let ((l, sl), (b5, s5), (b1, s1)) = (mean_se(&loss), mean_se(&k5), mean_se(&k1));
    println!("IWAE loss {l:.3} ± {sl:.3}; −L5 {b5:.3} ± {s5:.3}; −L1 (−ELBO) {b1:.3} ± {s1:.3}");
    // Its loss estimates −L_k with k = 5 (within Monte Carlo error) …
    assert!(
        (l - b5).abs() < 4.0 * (sl * sl + s5 * s5).sqrt(),
        "IWAE loss {l} ± {sl} vs −L5 {b5} ± {s5}"
    );
    // … which is clearly below the −ELBO an objective training one sample would give.
    assert!(
        l < b1 - 6.0 * (sl * sl + s1 * s1).sqrt(),
        "IWAE loss {l} ± {sl} is not below −ELBO {b1} ± {s1}"
    );
}

/// MMD² between held-out codes z ~ q(z|x) of 500 test digits and as many prior draws.
fn code_mmd(t: &Trainer, data: &latent_explorer::data::Dataset) -> f64 {
    let batch = Batcher::new(cpu()).batch(&data.test, &(0..256).collect::<Vec<_>>());
    let (z, _) = posterior_and_prior(&t.inference_model(), batch.images);
    let d = z.dims()[1];
    let prior = Tensor::<2>::from_data(TensorData::new(Lcg(31).normals(256 * d), [256, d]), &cpu());
    scalar(mmd2_unbiased(Kernel::Imq, z, prior))
}

#[test]
fn wae_mmd_term_pulls_the_codes_to_the_prior() {
    // The same WAE with λ = 10 (the default) and λ = 0 (a plain stochastic autoencoder):
    // both reconstruct, only the first must match its aggregate posterior to the prior.
    let data = small(1024, 256);
    let train = |lambda: f64| {
        let mut cfg = TrainConfig {
            variant: VariantKind::WaeMmd,
            batch_size: 32,
            seed: 2,
            ..TrainConfig::default()
        };
        cfg.variant_params.mmd_lambda = lambda;
        let mut t = Trainer::new(cfg, data.clone(), &cpu()).unwrap();
        while !t.step().unwrap().epoch_done {}
        code_mmd(&t, &data)
    };
    let (with, without) = (train(10.0), train(0.0));
    println!("held-out codes' MMD² to the prior: λ = 10 {with:.4}, λ = 0 {without:.4}");
    assert!(
        with < 0.7 * without,
        "the MMD term did not pull the codes to the prior: {with} vs {without} without it"
    );
}

#[test]
fn beta_tcvae_weights_the_total_correlation_alone() {
    // One call (the terms and the total share their noise; the device's generator is shared
    // with the tests running beside this one, so two calls cannot be made to share it): the
    // total is rec + w·(MI + β·TC + DWKL), with β on the total correlation only. The terms
    // themselves are checked against their definitions in `tc_terms_sum_to_the_sampled_kl…`.
    let dev = cpu();
    let model = TrainConfig::default().model.init(&dev).unwrap();
    let data = small(64, 64);
    let batch = Batcher::new(dev.clone()).batch(&data.test, &(0..64).collect::<Vec<_>>());
    let objective = VariantKind::BetaTcvae.build(&VariantParams::default());
    let (beta, w) = (6.0, 0.5);
    let ctx = StepContext {
        kl_weight: w,
        ..step_ctx(beta, 8000)
    };
    let out = objective.loss(&model, &AuxModules::empty(), &batch, 0, &ctx);
    let term = |name: &str| {
        scalar(
            out.terms
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap()
                .1
                .clone(),
        )
    };
    let (rec, mi, tc, dwkl) = (term("rec"), term("mi"), term("tc"), term("dwkl"));
    let total = scalar(out.total);
    let want = rec + w * (mi + beta * tc + dwkl);
    println!(
        "β-TCVAE: rec {rec:.3} MI {mi:.3} TC {tc:.3} DWKL {dwkl:.3}; total {total:.3} vs {want:.3}"
    );
    assert!(
        tc.abs() > 0.1 && mi.abs() > 0.1,
        "degenerate terms: MI {mi}, TC {tc}"
    );
    assert!(
        (total - want).abs() < 1e-4 * want.abs(),
        "total {total}, not rec + w·(MI + β·TC + DWKL) = {want}"
    );
}

#[test]
fn compare_table_marks_variants_without_a_likelihood_bound() {
    let base = TrainConfig {
        batch_size: 64,
        epochs: 1,
        ..TrainConfig::default()
    };
    let mut epochs = 0;
    let rows = latent_explorer::compare::compare(
        &[VariantKind::Vae, VariantKind::WaeMmd],
        &base,
        small(256, 64),
        &cpu(),
        5,
        None,
        |_, _| epochs += 1,
    )
    .unwrap();
    assert_eq!(epochs, 2);
    assert!(rows[0].neg_elbo.is_some() && rows[0].iwae_nll.is_some());
    assert!(rows[1].neg_elbo.is_none() && rows[1].iwae_nll.is_none());
    let table = latent_explorer::compare::table(&rows, 5);
    assert!(
        table.contains("| WAE-MMD | n/a (no likelihood bound) | n/a (no likelihood bound) |"),
        "{table}"
    );
    assert!(rows.iter().all(|r| r.mse.is_finite() && r.bce.is_finite()));
}

fn codes(rng: &mut Lcg, b: usize, d: usize, correlated: bool) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
    let mut mu = Vec::with_capacity(b * d);
    for _ in 0..b {
        let shared = 2.0 * rng.normal();
        for _ in 0..d {
            mu.push(if correlated {
                shared
            } else {
                2.0 * rng.normal()
            } as f32);
        }
    }
    let logvar = vec![0.0f32; b * d];
    let eps: Vec<f32> = rng.normals(b * d);
    let t = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [b, d]), &cpu());
    let (mu, logvar) = (t(mu), t(logvar));
    let z = reparameterize(mu.clone(), logvar.clone(), t(eps));
    (z, mu, logvar)
}

#[test]
fn tc_terms_sum_to_the_sampled_kl_and_see_correlation() {
    let mut rng = Lcg(4);
    let (b, d, n) = (64, 5, 8000);
    let (z, mu, logvar) = codes(&mut rng, b, d, false);
    let t = tc_decomposition(z, mu.clone(), logvar.clone(), n);
    let (mi, tc, dwkl, kl) = (scalar(t.mi), scalar(t.tc), scalar(t.dwkl), scalar(t.kl));
    assert!(
        (mi + tc + dwkl - kl).abs() < 1e-3 * kl.abs().max(1.0),
        "{mi} + {tc} + {dwkl} ≠ {kl}"
    );
    // The sampled KL estimates the analytic KL(q(z|x) ‖ p(z)) averaged over the batch:
    // fresh noise on fixed (μ, log σ²), averaged, lands within 4 standard errors.
    let analytic = scalar(kl_std_normal(mu.clone(), logvar.clone()).sum_dim(1).mean());
    let reps = 300;
    let samples: Vec<f64> = (0..reps)
        .map(|_| {
            let eps = Tensor::<2>::from_data(TensorData::new(rng.normals(b * d), [b, d]), &cpu());
            let z = reparameterize(mu.clone(), logvar.clone(), eps);
            scalar(tc_decomposition(z, mu.clone(), logvar.clone(), n).kl)
        })
        .collect();
    let mean = samples.iter().sum::<f64>() / reps as f64;
    let var = samples.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (reps - 1) as f64;
    let se = (var / reps as f64).sqrt();
    assert!(
        (mean - analytic).abs() < 4.0 * se + 1e-3,
        "sampled KL {mean} ± {se} vs analytic {analytic}"
    );
    // Codes whose dimensions move together have a larger total correlation. MWS estimates
    // log q(z) as log-mean-exp − log N, so every TC carries the same (d − 1)·log N offset;
    // the difference between the two is what the codes' correlation adds.
    // Unit posterior variance around means of variance 4: the independent codes' aggregate
    // is close to N(0, 5I) (TC 0), the correlated ones' to N(0, 4·11ᵀ + I), whose TC is
    // −½ log det of its correlation matrix = −½ log(4.2 · 0.2⁴) ≈ 2.50 nats for d = 5.
    let big = 512;
    let (zi, mui, lvi) = codes(&mut rng, big, d, false);
    let tc_ind = scalar(tc_decomposition(zi, mui, lvi, big).tc);
    let (zc, muc, lvc) = codes(&mut rng, big, d, true);
    let tc_corr = scalar(tc_decomposition(zc, muc, lvc, big).tc);
    let offset = (d - 1) as f64 * (big as f64).ln();
    println!(
        "TC − offset: independent {:.3}, correlated {:.3}",
        tc_ind - offset,
        tc_corr - offset
    );
    let closed = -0.5 * (4.2f64 * 0.2f64.powi(4)).ln();
    assert!((tc_ind - offset).abs() < 0.5, "independent: TC {tc_ind}");
    assert!(
        (tc_corr - offset - closed).abs() < 0.5,
        "correlated: TC {tc_corr} − {offset} vs {closed}"
    );
}

#[test]
fn sinkhorn_cost_tends_to_the_exact_sorted_matching_w2() {
    let mut rng = Lcg(12);
    let n = 16;
    let xs: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let ys: Vec<f64> = (0..n).map(|_| 0.7 * rng.normal() + 0.5).collect();
    // Exact W₂² between uniform 1-D point sets: match the sorted points.
    let (mut sx, mut sy) = (xs.clone(), ys.clone());
    sx.sort_by(f64::total_cmp);
    sy.sort_by(f64::total_cmp);
    let exact = sx
        .iter()
        .zip(&sy)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        / n as f64;
    let col = |v: &[f64]| to_tensor(&v.iter().map(|&a| vec![a]).collect::<Vec<_>>());
    let errs: Vec<f64> = [(1.0, 200), (0.1, 1000), (0.01, 5000)]
        .iter()
        .map(|&(eps, iters)| {
            let c = scalar(sinkhorn_cost(col(&xs), col(&ys), eps, iters));
            println!("ε = {eps}: cost {c:.5} vs exact {exact:.5}");
            (c - exact).abs()
        })
        .collect();
    assert!(errs[0] > errs[1] && errs[1] > errs[2], "{errs:?}");
    assert!(
        errs[2] < 0.02 * exact.max(0.05),
        "ε = 0.01 error {} on {exact}",
        errs[2]
    );
}

#[test]
fn factor_vae_adds_gamma_times_the_discriminators_tc_estimate_and_trains_it_on_permuted_codes() {
    let dev = cpu();
    let cfg = TrainConfig::default();
    let model = cfg.model.init(&dev).unwrap();
    let data = small(64, 64);
    let batch = Batcher::new(dev.clone()).batch(&data.test, &(0..64).collect::<Vec<_>>());
    let gamma = 40.0;
    let objective = VariantKind::FactorVae.build(&VariantParams {
        factor_gamma: gamma,
        ..VariantParams::default()
    });
    let aux = objective.init_aux(&cfg.model, &dev);
    assert_eq!(aux.critics.len(), 1, "one discriminator on z");
    let (beta, w) = (2.0, 0.5);
    let ctx = StepContext {
        kl_weight: w,
        ..step_ctx(beta, 8000)
    };
    let term = |out: &latent_explorer::variant::LossTerms, name: &str| {
        scalar(
            out.terms
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap()
                .1
                .clone(),
        )
    };
    // The VAE phase: rec + β·w·KL + γ·TC, TC the discriminator's mean logit.
    let out = objective.loss(&model, &aux, &batch, 0, &ctx);
    let (rec, kl, tc) = (term(&out, "rec"), term(&out, "kl"), term(&out, "tc"));
    let total = scalar(out.total.clone());
    let want = rec + beta * w * kl + gamma * tc;
    assert!(tc.abs() > 1e-4, "degenerate TC estimate {tc}");
    assert!(
        (total - want).abs() < 1e-4 * want.abs(),
        "total {total}, not rec + β·w·KL + γ·TC = {want}"
    );
    // The discriminator phase: real codes against their per-dimension permutation, with
    // an accuracy between 0 and 1 and a logistic loss near ln 4 for an untrained critic.
    let out = objective.loss(&model, &aux, &batch, 1, &ctx);
    let (d_loss, d_acc) = (term(&out, "d_loss"), term(&out, "d_acc"));
    assert!((0.0..=1.0).contains(&d_acc), "{d_acc}");
    assert!(
        (d_loss - 4f64.ln()).abs() < 0.3,
        "untrained critic loss {d_loss}"
    );
    assert_eq!(objective.phases().len(), 2);
}

/// Codes of a 2-D Gaussian with unit variances and correlation `rho`, `n` rows.
fn correlated_codes(rho: f64, n: usize, rng: &mut Lcg) -> Vec<f32> {
    let s = (1.0 - rho * rho).sqrt();
    (0..n)
        .flat_map(|_| {
            let (a, b) = (rng.normal(), rng.normal());
            [a as f32, (rho * a + s * b) as f32]
        })
        .collect()
}

/// The sample correlation of the two columns of `z` (`n × 2`, row-major).
fn correlation(z: &[f32]) -> f64 {
    let n = (z.len() / 2) as f64;
    let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for r in z.chunks(2) {
        let (a, b) = (r[0] as f64, r[1] as f64);
        sa += a;
        sb += b;
        saa += a * a;
        sbb += b * b;
        sab += a * b;
    }
    let cov = sab / n - sa * sb / n / n;
    cov / ((saa / n - (sa / n).powi(2)) * (sbb / n - (sb / n).powi(2))).sqrt()
}

#[test]
fn factor_vae_discriminator_measures_total_correlation_and_its_gradient_removes_it() {
    // What FactorVAE is for, on codes whose total correlation is known in closed form: its
    // own discriminator (the variant's architecture), trained by its own phase (codes
    // against their per-dimension permutation), estimates TC(z) = E[logit]; and the γ·TC
    // term it adds to the encoder's loss moves codes towards independence.
    use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
    use latent_explorer::model::VaeConfig;
    use latent_explorer::variant::{gan_bce, permute_dims};
    let ad = cpu().autodiff();
    let objective = VariantKind::FactorVae.build(&VariantParams::default());
    let model = VaeConfig {
        latent_dim: 2,
        ..VaeConfig::default()
    };
    let mut rng = Lcg(7);
    let mut estimate = |rho: f64| {
        let mut critic = objective.init_aux(&model, &ad).critics.remove(0);
        let mut opt: ModuleOptimizer = AdamConfig::new().init();
        for step in 0..400u64 {
            let z = t2(correlated_codes(rho, 256, &mut rng), [256, 2], &ad);
            let real = critic.logits(z.clone());
            let fake = critic.logits(permute_dims(z, step));
            let loss = gan_bce(real, 1.0) + gan_bce(fake, 0.0);
            let grads = GradientsParams::from_grads(loss.backward(), &critic);
            critic = opt.step(2e-4, critic, grads);
        }
        let fresh = correlated_codes(rho, 4096, &mut rng);
        let z = t2(fresh.clone(), [4096, 2], &ad);
        let tc = scalar(critic.logits(z.clone()).mean());
        // One step of the encoder's γ·TC gradient on each code (descent on the logit).
        let g = crate::common::vec_of(critic.input_gradient(z));
        let moved: Vec<f32> = fresh.iter().zip(&g).map(|(v, d)| v - 0.05 * d).collect();
        (tc, correlation(&fresh), correlation(&moved))
    };
    let rho: f64 = 0.9;
    let truth = -0.5 * (1.0 - rho * rho).ln();
    let (tc, before, after) = estimate(rho);
    println!(
        "ρ = 0.9: TC {truth:.3} nats, estimated {tc:.3}; correlation {before:.3} → {after:.3}"
    );
    assert!(
        (tc - truth).abs() < 0.3,
        "the discriminator estimates TC {tc:.3}, the truth is {truth:.3}"
    );
    assert!(
        after < before - 0.02,
        "the TC gradient does not decorrelate: {before:.3} → {after:.3}"
    );
    let (tc0, ..) = estimate(0.0);
    println!("ρ = 0: TC 0, estimated {tc0:.3}");
    assert!(tc0.abs() < 0.15, "independent codes, estimated TC {tc0:.3}");
}

#[test]
fn vae_and_beta_vae_weight_the_kl_by_beta_and_the_schedule() {
    // One call per setting (terms and total share their noise): the total is
    // rec + β·w·KL for the β-VAE and rec + w·KL for the plain VAE, whatever β says.
    let dev = cpu();
    let model = TrainConfig::default().model.init(&dev).unwrap();
    let data = small(64, 64);
    let batch = Batcher::new(dev.clone()).batch(&data.test, &(0..64).collect::<Vec<_>>());
    for (kind, beta, w) in [
        (VariantKind::BetaVae, 4.0, 1.0),
        (VariantKind::BetaVae, 4.0, 0.25),
        (VariantKind::BetaVae, 0.5, 0.7),
        (VariantKind::Vae, 4.0, 0.6),
        (VariantKind::Vae, 1.0, 1.0),
    ] {
        let objective = kind.build(&VariantParams::default());
        let ctx = StepContext {
            kl_weight: w,
            ..step_ctx(beta, 8000)
        };
        let out = objective.loss(&model, &AuxModules::empty(), &batch, 0, &ctx);
        let term = |name: &str| {
            scalar(
                out.terms
                    .iter()
                    .find(|(n, _)| *n == name)
                    .unwrap()
                    .1
                    .clone(),
            )
        };
        let (rec, kl) = (term("rec"), term("kl"));
        let weight = if kind == VariantKind::Vae { 1.0 } else { beta };
        let want = rec + weight * w * kl;
        let total = scalar(out.total);
        assert!(kl > 1e-3, "{kind:?}: degenerate KL {kl}");
        assert!(
            (total - want).abs() < 1e-5 * want.abs(),
            "{kind:?} β {beta} w {w}: total {total}, want rec {rec} + {weight}·{w}·KL {kl} = {want}"
        );
    }
}

#[test]
fn factor_vae_trains_its_discriminator_through_its_own_phase_to_tell_codes_from_their_permutation()
{
    // The training pipeline itself (the trainer runs the objective's discriminator phase):
    // γ = 0 leaves the VAE a plain one, whose 2-D codes of digits are far from independent
    // (clusters), so a discriminator trained the right way round gives the batch's codes
    // higher logits than their per-dimension permutation — E[logit] is its TC estimate,
    // which is positive. Trained with the labels swapped, it is the other way round.
    use burn::module::Module;
    use latent_explorer::model::VaeConfig;
    use latent_explorer::variant::permute_dims;
    let dev = cpu();
    let cfg = TrainConfig {
        variant: VariantKind::FactorVae,
        model: VaeConfig {
            latent_dim: 2,
            ..VaeConfig::default()
        },
        batch_size: 64,
        epochs: 8,
        seed: 5,
        variant_params: VariantParams {
            factor_gamma: 0.0,
            factor_disc_hidden: vec![64, 64],
            ..VariantParams::default()
        },
        ..TrainConfig::default()
    };
    let data = small(4096, 512);
    let mut t = Trainer::new(cfg, data.clone(), &dev).unwrap();
    let mut last_acc = Vec::new();
    let mut epochs = 0;
    while epochs < 8 {
        let out = t.step().unwrap();
        if epochs == 7
            && let Some((_, a)) = out.metrics.terms.iter().find(|(n, _)| n == "disc/d_acc")
        {
            last_acc.push(*a);
        }
        if out.epoch_done {
            epochs += 1;
        }
    }
    let critic = t.aux().valid().critics.into_iter().next().unwrap();
    let model = t.inference_model();
    let batch = Batcher::new(dev.clone()).batch(&data.test, &(0..512).collect::<Vec<_>>());
    let (mu, logvar) = model.encode(batch.images);
    let z = latent_explorer::model::noise::with_noise_stream(9, || {
        reparameterize(
            mu.clone(),
            logvar.clone(),
            latent_explorer::model::gaussian::standard_noise(&mu),
        )
    });
    let real = scalar(critic.logits(z.clone()).mean());
    let fake = scalar(critic.logits(permute_dims(z, 3)).mean());
    let acc = last_acc.iter().sum::<f64>() / last_acc.len().max(1) as f64;
    println!(
        "held-out codes: mean logit {real:.3}, permuted {fake:.3}; last epoch's d_acc {acc:.3}"
    );
    assert!(
        real - fake > 0.1 && real > 0.0,
        "the discriminator does not tell codes (mean logit {real:.3}) from their permutation ({fake:.3})"
    );
    assert!(acc > 0.52, "the phase's own accuracy {acc:.3}");
}
