//! Semi-supervised M2: the labelled selection and how it joins the batches, the unlabelled
//! loss against a host computation from per-class ELBOs, the classifier learning from 100
//! labels (the proving test), `eval`'s accuracy and the k-NN baseline.

use std::process::Command;

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use latent_explorer::checkpoint::{self, CheckpointMeta, DatasetInfo};
use latent_explorer::data::Batcher;
use latent_explorer::explore::{knn_accuracy, knn_predict};
use latent_explorer::model::{ArchConfig, LatentKind, Likelihood, VaeConfig};
use latent_explorer::train::{RunSpec, TrainConfig, Trainer};
use latent_explorer::variant::{
    LabelledError, LabelledPool, UNLABELLED, VariantKind, class_parts, classifier_accuracy,
    m2_loss, marginal, select_labelled,
};

use crate::common::{Lcg, bundled, cpu, log_bernoulli, scalar, small, t2, vec_of};

const BIN: &str = env!("CARGO_BIN_EXE_latent-explorer");

fn m2_config(batch: usize) -> TrainConfig {
    TrainConfig {
        variant: VariantKind::M2,
        batch_size: batch,
        ..TrainConfig::default()
    }
}

fn class_counts(labels: &[u8], chosen: &[usize]) -> Vec<usize> {
    let mut counts = vec![0; 10];
    for &i in chosen {
        counts[labels[i] as usize] += 1;
    }
    counts
}

#[test]
fn the_labelled_selection_is_balanced_exact_and_reproducible_by_seed() {
    let data = bundled();
    let labels = &data.train.labels;
    let a = select_labelled(labels, 10, 100, 7).unwrap();
    assert_eq!(a.len(), 100);
    assert!(a.windows(2).all(|w| w[0] < w[1]), "ascending and distinct");
    assert_eq!(class_counts(labels, &a), vec![10; 10]);
    assert_eq!(a, select_labelled(labels, 10, 100, 7).unwrap(), "same seed");
    let b = select_labelled(labels, 10, 100, 8).unwrap();
    assert_eq!(class_counts(labels, &b), vec![10; 10]);
    assert_ne!(a, b, "another seed, other images");
    // Not a multiple of the classes: the first 105 % 10 classes get one more.
    let c = select_labelled(labels, 10, 105, 7).unwrap();
    assert_eq!(c.len(), 105);
    assert_eq!(
        class_counts(labels, &c),
        vec![11, 11, 11, 11, 11, 10, 10, 10, 10, 10]
    );
    // Every image of the split, and one more than that.
    let all = select_labelled(&[0, 1, 1, 0], 2, 4, 3).unwrap();
    assert_eq!(all, vec![0, 1, 2, 3]);
    assert_eq!(
        select_labelled(labels, 10, 9, 0),
        Err(LabelledError::FewerThanClasses { n: 9, classes: 10 })
    );
    let n = labels.len();
    assert_eq!(
        select_labelled(labels, 10, n + 1, 0),
        Err(LabelledError::MoreThanTraining { n: n + 1, train: n })
    );
    assert_eq!(
        select_labelled(&[0, 0, 0, 1], 2, 4, 0),
        Err(LabelledError::ClassTooSmall {
            n: 4,
            class: 1,
            has: 1,
            need: 2
        })
    );

    // The pool: ⌈128 / 4⌉ = 32 of it join every batch, in passes that each visit all 100.
    let pool = LabelledPool::new(labels, 10, 100, 7, 128).unwrap();
    assert_eq!(pool.indices(), &a[..]);
    assert_eq!(pool.per_batch(), 32);
    let drawn: Vec<usize> = (0..25).flat_map(|s| pool.extras(s)).collect();
    for pass in drawn.chunks(100) {
        let mut p = pass.to_vec();
        p.sort_unstable();
        assert_eq!(p, a, "each pass visits the pool once");
    }
    assert_ne!(drawn[..100], drawn[100..200], "each pass in its own order");
    // A batch: the sweep's images labelled only where they are in the pool, then the
    // extras with their own labels.
    let sweep: Vec<usize> = (0..40).chain(a[..3].iter().copied()).collect();
    let dev = cpu();
    let batch = pool.batch(&Batcher::new(dev.clone()), &data.train, &sweep, 3, None);
    let got: Vec<i64> = batch.labels.into_data().iter::<i64>().collect();
    let extras = pool.extras(3);
    assert_eq!(got.len(), sweep.len() + 32);
    for (p, &i) in sweep.iter().chain(&extras).enumerate() {
        let want = if p >= sweep.len() || a.contains(&i) {
            labels[i] as i64
        } else {
            UNLABELLED
        };
        assert_eq!(got[p], want, "position {p} (image {i})");
    }
    let plain = Batcher::new(dev.clone()).batch(
        &data.train,
        &sweep.iter().chain(&extras).copied().collect::<Vec<_>>(),
    );
    assert_eq!(vec_of(batch.images), vec_of(plain.images));

    // The trainer keeps the pool its seed chooses, and refuses impossible counts by name.
    let mut cfg = m2_config(64);
    cfg.seed = 7;
    let t = Trainer::new(cfg.clone(), data.clone(), &dev).unwrap();
    assert_eq!(t.labelled().unwrap().indices(), &a[..]);
    for (n, says) in [
        (5, "labelled = 5: must be at least the 10 classes"),
        (n + 1, "must be at most the"),
    ] {
        cfg.variant_params.m2_labelled = n;
        let e = Trainer::new(cfg.clone(), data.clone(), &dev)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains(says), "{e}");
    }
    let spec = RunSpec {
        variant: VariantKind::M2,
        m2_alpha: Some(-1.0),
        ..RunSpec::default()
    };
    assert!(
        spec.validate()
            .unwrap_err()
            .to_string()
            .contains("m2_alpha")
    );
}

