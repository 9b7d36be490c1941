//! The posterior-collapse timeline (KL per dimension against evaluations, the collapsed
//! dimensions) and the amortisation gap per image, against host computations.

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use latent_explorer::explore::{
    ACTIVE_UNIT_THRESHOLD, CollapseError, CollapseTimeline, GapError, amortisation_gaps,
    bounds_of_batch,
};
use latent_explorer::model::{Encoder, Likelihood, Vae, VaeConfig};
use latent_explorer::train::{EvalMetrics, LossHistory, evaluate};

use crate::common::{
    Lcg, cpu, log_bernoulli, log_mean_exp_host, log_normal_host, small, t2, vec_of,
};

/// A small MLP VAE on 28×28 images with `latent` dimensions, seeded.
fn mlp(latent: usize, seed: u64) -> Vae {
    let dev = cpu();
    dev.seed(seed);
    VaeConfig {
        rows: 28,
        cols: 28,
        latent_dim: latent,
        arch: latent_explorer::model::ArchConfig::Mlp { hidden: vec![16] },
        likelihood: Likelihood::Bernoulli,
        latent: Default::default(),
        channels: 1,
    }
    .init(&dev)
    .unwrap()
}

/// Multiply output column `j` of a `[in, out]` weight (and bias entry `j`) by `by`.
fn scale_output(lin: &mut burn::nn::Linear, j: usize, by: f32) {
    let dev = cpu();
    let w = lin.weight.val();
    let [i, o] = w.dims();
    let mut v = vec_of(w);
    for r in 0..i {
        v[r * o + j] *= by;
    }
    lin.weight = Param::from_tensor(Tensor::from_data(TensorData::new(v, [i, o]), &dev));
    if let Some(b) = &lin.bias {
        let mut bv = vec_of(b.val());
        bv[j] *= by;
        let n = bv.len();
        lin.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(bv, [n]),
            &dev,
        )));
    }
}

/// A model whose dimension `dead` is forced collapsed (μ = 0 and log σ² = 0 for every
/// image: the prior) and whose dimension `alive` is amplified so it varies.
fn forced_collapse(latent: usize, dead: usize, alive: usize) -> Vae {
    let mut m = mlp(latent, 4);
    let Encoder::Mlp(e) = &mut m.encoder else {
        panic!("an MLP encoder");
    };
    scale_output(&mut e.mu, dead, 0.0);
    scale_output(&mut e.logvar, dead, 0.0);
    scale_output(&mut e.mu, alive, 40.0);
    m
}

#[test]
fn the_collapse_timeline_is_the_historys_kl_and_lists_the_forced_collapsed_dimension() {
    let dev = cpu();
    let data = small(0, 300);
    let (latent, dead, alive) = (5, 2, 0);
    // Three evaluations: two of a random model, the last of the forced-collapse model.
    let models = [
        mlp(latent, 1),
        mlp(latent, 2),
        forced_collapse(latent, dead, alive),
    ];
    let mut history = LossHistory::default();
    for (e, m) in models.iter().enumerate() {
        let metrics = evaluate(m, Likelihood::Bernoulli, &data.test, &dev, 100, 0);
        history.push_epoch(e + 1, 10 * (e as u64 + 1), metrics);
    }
    let t = CollapseTimeline::of_history(&history).unwrap();
    assert_eq!((t.dim, t.len()), (latent, 3));
    assert_eq!(t.columns, vec![(1, 10), (2, 20), (3, 30)]);
    // The matrix is the history's KL per dimension and variance, cell by cell.
    for (c, (_, _, m)) in history.epochs.iter().enumerate() {
        for j in 0..latent {
            assert_eq!(t.kl_at(j, c), Some(m.kl_per_dim[j]), "KL z{j} column {c}");
            assert_eq!(
                t.variance_at(j, c),
                Some(m.mean_variance[j]),
                "var z{j} column {c}"
            );
        }
    }
    // Against the host: the last model's mean KL per dimension and the variance of its
    // posterior means, from its encoder's outputs.
    let x = t2(
        (0..data.test.len())
            .flat_map(|i| data.test.image(i).to_vec())
            .collect(),
        [data.test.len(), data.test.image_len()],
        &dev,
    );
    let (mu, lv) = models[2].encode(x);
    let (mu, lv) = (vec_of(mu), vec_of(lv));
    let n = data.test.len();
    for j in 0..latent {
        let col = |v: &[f32]| -> Vec<f64> { (0..n).map(|i| v[i * latent + j] as f64).collect() };
        let (m, l) = (col(&mu), col(&lv));
        let kl = m
            .iter()
            .zip(&l)
            .map(|(m, l)| 0.5 * (m * m + l.exp() - 1.0 - l))
            .sum::<f64>()
            / n as f64;
        let mean = m.iter().sum::<f64>() / n as f64;
        let var = m.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
        let (got_kl, got_var) = (t.kl_at(j, 2).unwrap(), t.variance_at(j, 2).unwrap());
        assert!(
            (got_kl - kl).abs() < 1e-3 * kl.max(1.0),
            "z{j}: KL {got_kl} vs host {kl}"
        );
        assert!(
            (got_var - var).abs() < 1e-3 * var.max(1.0),
            "z{j}: variance {got_var} vs host {var}"
        );
        // Collapsed exactly when the host variance is at most the threshold.
        assert_eq!(
            t.collapsed.contains(&j),
            var <= ACTIVE_UNIT_THRESHOLD,
            "z{j}: variance {var}, collapsed {:?}",
            t.collapsed
        );
    }
    // The forced dimension is the prior for every image: KL 0, no variance, collapsed; the
    // amplified one is active.
    assert!(t.kl_at(dead, 2).unwrap().abs() < 1e-9);
    assert!(t.collapsed.contains(&dead), "{:?}", t.collapsed);
    assert!(!t.collapsed.contains(&alive), "{:?}", t.collapsed);
    assert!(t.active_at(alive, 2));
}

