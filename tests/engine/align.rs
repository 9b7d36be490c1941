//! Aligning two models' latent spaces (`explore::align`, the `align` command): the Jacobi
//! SVD against closed forms, a known rotation recovered exactly, unrelated codes told
//! apart, canonical correlations of known relations, and a model whose weights are an
//! exact rotation of another's (encoder's mean head `W Q`, decoder's first layer `Qᵀ W`):
//! residual ≈ 0, the rotation recovered, and the same images from aligned codes.

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use latent_explorer::checkpoint::{self, CheckpointMeta};
use latent_explorer::explore::{self, CodeLabels, align, svd};
use latent_explorer::model::{DecoderNet, Encoder, Vae};
use latent_explorer::variant::AuxModules;
use serde_json::Value;

use crate::common::{Lcg, cpu, max_abs_diff, small};
use crate::explore_tools::{fixture, ok, s};

/// A random `d × d` orthogonal matrix (row-major) by Gram–Schmidt on Gaussian columns,
/// independent of the library's SVD.
pub(crate) fn random_orthogonal(d: usize, seed: u64) -> Vec<f64> {
    let mut rng = Lcg(seed);
    let mut cols: Vec<Vec<f64>> = Vec::new();
    while cols.len() < d {
        let mut v: Vec<f64> = (0..d).map(|_| rng.normal()).collect();
        for _ in 0..2 {
            for c in &cols {
                let dot: f64 = v.iter().zip(c).map(|(a, b)| a * b).sum();
                for (x, y) in v.iter_mut().zip(c) {
                    *x -= dot * y;
                }
            }
        }
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        cols.push(v.iter().map(|x| x / n).collect());
    }
    let mut q = vec![0.0; d * d];
    for (j, c) in cols.iter().enumerate() {
        for i in 0..d {
            q[i * d + j] = c[i];
        }
    }
    q
}

/// `a (n × k) · b (k × m)` in f64.
fn mul(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let mut o = vec![0.0; n * m];
    for i in 0..n {
        for l in 0..k {
            for j in 0..m {
                o[i * m + j] += a[i * k + l] * b[l * m + j];
            }
        }
    }
    o
}

fn transpose(a: &[f64], n: usize, m: usize) -> Vec<f64> {
    let mut t = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            t[j * n + i] = a[i * m + j];
        }
    }
    t
}