/// Softmax of one row of logits in f64, as log-probabilities.
fn log_softmax_host(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::MIN, f32::max) as f64;
    let lse = max
        + logits
            .iter()
            .map(|&l| (l as f64 - max).exp())
            .sum::<f64>()
            .ln();
    logits.iter().map(|&l| l as f64 - lse).collect()
}

#[test]
fn the_unlabelled_loss_is_the_expected_labelled_loss_minus_the_entropy() {
    let dev = cpu();
    dev.seed(11);
    let (c, d, b, px) = (3usize, 3usize, 5usize, 16usize);
    let cfg = VaeConfig {
        rows: 4,
        cols: 4,
        latent_dim: d,
        arch: ArchConfig::Mlp { hidden: vec![8] },
        likelihood: Likelihood::Bernoulli,
        latent: LatentKind::SemiSupervised {
            classes: c,
            hidden: vec![6],
        },
        channels: 1,
    };
    let model = cfg.init(&dev).unwrap();
    let mut rng = Lcg(23);
    let x: Vec<f32> = (0..b * px).map(|_| rng.uniform().round() as f32).collect();
    let eps = rng.normals(b * d);
    let xt = t2(x.clone(), [b, px], &dev);
    let et = t2(eps.clone(), [b, d], &dev);

    // Per class, separately and on the host: L(x, y) = −log p(x|y,z) + KL + log C with z
    // from the same noise for every class.
    let mut per_class = vec![vec![0.0f64; c]; b];
    for y in 0..c {
        let labels: Tensor<1, Int> =
            Tensor::from_data(TensorData::new(vec![y as i64; b], [b]), &dev);
        let (mu, lv) = model.encode_image(xt.clone(), Some(&labels));
        let (mu, lv) = (vec_of(mu), vec_of(lv));
        let z: Vec<f32> = (0..b * d)
            .map(|i| mu[i] + eps[i] * (0.5 * lv[i]).exp())
            .collect();
        let logits = vec_of(model.decode_image(t2(z, [b, d], &dev), Some(&labels)));
        for (i, row) in per_class.iter_mut().enumerate() {
            let rec = -log_bernoulli(&x[i * px..(i + 1) * px], &logits[i * px..(i + 1) * px]);
            let kl: f64 = (i * d..(i + 1) * d)
                .map(|j| {
                    let (m, l) = (mu[j] as f64, lv[j] as f64);
                    0.5 * (m * m + l.exp() - 1.0 - l)
                })
                .sum();
            row[y] = rec + kl + (c as f64).ln();
        }
    }
    let logits = vec_of(model.classifier.as_ref().unwrap().logits(xt.clone()));
    let log_q: Vec<Vec<f64>> = (0..b)
        .map(|i| log_softmax_host(&logits[i * c..(i + 1) * c]))
        .collect();
    let host_u: Vec<f64> = (0..b)
        .map(|i| {
            (0..c)
                .map(|y| {
                    let q = log_q[i][y].exp();
                    q * per_class[i][y] + q * log_q[i][y]
                })
                .sum()
        })
        .collect();
    // Not a degenerate case: the classes' losses differ and q is not one-hot.
    assert!(per_class.iter().any(|r| (r[0] - r[1]).abs() > 1e-2));
    assert!(log_q.iter().flatten().all(|&l| l > -20.0));

    let parts = class_parts(&model, Likelihood::Bernoulli, xt.clone(), Some(et.clone()));
    let lab = vec_of(parts.labelled(1.0));
    let u = vec_of(parts.unlabelled(1.0));
    for i in 0..b {
        for y in 0..c {
            let (got, want) = (lab[i * c + y] as f64, per_class[i][y]);
            assert!(
                (got - want).abs() < 1e-4 * want.abs().max(1.0),
                "L: {got} vs {want}"
            );
        }
        assert!(
            (u[i] as f64 - host_u[i]).abs() < 1e-4 * host_u[i].abs().max(1.0),
            "U(x_{i}): {} vs host {}",
            u[i],
            host_u[i]
        );
    }
    // The evaluation's split of U: expected rec + expected KL of z + KL of y.
    let m = marginal(&model, Likelihood::Bernoulli, xt.clone(), Some(et.clone()));
    let (rec, kl, kl_y) = (vec_of(m.rec), vec_of(m.kl), vec_of(m.kl_y));
    for i in 0..b {
        let sum =
            rec[i] as f64 + kl[i * d..(i + 1) * d].iter().sum::<f32>() as f64 + kl_y[i] as f64;
        assert!((sum - host_u[i]).abs() < 1e-4 * host_u[i].abs().max(1.0));
        let want_kl_y: f64 =
            (c as f64).ln() + (0..c).map(|y| log_q[i][y].exp() * log_q[i][y]).sum::<f64>();
        assert!((kl_y[i] as f64 - want_kl_y).abs() < 1e-5);
    }

    // The loss of a mixed batch: (N_l/N) mean_l (L + α CE) + (N_u/N) mean_u U.
    let labels = [0i64, UNLABELLED, 2, UNLABELLED, UNLABELLED];
    let lt: Tensor<1, Int> = Tensor::from_data(TensorData::new(labels.to_vec(), [b]), &dev);
    let (n, n_l, alpha) = (50usize, 10usize, 3.7);
    let out = m2_loss(
        &model,
        Likelihood::Bernoulli,
        xt,
        &lt,
        Some(et),
        n_l,
        n,
        alpha,
        1.0,
    );
    let lab_rows: Vec<usize> = (0..b).filter(|&i| labels[i] >= 0).collect();
    let unl_rows: Vec<usize> = (0..b).filter(|&i| labels[i] < 0).collect();
    let mean = |rows: &[usize], f: &dyn Fn(usize) -> f64| {
        rows.iter().map(|&i| f(i)).sum::<f64>() / rows.len() as f64
    };
    let mean_l = mean(&lab_rows, &|i| per_class[i][labels[i] as usize]);
    let mean_ce = mean(&lab_rows, &|i| -log_q[i][labels[i] as usize]);
    let mean_u = mean(&unl_rows, &|i| host_u[i]);
    let want = 0.2 * (mean_l + alpha * mean_ce) + 0.8 * mean_u;
    let got = scalar(out.total);
    assert!(
        (got - want).abs() < 1e-4 * want.abs(),
        "loss {got} vs host {want}"
    );
}