/// Metrics with only the per-dimension figures set.
fn metrics(kl: &[f64], var: &[f64]) -> EvalMetrics {
    EvalMetrics {
        images: 1,
        neg_elbo: 0.0,
        rec: 0.0,
        kl: kl.iter().sum(),
        kl_per_dim: kl.to_vec(),
        mean_variance: var.to_vec(),
        active_units: 0,
        mse: 0.0,
        iwae_k: 0,
        iwae_nll: None,
        extra: Vec::new(),
    }
}

#[test]
fn collapsed_dimensions_are_those_at_or_below_the_threshold_at_the_last_evaluation() {
    let th = ACTIVE_UNIT_THRESHOLD;
    let mut h = LossHistory::default();
    // z0 active throughout; z1 collapses after epoch 1; z2 sits exactly on the threshold
    // (not above it: inactive); z3 just above; z4 revives at the end.
    h.push_epoch(
        1,
        5,
        metrics(&[1.0, 0.8, 0.1, 0.1, 0.0], &[1.0, 0.5, th, th * 1.01, 0.0]),
    );
    h.push_epoch(
        2,
        9,
        metrics(
            &[1.2, 0.01, 0.1, 0.1, 0.0],
            &[1.1, 0.001, th, th * 1.01, 0.0],
        ),
    );
    h.push_epoch(
        3,
        14,
        metrics(&[1.3, 0.0, 0.1, 0.1, 0.4], &[1.2, 0.0, th, th * 1.01, 0.3]),
    );
    let t = CollapseTimeline::of_history(&h).unwrap();
    assert_eq!(t.collapsed, vec![1, 2]);
    assert_eq!(
        t.collapsed_since(1),
        Some(1),
        "inactive from the second evaluation"
    );
    assert_eq!(t.collapsed_since(2), None, "never active");
    assert_eq!(t.collapsed_since(4), None, "not collapsed");
    assert_eq!(t.kl_at(4, 2), Some(0.4));
    assert_eq!(t.kl_at(5, 0), None);
    // Bad input: clear errors, no panic.
    assert_eq!(
        CollapseTimeline::of_history(&LossHistory::default()),
        Err(CollapseError::Empty)
    );
    let mut vq = LossHistory::default();
    vq.push_epoch(1, 1, metrics(&[], &[0.5, 0.5]));
    assert_eq!(CollapseTimeline::of_history(&vq), Err(CollapseError::NoKl));
    h.push_epoch(4, 20, metrics(&[1.0; 4], &[1.0; 5]));
    assert!(matches!(
        CollapseTimeline::of_history(&h),
        Err(CollapseError::Shape { column: 3, .. })
    ));
}

