//! Closed forms and identities: Gaussian KL, BCE with logits, log-mean-exp, IWAE vs ELBO.

use burn::tensor::{Tensor, TensorData};
use latent_explorer::model::gaussian::{
    kl_normal, kl_std_normal, log_mean_exp, log_normal, log_std_normal, reparameterize,
};
use latent_explorer::model::likelihood::bce_with_logits;
use latent_explorer::model::{Likelihood, VaeConfig};
use latent_explorer::train::iwae_bound;
use latent_explorer::variant::{elbo_parts, kl_term};

use crate::common::{
    Lcg, cpu, log_bernoulli, log_mean_exp_host, log_normal_host, scalar, t2, vec_of,
};

#[test]
fn gaussian_kl_matches_monte_carlo() {
    let dev = cpu();
    // (μ1, log σ1², μ2, log σ2²) cases, including the standard normal as the second.
    let cases = [
        (0.5f64, -0.7f64, 0.0f64, 0.0f64),
        (-1.2, 0.9, 0.3, -0.4),
        (2.0, -2.0, -1.0, 1.0),
    ];
    let n = 200_000usize;
    let mut rng = Lcg(7);
    for &(m1, lv1, m2, lv2) in &cases {
        let closed = scalar(kl_normal(
            Tensor::<1>::from_floats([m1 as f32], &dev),
            Tensor::<1>::from_floats([lv1 as f32], &dev),
            Tensor::<1>::from_floats([m2 as f32], &dev),
            Tensor::<1>::from_floats([lv2 as f32], &dev),
        ));
        // Independent reference: E_q[log q(z) − log p(z)] by sampling, in f64 on the host.
        let (s1, s2) = ((lv1 / 2.0).exp(), (lv2 / 2.0).exp());
        let logn = |z: f64, m: f64, s: f64| {
            -0.5 * ((z - m) / s).powi(2) - s.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
        };
        let (mut sum, mut sq) = (0.0, 0.0);
        for _ in 0..n {
            let z = m1 + s1 * rng.normal();
            let v = logn(z, m1, s1) - logn(z, m2, s2);
            sum += v;
            sq += v * v;
        }
        let mean = sum / n as f64;
        let se = ((sq / n as f64 - mean * mean) / n as f64).sqrt();
        assert!(
            (closed - mean).abs() < 4.0 * se + 1e-4,
            "KL closed {closed} vs MC {mean} ± {se} for {:?}",
            (m1, lv1, m2, lv2)
        );
        if m2 == 0.0 && lv2 == 0.0 {
            let std = scalar(kl_std_normal(
                Tensor::<1>::from_floats([m1 as f32], &dev),
                Tensor::<1>::from_floats([lv1 as f32], &dev),
            ));
            assert!((std - closed).abs() < 1e-6, "{std} vs {closed}");
        }
    }
}

#[test]
fn bce_with_logits_is_exact_at_large_logits() {
    let dev = cpu();
    let logits = Tensor::<1>::from_floats([100.0, -100.0, 100.0, -100.0, 0.0, 3.0], &dev);
    let x = Tensor::<1>::from_floats([1.0, 0.0, 0.0, 1.0, 0.5, 0.25], &dev);
    let got = vec_of(bce_with_logits(logits, x));
    // Exact values: softplus(l) − x l, with softplus(±100) = 100 + e^-100 or e^-100.
    let softplus = |l: f64| l.max(0.0) + (-l.abs()).exp().ln_1p();
    let want = [
        softplus(100.0) - 100.0,
        softplus(-100.0),
        softplus(100.0),
        softplus(-100.0) + 100.0,
        std::f64::consts::LN_2,
        softplus(3.0) - 0.75,
    ];
    for (g, w) in got.iter().zip(want) {
        assert!(g.is_finite(), "BCE not finite: {got:?}");
        assert!(
            (*g as f64 - w).abs() <= 1e-6 * w.abs().max(1.0),
            "BCE {g} vs exact {w}"
        );
    }
}