#[test]
fn knn_votes_by_majority_and_breaks_ties_by_the_nearest() {
    // Points on a line: labels 0 0 1 1 2 at 0, 1, 10, 11, 30.
    let points = [0.0f32, 1.0, 10.0, 11.0, 30.0];
    let labels = [0u8, 0, 1, 1, 2];
    let queries = [0.4f32, 10.6, 29.0, 6.0];
    assert_eq!(
        knn_predict(&points, &labels, &queries, 1, 1).unwrap(),
        vec![0, 1, 2, 1]
    );
    // k = 3: 29 has neighbours 30 (2), 11 (1), 10 (1): the majority, not the nearest.
    assert_eq!(
        knn_predict(&points, &labels, &queries, 1, 3).unwrap(),
        vec![0, 1, 1, 1]
    );
    // k = 2 at 6: 1 (dist 5, label 0) and 10 (dist 4, label 1) tie: the nearest wins.
    assert_eq!(
        knn_predict(&points, &labels, &[6.0], 1, 2).unwrap(),
        vec![1]
    );
}

/// The proving test: with 100 labels of ~8,000 training digits, a short M2 run's classifier
/// q(y|x) classifies the test digits far above chance (0.1). Labels misaligned with their
/// images in the batches (the planted bug `m2-batch-labels`) leave it near chance. The
/// run is then saved and `eval` reports the same accuracy, as text and as JSON.
#[test]
fn m2_classifier_learns_from_a_hundred_labels() {
    let data = bundled();
    let dev = cpu();
    let mut cfg = m2_config(128);
    cfg.model.latent_dim = 8;
    cfg.model.arch = ArchConfig::Mlp { hidden: vec![256] };
    cfg.variant_params.m2_hidden = vec![256];
    let mut t = Trainer::new(cfg, data.clone(), &dev).unwrap();
    let steps = 2 * t.steps_per_epoch();
    let start = std::time::Instant::now();
    for _ in 0..steps {
        let m = t.step().unwrap().metrics;
        assert!(m.terms.iter().all(|(_, v)| v.is_finite()), "{m:?}");
    }
    let model = t.inference_model();
    let acc = classifier_accuracy(&model, &data.test, &dev, 500).unwrap();
    println!(
        "M2, 100 labels, {steps} steps ({:.0} s): test accuracy {acc:.3}",
        start.elapsed().as_secs_f64()
    );
    assert!(acc > 0.5, "test accuracy {acc} with 100 labels");
    let m = t.evaluate(0);
    assert_eq!(m.extra("accuracy"), Some(acc));
    assert!(m.neg_elbo.is_finite() && m.extra("kl_y").unwrap() >= 0.0);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m2.safetensors");
    let meta = CheckpointMeta::new(
        t.config().clone(),
        DatasetInfo::of(&data),
        2,
        t.step_count(),
        None,
    );
    checkpoint::save(&path, &model, &t.aux().valid(), &meta).unwrap();
    let out = Command::new(BIN)
        .args(["eval", path.to_str().unwrap(), "--iwae-k", "0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("classifier q(y|x) accuracy {acc:.4}")),
        "{text}"
    );
    let out = Command::new(BIN)
        .args(["eval", path.to_str().unwrap(), "--iwae-k", "0", "--json"])
        .args(["--knn-labels", "100"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["data"]["accuracy"].as_f64(), Some(acc), "{v}");
    let knn = knn_accuracy(&model, &data, 100, 1, 0, &dev).unwrap();
    assert_eq!(
        v["data"]["knn_accuracy"]["accuracy"].as_f64(),
        Some(knn.accuracy)
    );
}

/// `--knn-labels` on a plain VAE: the figure M2 is compared with, and a clear refusal of a
/// count the data cannot give.
#[test]
fn eval_knn_labels_classifies_by_the_nearest_labelled_codes() {
    let data = small(600, 200);
    let dev = cpu();
    let mut t = Trainer::new(
        TrainConfig {
            batch_size: 100,
            ..TrainConfig::default()
        },
        data.clone(),
        &dev,
    )
    .unwrap();
    for _ in 0..12 {
        t.step().unwrap();
    }
    let model = t.inference_model();
    let knn = knn_accuracy(&model, &data, 50, 1, 0, &dev).unwrap();
    // Independently: encode the 50 chosen and the test images, nearest by brute force.
    let chosen = select_labelled(&data.train.labels, 10, 50, 0).unwrap();
    let batcher = Batcher::new(dev.clone());
    let codes = |split: &latent_explorer::data::Split, idx: &[usize]| {
        vec_of(model.encode(batcher.batch(split, idx).images).0)
    };
    let p = codes(&data.train, &chosen);
    let test_idx: Vec<usize> = (0..200).collect();
    let q = codes(&data.test, &test_idx);
    let mut right = 0;
    for i in 0..200 {
        let best = (0..50)
            .min_by(|&a, &b| {
                let dist = |j: usize| -> f64 {
                    (0..20)
                        .map(|k| ((q[i * 20 + k] - p[j * 20 + k]) as f64).powi(2))
                        .sum()
                };
                dist(a).total_cmp(&dist(b))
            })
            .unwrap();
        right += usize::from(data.train.labels[chosen[best]] == data.test.labels[i]);
    }
    assert_eq!(knn.accuracy, right as f64 / 200.0);
    println!(
        "VAE (12 steps) 1-NN accuracy with 50 labels: {}",
        knn.accuracy
    );
    assert!(knn.accuracy > 0.2, "{knn:?}");
    assert!(knn_accuracy(&model, &data, 5, 1, 0, &dev).is_err());
}