fn max_diff64(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn identity(d: usize) -> Vec<f64> {
    let mut i = vec![0.0; d * d];
    for k in 0..d {
        i[k * d + k] = 1.0;
    }
    i
}

/// Gaussian codes `n × d` with per-dimension scales (so no direction is degenerate).
fn codes(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut rng = Lcg(seed);
    (0..n * d)
        .map(|k| rng.normal() * (1.0 + (k % d) as f64 * 0.7))
        .collect()
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

#[test]
fn jacobi_svd_reconstructs_the_matrix_with_orthonormal_factors_and_known_values() {
    // A 2 × 2 closed form: [[3, 0], [4, 5]] has singular values √45 and √5.
    let (_, s2, _) = svd(&[3.0, 0.0, 4.0, 5.0], 2, 2).unwrap();
    let mut s2 = s2;
    s2.sort_by(|a, b| b.total_cmp(a));
    assert!((s2[0] - 45f64.sqrt()).abs() < 1e-12, "{s2:?}");
    assert!((s2[1] - 5f64.sqrt()).abs() < 1e-12, "{s2:?}");
    // A 7 × 4 matrix, and one whose last column is zero (rank 3).
    let mut rng = Lcg(3);
    let full: Vec<f64> = (0..28).map(|_| rng.normal()).collect();
    let mut deficient = full.clone();
    for r in 0..7 {
        deficient[r * 4 + 3] = 0.0;
    }
    for m in [full, deficient] {
        let (u, s, v) = svd(&m, 7, 4).unwrap();
        let mut us = u.clone();
        for r in 0..7 {
            for j in 0..4 {
                us[r * 4 + j] *= s[j];
            }
        }
        assert!(max_diff64(&mul(&us, &transpose(&v, 4, 4), 7, 4, 4), &m) < 1e-12);
        assert!(max_diff64(&mul(&transpose(&u, 7, 4), &u, 4, 7, 4), &identity(4)) < 1e-12);
        assert!(max_diff64(&mul(&transpose(&v, 4, 4), &v, 4, 4, 4), &identity(4)) < 1e-12);
        // Σ s² = ‖M‖²_F.
        let f: f64 = m.iter().map(|x| x * x).sum();
        assert!((s.iter().map(|x| x * x).sum::<f64>() - f).abs() < 1e-10);
    }
    assert!(svd(&[1.0, 2.0], 1, 2).is_none(), "rows < cols is refused");
}

#[test]
fn procrustes_recovers_a_known_rotation_and_shift_with_zero_residual() {
    let (n, d) = (300, 6);
    let a = codes(n, d, 11);
    let q = random_orthogonal(d, 12);
    let shift = [0.5, -1.0, 2.0, 0.0, 0.3, -0.7];
    let mut b = mul(&a, &q, n, d, d);
    for r in 0..n {
        for j in 0..d {
            b[r * d + j] += shift[j];
        }
    }
    let fit = align(&f32s(&a), d, &f32s(&b), d).unwrap();
    assert!(fit.residual < 1e-5, "residual {}", fit.residual);
    assert!(max_diff64(&fit.rotation, &q) < 1e-5, "R ≠ Q");
    let r = &fit.rotation;
    assert!(max_diff64(&mul(&transpose(r, d, d), r, d, d, d), &identity(d)) < 1e-10);
    // Every code maps onto its counterpart, and back.
    for i in [0, 17, 299] {
        let x = f32s(&a[i * d..(i + 1) * d]);
        let y = fit.map(&x);
        assert!(max_abs_diff(&y, &f32s(&b[i * d..(i + 1) * d])) < 1e-4);
        assert!(max_abs_diff(&fit.map_back(&y), &x) < 1e-4);
    }
    // 1 up to the ridge CCA adds (1e-6 of the mean variance).
    for c in &fit.canonical {
        assert!((c - 1.0).abs() < 1e-4, "{:?}", fit.canonical);
    }
    assert!(fit.mean_aligned_corr() > 1.0 - 1e-6);
}

#[test]
fn unrelated_codes_give_a_residual_near_root_two_and_small_canonical_correlations() {
    let (n, d) = (4000, 5);
    let (a, b) = (codes(n, d, 21), codes(n, d, 22));
    let fit = align(&f32s(&a), d, &f32s(&b), d).unwrap();
    // E‖A R − B‖² ≈ ‖A‖² + ‖B‖² − 2 Σσ(AᵀB); the fitted part is O(d / √n).
    assert!(
        fit.residual > 1.3 && fit.residual < 1.45,
        "residual {}",
        fit.residual
    );
    assert!(fit.canonical[0] < 0.1, "{:?}", fit.canonical);
    assert!(fit.mean_aligned_corr() < 0.1);
}

#[test]
fn canonical_correlations_match_known_relations_and_sizes_may_differ() {
    // y = ρ x + √(1 − ρ²) e: one canonical correlation ≈ ρ.
    let n = 20000;
    let mut rng = Lcg(5);
    let rho = 0.6;
    let x: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
    let y: Vec<f64> = x
        .iter()
        .map(|&v| rho * v + (1.0 - rho * rho).sqrt() * rng.normal())
        .collect();
    let fit = align(&f32s(&x), 1, &f32s(&y), 1).unwrap();
    assert!((fit.canonical[0] - rho).abs() < 0.02, "{:?}", fit.canonical);
    // Any invertible linear map keeps every canonical correlation at 1, where Procrustes
    // (no scaling) leaves a residual.
    let (n, d) = (500, 3);
    let a = codes(n, d, 6);
    let m = [2.0, 0.3, 0.0, 0.0, 0.5, 0.0, 0.1, 0.0, 1.0];
    let b = mul(&a, &m, n, d, d);
    let fit = align(&f32s(&a), d, &f32s(&b), d).unwrap();
    assert!(fit.canonical.iter().all(|c| (c - 1.0).abs() < 1e-4));
    assert!(fit.residual > 0.1, "residual {}", fit.residual);
    // A 3-d latent embedded in 5 dimensions (a semi-orthogonal map): recovered through
    // zero padding, residual 0, three canonical correlations of 1, and back again.
    let q = random_orthogonal(5, 7);
    let w: Vec<f64> = q[..15].to_vec(); // first 3 rows: 3 × 5, orthonormal rows
    let b = mul(&a, &w, n, d, 5);
    let fit = align(&f32s(&a), d, &f32s(&b), 5).unwrap();
    assert!(fit.residual < 1e-5, "residual {}", fit.residual);
    assert_eq!(fit.canonical.len(), 3);
    assert!(fit.canonical.iter().all(|c| (c - 1.0).abs() < 1e-4));
    let x = f32s(&a[..d]);
    assert!(max_abs_diff(&fit.map(&x), &f32s(&b[..5])) < 1e-4);
    assert!(max_abs_diff(&fit.map_back(&fit.map(&x)), &x) < 1e-4);
    // Bad input is an error, not a panic.
    assert!(align(&[1.0, 2.0, 3.0], 2, &[1.0, 2.0], 2).is_err());
    assert!(align(&[1.0, 2.0], 1, &[1.0, 2.0, 3.0], 1).is_err());
    assert!(align(&[1.0, f32::NAN], 1, &[1.0, 2.0], 1).is_err());
    assert!(align(&[1.0], 1, &[1.0], 1).is_err());
}

/// `t (d × d)` as a tensor.
fn tensor2(v: &[f64], rows: usize, cols: usize) -> Tensor<2> {
    Tensor::from_data(TensorData::new(f32s(v), [rows, cols]), &cpu())
}

/// `model` with its latent rotated by `q` (`d × d`): the encoder's mean head gives `μ Q`
/// (`W Q`, `b Q`) and the decoder's first layer reads `z Qᵀ` (`Qᵀ W`), so a code `z` of the
/// original and `z Q` of the rotated one decode alike. The log-variance head is left as it
/// is: only a permutation or sign flip keeps a diagonal posterior diagonal, and the
/// alignment and the decodes use the means.
pub(crate) fn rotated(model: &Vae, q: &[f64], d: usize) -> Vae {
    let mut m = model.clone();
    let qt = tensor2(q, d, d);
    match &mut m.encoder {
        Encoder::Mlp(e) => {
            let w = e.mu.weight.val().matmul(qt.clone());
            e.mu.weight = Param::from_tensor(w);
            if let Some(b) = &e.mu.bias {
                let b2: Tensor<2> = b.val().unsqueeze_dim(0);
                e.mu.bias = Some(Param::from_tensor(b2.matmul(qt.clone()).reshape([d])));
            }
        }
        Encoder::Conv(_) => panic!("an MLP model"),
    }
    match &mut m.decoder {
        DecoderNet::Mlp(dec) => {
            let first = &mut dec.body.layers[0];
            let w = qt.transpose().matmul(first.weight.val());
            first.weight = Param::from_tensor(w);
        }
        DecoderNet::Conv(_) => panic!("an MLP model"),
    }
    m
}

#[test]
fn a_model_with_rotated_weights_is_recovered_with_zero_residual_and_identical_decodes() {
    let data = small(10, 400);
    let mut cfg = latent_explorer::train::TrainConfig::default();
    cfg.model.latent_dim = 6;
    cfg.model.arch = latent_explorer::model::ArchConfig::Mlp { hidden: vec![32] };
    let dev = cpu();
    let model = cfg.model.init(&dev).unwrap();
    let d = 6;
    let q = random_orthogonal(d, 31);
    let turned = rotated(&model, &q, d);
    let idx: Vec<usize> = (0..400).collect();
    let (a, _) = explore::test_codes(&model, &data.test, &idx, &dev).unwrap();
    let (b, _) = explore::test_codes(&turned, &data.test, &idx, &dev).unwrap();
    // The rotated model's codes are exactly the original's times Q.
    let a64: Vec<f64> = a.iter().map(|&x| x as f64).collect();
    let want = f32s(&mul(&a64, &q, 400, d, d));
    assert!(max_abs_diff(&b, &want) < 1e-4);
    let fit = align(&a, d, &b, d).unwrap();
    assert!(fit.residual < 1e-4, "residual {}", fit.residual);
    assert!(max_diff64(&fit.rotation, &q) < 1e-3, "R ≠ Q");
    // Aligned points decode to the same images through either model: the original's codes
    // through it, their images under the map through the rotated one.
    let first = a[..16 * d].to_vec();
    let mapped = fit.map_all(&first);
    let x = explore::decode_codes(&model, first, d, CodeLabels::None, &dev).unwrap();
    let y = explore::decode_codes(&turned, mapped, d, CodeLabels::None, &dev).unwrap();
    assert!(max_abs_diff(&x, &y) < 1e-4, "{}", max_abs_diff(&x, &y));
    // An unrelated model (its own initialisation) does not align.
    let other = cfg.model.init(&dev).unwrap();
    let (c, _) = explore::test_codes(&other, &data.test, &idx, &dev).unwrap();
    let far = align(&c, d, &b, d).unwrap();
    assert!(far.residual > 0.3, "residual {}", far.residual);
}

#[test]
fn cli_align_reports_zero_residual_for_a_rotated_checkpoint_and_a_large_one_otherwise() {
    let f = fixture();
    let dev = cpu();
    let loaded = checkpoint::load(&f.ckpt, &dev).unwrap();
    let d = loaded.meta.train.model.latent_dim;
    let q = random_orthogonal(d, 41);
    let turned = rotated(&loaded.model, &q, d);
    let dir = tempfile::tempdir().unwrap();
    // The weights only (the fixture's file also carries its optimiser's state).
    let meta = CheckpointMeta::new(
        loaded.meta.train.clone(),
        loaded.meta.dataset.clone(),
        loaded.meta.epoch,
        loaded.meta.step,
        None,
    );
    let path = dir.path().join("rotated.safetensors");
    checkpoint::save(&path, &turned, &loaded.aux, &meta).unwrap();
    let fresh = dir.path().join("fresh.safetensors");
    let init = loaded.meta.train.model.init(&dev).unwrap();
    checkpoint::save(&fresh, &init, &AuxModules::empty(), &meta).unwrap();
    let json = |b: &std::path::Path| -> Value {
        let out = ok(&["align", s(&f.ckpt), s(b), "--data", s(&f.data), "--json"]);
        serde_json::from_str(out.trim()).unwrap()
    };
    let v = json(&path);
    crate::json_shape::check_envelope(&v, "align");
    let r = v["data"]["relative_residual"].as_f64().unwrap();
    assert!(r < 1e-4, "rotated: residual {r}");
    assert_eq!(v["data"]["images"], 300);
    // R itself is only determined up to the codes' weakest directions (a collapsed
    // dimension barely varies): it must at least be orthogonal.
    let rot: Vec<f64> = v["data"]["rotation"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect();
    assert!(max_diff64(&mul(&transpose(&rot, d, d), &rot, d, d, d), &identity(d)) < 1e-6);
    let far = json(&fresh)["data"]["relative_residual"].as_f64().unwrap();
    assert!(far > 0.3, "unrelated: residual {far}");
    // The text report says the same.
    let text = ok(&["align", s(&f.ckpt), s(&path), "--data", s(&f.data)]);
    assert!(text.contains("relative residual"), "{text}");
    assert!(text.contains("canonical correlations: 1.00"), "{text}");
}