#[test]
fn log_mean_exp_identity_and_stability() {
    let dev = cpu();
    let vals = [[0.1f32, -2.0, 1.5, 0.7], [1000.0, 1001.0, 999.0, 1000.5]];
    let t = t2(vals.concat(), [2, 4], &dev);
    let got = vec_of(log_mean_exp(t.clone().transpose(), 0));
    for (row, g) in vals.iter().zip(&got) {
        // Host f64 reference with the max subtracted.
        let m = row.iter().cloned().fold(f32::MIN, f32::max) as f64;
        let want = m + (row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>() / 4.0).ln();
        assert!(g.is_finite());
        assert!(
            ((*g as f64) - want).abs() < 1e-4 * want.abs().max(1.0),
            "{g} vs {want}"
        );
    }
    // Identity: log-mean-exp of a constant is the constant.
    let c = vec_of(log_mean_exp(t2(vec![-3.5; 6], [6, 1], &dev), 0));
    assert!((c[0] + 3.5).abs() < 1e-6);
}

#[test]
fn log_normal_densities_match_closed_form() {
    let dev = cpu();
    let x = Tensor::<1>::from_floats([0.3, -1.0], &dev);
    let mu = Tensor::<1>::from_floats([0.1, 0.5], &dev);
    let lv = Tensor::<1>::from_floats([-0.5, 0.8], &dev);
    let got = vec_of(log_normal(x.clone(), mu, lv));
    let want = |x: f64, m: f64, lv: f64| {
        -0.5 * ((x - m).powi(2) / lv.exp() + lv + (2.0 * std::f64::consts::PI).ln())
    };
    assert!((got[0] as f64 - want(0.3, 0.1, -0.5)).abs() < 1e-5);
    assert!((got[1] as f64 - want(-1.0, 0.5, 0.8)).abs() < 1e-5);
    let std = vec_of(log_std_normal(x));
    assert!((std[0] as f64 - want(0.3, 0.0, 0.0)).abs() < 1e-5);
}

fn small_model() -> (latent_explorer::model::Vae, Tensor<2>, burn::tensor::Device) {
    let dev = cpu();
    dev.seed(3);
    let cfg = VaeConfig {
        rows: 4,
        cols: 4,
        latent_dim: 3,
        arch: latent_explorer::model::ArchConfig::Mlp { hidden: vec![8] },
        likelihood: Likelihood::Bernoulli,
        latent: Default::default(),
        channels: 1,
    };
    let model = cfg.init(&dev).unwrap();
    let mut rng = Lcg(11);
    let x: Vec<f32> = (0..5 * 16).map(|_| rng.uniform() as f32).collect();
    (model, t2(x, [5, 16], &dev), dev)
}

#[test]
fn iwae_with_one_sample_equals_the_elbo_on_that_sample() {
    let (model, x, dev) = small_model();
    let mut rng = Lcg(5);
    let eps = rng.normals(5 * 3);
    let eps3: Tensor<3> = Tensor::from_data(TensorData::new(eps.clone(), [1, 5, 3]), &dev);
    let iwae = vec_of(iwae_bound(
        &model,
        Likelihood::Bernoulli,
        x.clone(),
        None,
        1,
        Some(eps3),
    ));
    // The single-sample ELBO, computed independently: log p(x|z) + log p(z) − log q(z|x).
    let eps2 = t2(eps, [5, 3], &dev);
    let (rec, _) = elbo_parts(
        &model,
        Likelihood::Bernoulli,
        x.clone(),
        None,
        Some(eps2.clone()),
    );
    let (mu, lv) = model.encode(x);
    let z = reparameterize(mu.clone(), lv.clone(), eps2);
    let log_ratio = (log_std_normal(z.clone()) - log_normal(z, mu, lv)).sum_dim(1);
    let elbo = vec_of(rec.neg() + log_ratio.squeeze_dim::<1>(1));
    for (a, b) in iwae.iter().zip(&elbo) {
        assert!(
            (a - b).abs() < 1e-3 * b.abs().max(1.0),
            "IWAE(k=1) {a} vs ELBO {b}"
        );
    }
}

