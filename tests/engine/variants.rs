//! Variant zoo: IWAE and WAE-MMD objectives.

use burn::tensor::{Tensor, TensorData};
use latent_explorer::train::{TrainConfig, Trainer};
use latent_explorer::variant::{Kernel, VariantKind, mmd2_unbiased};

use crate::common::{Lcg, cpu, scalar, small};

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
        let stats = |v: &[f64]| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
            (m, (var / v.len() as f64).sqrt())
        };
        let (m0, se0) = stats(&same);
        let (m1, se1) = stats(&shifted);
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

#[test]
fn iwae_and_wae_train_and_improve_reconstruction() {
    for v in [VariantKind::Iwae, VariantKind::WaeMmd] {
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