#[test]
fn the_amortisation_gap_is_iwae_minus_elbo_of_the_same_samples_on_the_host() {
    let dev = cpu();
    dev.seed(3);
    let (k, b, d, p) = (4, 5, 3, 16);
    let model = VaeConfig {
        rows: 4,
        cols: 4,
        latent_dim: d,
        arch: latent_explorer::model::ArchConfig::Mlp { hidden: vec![8] },
        likelihood: Likelihood::Bernoulli,
        latent: Default::default(),
        channels: 1,
    }
    .init(&dev)
    .unwrap();
    let mut rng = Lcg(11);
    let xs: Vec<f32> = (0..b * p).map(|_| rng.uniform() as f32).collect();
    let x = t2(xs.clone(), [b, p], &dev);
    // Wide noise, so an image's log-weights differ and the gap is well above 0.
    let eps: Vec<f32> = Lcg(23).normals(k * b * d).iter().map(|v| 2.0 * v).collect();
    let got = bounds_of_batch(
        &model,
        Likelihood::Bernoulli,
        x.clone(),
        None,
        k,
        Some(Tensor::from_data(
            TensorData::new(eps.clone(), [k, b, d]),
            &dev,
        )),
    );
    let (mu, lv) = model.encode(x);
    let (mu, lv) = (vec_of(mu), vec_of(lv));
    let z: Vec<f32> = (0..k * b * d)
        .map(|n| {
            let (j, c) = ((n / d) % b, n % d);
            mu[j * d + c] + eps[n] * (0.5 * lv[j * d + c]).exp()
        })
        .collect();
    let logits = vec_of(model.decode(t2(z.clone(), [k * b, d], &dev)));
    let zero = vec![0.0f32; d];
    for j in 0..b {
        let lw: Vec<f64> = (0..k)
            .map(|i| {
                let row = i * b + j;
                let z_ij = &z[row * d..(row + 1) * d];
                log_bernoulli(&xs[j * p..(j + 1) * p], &logits[row * p..(row + 1) * p])
                    + log_normal_host(z_ij, &zero, &zero)
                    - log_normal_host(z_ij, &mu[j * d..(j + 1) * d], &lv[j * d..(j + 1) * d])
            })
            .collect();
        let elbo = lw.iter().sum::<f64>() / k as f64;
        let iwae = log_mean_exp_host(&lw);
        let (ge, gi) = got[j];
        let tol = 1e-4 * elbo.abs().max(1.0);
        assert!(
            (ge - elbo).abs() < tol,
            "image {j}: ELBO {ge} vs host {elbo}"
        );
        assert!(
            (gi - iwae).abs() < tol,
            "image {j}: IWAE {gi} vs host {iwae}"
        );
        assert!(iwae - elbo > 0.05, "image {j}: weights too alike {lw:?}");
        assert!(
            ((gi - ge) - (iwae - elbo)).abs() < 2.0 * tol,
            "image {j}: gap {} vs host {}",
            gi - ge,
            iwae - elbo
        );
    }
}

#[test]
fn the_gap_is_zero_at_one_sample_never_negative_and_the_bound_rises_with_k() {
    let dev = cpu();
    let data = small(0, 200);
    let model = mlp(4, 7);
    let lik = Likelihood::Bernoulli;
    let at = |k: usize| amortisation_gaps(&model, lik, &data.test, 150, k, 9, &dev).unwrap();
    let one = at(1);
    assert_eq!(one.len(), 150);
    for (i, g) in one.gaps().iter().enumerate() {
        assert!(g.abs() < 1e-9, "image {i}: gap {g} at k = 1");
    }
    let (five, fifty) = (at(5), at(50));
    for r in [&five, &fifty] {
        assert!(r.gaps().iter().all(|&g| g >= 0.0), "a negative gap");
    }
    // The same seed: the same gaps.
    assert_eq!(at(5), five);
    // The IWAE bound on average does not fall with k; the gap grows.
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (b1, b5, b50) = (mean(&one.iwae), mean(&five.iwae), mean(&fifty.iwae));
    assert!(b5 > b1 && b50 > b5, "IWAE means {b1} {b5} {b50}");
    assert!(fifty.mean_gap() > five.mean_gap() && five.mean_gap() > 0.0);
    // The worst-served list: the largest gaps, in order.
    let worst = fifty.worst(5);
    let gaps = fifty.gaps();
    let mut sorted = gaps.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    assert_eq!(
        worst.iter().map(|w| w.1).collect::<Vec<_>>(),
        sorted[..5].to_vec()
    );
    assert!(worst.iter().all(|&(i, g)| gaps[i] == g));
    // Bad input: clear errors.
    let err = |k, n| amortisation_gaps(&model, lik, &data.test, n, k, 0, &dev).unwrap_err();
    assert_eq!(err(0, 10), GapError::Samples(0));
    assert_eq!(err(5000, 10), GapError::Samples(5000));
    assert_eq!(err(3, 0), GapError::NoImages);
}