#[test]
fn iwae_bound_does_not_decrease_with_k_on_average() {
    let (model, x, dev) = small_model();
    let mut rng = Lcg(9);
    let mut mean_for = |k: usize| {
        // Average over repeats to beat Monte-Carlo noise.
        let reps = 200;
        let mut s = 0.0;
        for _ in 0..reps {
            let eps: Tensor<3> =
                Tensor::from_data(TensorData::new(rng.normals(k * 5 * 3), [k, 5, 3]), &dev);
            s += vec_of(iwae_bound(
                &model,
                Likelihood::Bernoulli,
                x.clone(),
                None,
                k,
                Some(eps),
            ))
            .iter()
            .map(|&v| v as f64)
            .sum::<f64>()
                / 5.0;
        }
        s / reps as f64
    };
    let (b1, b5, b50) = (mean_for(1), mean_for(5), mean_for(50));
    assert!(b5 >= b1 - 1e-3, "IWAE k=5 {b5} < k=1 {b1}");
    assert!(b50 >= b5 - 1e-3, "IWAE k=50 {b50} < k=5 {b5}");
}

#[test]
fn iwae_bound_is_the_log_mean_exp_of_each_images_own_weights() {
    let (model, x, dev) = small_model();
    let (k, b, d, p) = (4, 5, 3, 16);
    // Wide noise, so that the k log-weights of an image differ by nats and log-mean-exp
    // is far from their maximum or their mean.
    let eps: Vec<f32> = Lcg(23).normals(k * b * d).iter().map(|v| 2.0 * v).collect();
    let got = vec_of(iwae_bound(
        &model,
        Likelihood::Bernoulli,
        x.clone(),
        None,
        k,
        Some(Tensor::from_data(
            TensorData::new(eps.clone(), [k, b, d]),
            &dev,
        )),
    ));
    // Independently on the host: z_ij = μ_j + ε_ij σ_j for sample i of image j, the
    // decoder's logits for every z_ij, and log w_ij = log p(x_j|z_ij) + log p(z_ij) −
    // log q(z_ij|x_j).
    let (mu, lv) = model.encode(x.clone());
    let (mu, lv, xs) = (vec_of(mu), vec_of(lv), vec_of(x));
    let z: Vec<f32> = (0..k * b * d)
        .map(|n| {
            let (j, c) = ((n / d) % b, n % d);
            mu[j * d + c] + eps[n] * (0.5 * lv[j * d + c]).exp()
        })
        .collect();
    let logits = vec_of(model.decode(t2(z.clone(), [k * b, d], &dev)));
    let zero = vec![0.0f32; d];
    for j in 0..b {
        let (mu_j, lv_j) = (&mu[j * d..(j + 1) * d], &lv[j * d..(j + 1) * d]);
        let lw: Vec<f64> = (0..k)
            .map(|i| {
                let row = i * b + j;
                let z_ij = &z[row * d..(row + 1) * d];
                log_bernoulli(&xs[j * p..(j + 1) * p], &logits[row * p..(row + 1) * p])
                    + log_normal_host(z_ij, &zero, &zero)
                    - log_normal_host(z_ij, mu_j, lv_j)
            })
            .collect();
        let max = lw.iter().copied().fold(f64::MIN, f64::max);
        let want = log_mean_exp_host(&lw);
        let mean = lw.iter().sum::<f64>() / k as f64;
        assert!(
            max - want > 0.05 && want - mean > 0.05,
            "weights too alike: {lw:?}"
        );
        assert!(
            (got[j] as f64 - want).abs() < 1e-4 * want.abs().max(1.0),
            "image {j}: IWAE {} vs host log-mean-exp {want} (max {max}, mean {mean})",
            got[j]
        );
    }
}

#[test]
fn free_bits_floor_each_dimension() {
    let dev = cpu();
    // Batch of 2, 3 dims: batch-mean KL per dim = [0.05, 0.5, 2.0].
    let kl = t2(vec![0.0, 0.4, 1.0, 0.1, 0.6, 3.0], [2, 3], &dev);
    let plain = scalar(kl_term(kl.clone(), None));
    let floored = scalar(kl_term(kl, Some(0.25)));
    assert!((plain - 2.55).abs() < 1e-5, "{plain}");
    assert!((floored - (0.25 + 0.5 + 2.0)).abs() < 1e-5, "{floored}");
}
