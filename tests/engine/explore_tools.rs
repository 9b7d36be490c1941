//! Exploring tools against closed forms and hand-counted cases: paths, traversal ranges,
//! AUROC, shifted sets, per-image scores, GIF and CSV export, user input images, and the
//! `traverse`, `interpolate`, `anomaly`, `encode` and `train --without-class` commands run
//! as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use image::{AnimationDecoder, GrayImage, Luma};
use latent_explorer::checkpoint::{self, CheckpointMeta, DatasetInfo};
use latent_explorer::data::input::{InputError, MAX_INPUT_BYTES, load_image};
use latent_explorer::data::shift::{ShiftError, partition, without_class};
use latent_explorer::data::{Dataset, Shift, Split};
use latent_explorer::explore::{
    PathKind, RangeMode, auroc, dim_ranges, forth_and_back, order_by_desc, path, rank_by_score,
    slerp, traversal_grid,
};
use latent_explorer::export::{codes_csv, gif_bytes, save_gif, save_still_or_gif};
use latent_explorer::model::Vae;
use latent_explorer::train::metrics::{Posterior, encode_split, per_image_scores};
use latent_explorer::train::{TrainConfig, Trainer, evaluate};
use latent_explorer::variant::AuxModules;

use crate::common::{Lcg, bundled, cpu, small};

const BIN: &str = env!("CARGO_BIN_EXE_latent-explorer");

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt()
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

// ---------------------------------------------------------------------------------------
// Paths

#[test]
fn paths_end_at_both_codes_and_slerp_keeps_the_norm() {
    let mut rng = Lcg(11);
    let d = 8;
    let a = rng.normals(d);
    let raw = rng.normals(d);
    // b: another direction scaled to a's norm.
    let scale = (norm(&a) / norm(&raw)) as f32;
    let b: Vec<f32> = raw.iter().map(|x| x * scale).collect();
    let steps = 11;
    for kind in [PathKind::Linear, PathKind::Spherical] {
        let p = path(&a, &b, steps, kind);
        assert_eq!(p.len(), steps * d);
        assert!(close(&p[..d], &a, 1e-6), "{kind:?} starts at {:?}", &p[..d]);
        assert!(
            close(&p[(steps - 1) * d..], &b, 1e-6),
            "{kind:?} ends elsewhere"
        );
    }
    let na = norm(&a);
    let sp = path(&a, &b, steps, PathKind::Spherical);
    for (s, z) in sp.chunks_exact(d).enumerate() {
        assert!(
            (norm(z) - na).abs() < 1e-5 * na,
            "slerp step {s}: |z| {} vs {na}",
            norm(z)
        );
    }
    // lerp's midpoint is (a + b)/2 exactly, shorter than |a| unless a = b.
    let lp = path(&a, &b, steps, PathKind::Linear);
    let mid = &lp[5 * d..6 * d];
    let half_sum: Vec<f32> = a.iter().zip(&b).map(|(x, y)| (x + y) / 2.0).collect();
    assert!((norm(mid) - norm(&half_sum)).abs() < 1e-5, "lerp midpoint");
    assert!(norm(mid) < na - 0.1, "{} vs {na}", norm(mid));
    // One step gives the start alone.
    assert_eq!(path(&a, &b, 1, PathKind::Spherical), a);
}

#[test]
fn slerp_of_orthogonal_unit_vectors_has_cosine_and_sine_weights() {
    let e1 = [1.0f32, 0.0, 0.0];
    let e2 = [0.0f32, 1.0, 0.0];
    for t in [0.0f32, 0.1, 0.25, 0.5, 0.8, 1.0] {
        let s = slerp(&e1, &e2, t);
        let angle = t as f64 * std::f64::consts::FRAC_PI_2;
        let want = [angle.cos() as f32, angle.sin() as f32, 0.0];
        assert!(close(&s, &want, 1e-6), "t {t}: {s:?} vs {want:?}");
    }
}

#[test]
fn animations_go_forth_and_back_without_repeating_an_end() {
    assert_eq!(forth_and_back(4), vec![0, 1, 2, 3, 2, 1]);
    assert_eq!(forth_and_back(2), vec![0, 1]);
    assert_eq!(forth_and_back(1), vec![0]);
    assert!(forth_and_back(0).is_empty());
}

// ---------------------------------------------------------------------------------------
// Traversal ranges

#[test]
fn traversal_ranges_match_their_definitions() {
    // One dimension, codes 0, 2, 4: mean 2, population variance (4 + 0 + 4)/3 = 8/3.
    let codes = [0.0f32, 2.0, 4.0];
    let sd = (8.0f64 / 3.0).sqrt();
    let r = dim_ranges(&codes, 1, RangeMode::PosteriorSigma(1.0));
    assert!((r[0].0 as f64 - (2.0 - sd)).abs() < 1e-5, "{r:?}");
    assert!((r[0].1 as f64 - (2.0 + sd)).abs() < 1e-5, "{r:?}");
    let r = dim_ranges(&codes, 1, RangeMode::PosteriorSigma(2.5));
    assert!((r[0].1 as f64 - (2.0 + 2.5 * sd)).abs() < 1e-5, "{r:?}");
    assert_eq!(dim_ranges(&codes, 1, RangeMode::MinMax), vec![(0.0, 4.0)]);
    // Φ⁻¹(0.05) = −1.644853626951…
    let q = dim_ranges(&codes, 1, RangeMode::PriorQuantile(0.05));
    assert!((q[0].0 as f64 + 1.644_853_627).abs() < 1e-5, "{q:?}");
    assert!((q[0].1 as f64 - 1.644_853_627).abs() < 1e-5, "{q:?}");
    // Two dimensions, rows (0, 10), (2, 10), (4, 13): the second has mean 11 and population
    // variance (1 + 1 + 4)/3 = 2; each dimension is computed from its own column.
    let codes2 = [0.0f32, 10.0, 2.0, 10.0, 4.0, 13.0];
    assert_eq!(
        dim_ranges(&codes2, 2, RangeMode::MinMax),
        vec![(0.0, 4.0), (10.0, 13.0)]
    );
    let s = dim_ranges(&codes2, 2, RangeMode::PosteriorSigma(1.0));
    assert!((s[1].0 as f64 - (11.0 - 2f64.sqrt())).abs() < 1e-5, "{s:?}");
    assert!((s[1].1 as f64 - (11.0 + 2f64.sqrt())).abs() < 1e-5, "{s:?}");
    // The prior's range does not depend on the codes.
    assert_eq!(
        dim_ranges(&codes2, 2, RangeMode::PriorQuantile(0.1)),
        dim_ranges(&[], 2, RangeMode::PriorQuantile(0.1))
    );
}

#[test]
fn range_modes_parse_and_describe_themselves() {
    assert_eq!(
        RangeMode::parse("quantile").unwrap(),
        RangeMode::PriorQuantile(0.05)
    );
    assert_eq!(
        RangeMode::parse("quantile:0.01").unwrap(),
        RangeMode::PriorQuantile(0.01)
    );
    assert_eq!(
        RangeMode::parse("sigma").unwrap(),
        RangeMode::PosteriorSigma(2.0)
    );
    assert_eq!(
        RangeMode::parse("sigma:3").unwrap(),
        RangeMode::PosteriorSigma(3.0)
    );
    assert_eq!(RangeMode::parse("minmax").unwrap(), RangeMode::MinMax);
    let e = RangeMode::parse("sigma:-1").unwrap_err();
    assert!(e.contains("-1") && e.contains("positive"), "{e}");
    let e = RangeMode::parse("quantile:0.6").unwrap_err();
    assert!(e.contains("0.6") && e.contains("0.5"), "{e}");
    let e = RangeMode::parse("sigma:x").unwrap_err();
    assert!(e.contains("'x'") && e.contains("not a number"), "{e}");
    for bad in ["minmax:2", "range", ""] {
        let e = RangeMode::parse(bad).unwrap_err();
        assert!(e.contains("unknown range"), "{bad}: {e}");
    }
    let d = RangeMode::PriorQuantile(0.05).describe();
    assert!(d.contains("-1.64") && d.contains("+1.64"), "{d}");
    assert!(RangeMode::PosteriorSigma(2.0).describe().contains("± 2σ"));
}

#[test]
fn traversal_grid_rows_vary_only_their_own_dimension() {
    let base = [0.5f32, -0.5, 7.0];
    let ranges = [(-1.0f32, 1.0), (0.0, 0.0), (2.0, 4.0)];
    let dims = [2usize, 0];
    let steps = 3;
    let g = traversal_grid(&base, &dims, &ranges, steps);
    assert_eq!(g.len(), dims.len() * steps * base.len());
    let want_values = [[2.0f32, 3.0, 4.0], [-1.0, 0.0, 1.0]];
    for (r, &j) in dims.iter().enumerate() {
        for s in 0..steps {
            let z = &g[(r * steps + s) * 3..(r * steps + s + 1) * 3];
            for k in 0..3 {
                let want = if k == j { want_values[r][s] } else { base[k] };
                assert_eq!(z[k], want, "row {r} step {s} coordinate {k}");
            }
        }
    }
}

#[test]
fn kl_per_dimension_is_the_closed_form_mean() {
    // Image 1: μ = (1, 0), log σ² = (0, ln 4); image 2: the prior itself (KL 0).
    let ln4 = 4f32.ln();
    let p = Posterior {
        dim: 2,
        mu: vec![1.0, 0.0, 0.0, 0.0],
        logvar: vec![0.0, ln4, 0.0, 0.0],
    };
    let kl = p.kl_per_dim();
    // ½(1 + 1 − 1 − 0) = ½ and ½(0 + 4 − 1 − ln 4), each averaged with a 0.
    assert!((kl[0] - 0.25).abs() < 1e-7, "{kl:?}");
    let want = 0.5 * (3.0 - 4f64.ln()) / 2.0;
    assert!((kl[1] - want).abs() < 1e-6, "{kl:?}");
    assert_eq!(p.len(), 2);
    assert_eq!(p.mean(1), Some(&[0.0f32, 0.0][..]));
    assert_eq!(p.mean(2), None);
    assert_eq!(order_by_desc(&kl), vec![1, 0]);
}

// ---------------------------------------------------------------------------------------
// AUROC

/// P(shifted > normal) + ½ P(tie) by counting every pair.
fn brute_auroc(normal: &[f64], shifted: &[f64]) -> f64 {
    let mut wins = 0.0;
    for s in shifted {
        for n in normal {
            wins += if s > n {
                1.0
            } else if s == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (normal.len() * shifted.len()) as f64
}

#[test]
fn auroc_matches_a_hand_count_with_ties() {
    // normal = {1, 2, 2, 3}, shifted = {2, 3, 4}; pairs (shifted, normal), win 1, tie ½:
    //   2 vs 1, 2, 2, 3 → 1 + ½ + ½ + 0 = 2
    //   3 vs 1, 2, 2, 3 → 1 + 1 + 1 + ½ = 3.5
    //   4 vs 1, 2, 2, 3 → 4
    // 9.5 of 12 pairs.
    let a = auroc(&[1.0, 2.0, 2.0, 3.0], &[2.0, 3.0, 4.0]).unwrap();
    assert!((a - 9.5 / 12.0).abs() < 1e-12, "{a}");
    assert_eq!(auroc(&[1.0, 2.0], &[3.0, 4.0, 5.0]), Some(1.0));
    assert_eq!(auroc(&[3.0, 4.0, 5.0], &[1.0, 2.0]), Some(0.0));
    assert_eq!(auroc(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), Some(0.5));
    assert_eq!(auroc(&[7.0; 4], &[7.0; 9]), Some(0.5));
    assert_eq!(auroc(&[], &[1.0]), None);
    assert_eq!(auroc(&[1.0], &[]), None);
    assert_eq!(auroc(&[1.0, f64::NAN], &[2.0]), None);
}

#[test]
fn auroc_agrees_with_a_pair_count_on_random_data() {
    let mut rng = Lcg(5);
    for (n0, n1, shift) in [(57, 43, 0.0), (100, 7, 0.8), (3, 120, -0.5)] {
        // Rounded to one decimal, so that many scores tie.
        let round = |v: f64| (v * 10.0).round() / 10.0;
        let normal: Vec<f64> = (0..n0).map(|_| round(rng.normal())).collect();
        let shifted: Vec<f64> = (0..n1).map(|_| round(rng.normal() + shift)).collect();
        let a = auroc(&normal, &shifted).unwrap();
        let b = brute_auroc(&normal, &shifted);
        assert!((a - b).abs() < 1e-12, "{n0}/{n1}: {a} vs {b}");
    }
}

#[test]
fn ranking_puts_the_highest_and_non_finite_scores_first() {
    assert_eq!(rank_by_score(&[1.0, 5.0, f64::NAN, 3.0]), vec![2, 1, 3, 0]);
    // Ties keep index order.
    assert_eq!(rank_by_score(&[2.0, 2.0, 1.0]), vec![0, 1, 2]);
}

// ---------------------------------------------------------------------------------------
// Shifted sets

/// A split of `n` images `rows × cols` whose pixel `k` of image `i` is distinct.
fn numbered_split(n: usize, rows: usize, cols: usize) -> Split {
    let per = rows * cols;
    Split {
        rows,
        cols,
        channels: 1,
        pixels: (0..n * per)
            .map(|k| k as f32 / (n * per) as f32)
            .collect::<Vec<f32>>()
            .into(),
        labels: (0..n).map(|i| (i % 3) as u8).collect(),
    }
}

#[test]
fn invert_twice_and_rotate_four_times_are_the_identity() {
    let test = bundled().test.take(40);
    let twice = Shift::Invert.apply(&Shift::Invert.apply(&test));
    assert!(close(&twice.pixels.to_f32(), &test.pixels.to_f32(), 1e-6));
    assert_eq!(twice.labels, test.labels);
    let once = Shift::Invert.apply(&test);
    assert!((once.pixels.to_f32()[0] - (1.0 - test.pixels.to_f32()[0])).abs() < 1e-7);
    // 8-bit digits stay 8-bit, exactly: 255 − k.
    assert!(matches!(once.pixels, latent_explorer::data::Pixels::U8(_)));
    assert_eq!(twice.pixels, test.pixels);
    let mut r = test.clone();
    for turn in 1..=4 {
        r = Shift::Rotate.apply(&r);
        if turn < 4 {
            assert_ne!(r.pixels, test.pixels, "{turn} quarter turns");
        }
    }
    assert_eq!(r.pixels, test.pixels);
}

#[test]
fn rotate_is_a_clockwise_quarter_turn_on_squares_and_a_half_turn_otherwise() {
    let sq = numbered_split(1, 4, 4);
    let at = |s: &Split, y: usize, x: usize| s.pixels.to_f32()[y * s.cols + x];
    let r = Shift::Rotate.apply(&sq);
    // Clockwise: top-left → top-right, top-right → bottom-right, bottom-left → top-left,
    // and (row 1, col 0) → (row 0, col 2).
    assert_eq!(at(&r, 0, 3), at(&sq, 0, 0));
    assert_eq!(at(&r, 3, 3), at(&sq, 0, 3));
    assert_eq!(at(&r, 0, 0), at(&sq, 3, 0));
    assert_eq!(at(&r, 0, 2), at(&sq, 1, 0));
    let wide = numbered_split(1, 2, 3);
    let h = Shift::Rotate.apply(&wide);
    let mut reversed = wide.pixels.to_f32();
    reversed.reverse();
    assert_eq!(
        h.pixels.to_f32(),
        reversed,
        "a half turn reverses the pixel order"
    );
}

#[test]
fn noise_is_reproducible_bounded_and_near_its_sigma() {
    let test = bundled().test.take(50);
    let a = Shift::Noise(0.1).apply(&test);
    assert_eq!(a.pixels, Shift::Noise(0.1).apply(&test).pixels);
    let (noisy, clean) = (a.pixels.to_f32(), test.pixels.to_f32());
    assert!(noisy.iter().all(|p| (0.0..=1.0).contains(p)));
    // Pixels at mid-range are not clipped: there the change has standard deviation 0.1.
    let diffs: Vec<f64> = noisy
        .iter()
        .zip(&clean)
        .filter(|(_, x)| (0.4..=0.6).contains(*x))
        .map(|(y, x)| (y - x) as f64)
        .collect();
    assert!(diffs.len() > 100, "{}", diffs.len());
    let sd = (diffs.iter().map(|d| d * d).sum::<f64>() / diffs.len() as f64).sqrt();
    assert!((sd - 0.1).abs() < 0.02, "noise sd {sd}");
}

#[test]
fn class_shift_partitions_the_test_set_by_label() {
    let test = bundled().test.take(300);
    let k = 3u8;
    let want_held = test.labels.iter().filter(|&&l| l == k).count();
    assert!(want_held > 0);
    let (normal, held) = Shift::Class(k).split(&test).unwrap();
    assert_eq!(held.len(), want_held);
    assert_eq!(normal.len(), test.len() - want_held);
    assert!(held.labels.iter().all(|&l| l == k));
    assert!(normal.labels.iter().all(|&l| l != k));
    // Order kept: the first held image is the first test image of class k.
    let first = test.labels.iter().position(|&l| l == k).unwrap();
    assert_eq!(held.image(0), test.image(first));
    // Other shifts keep the test set whole as the in-distribution set.
    let (n, s) = Shift::Invert.split(&test).unwrap();
    assert_eq!((n.len(), s.len()), (300, 300));
    // A class no test image has, and a test set of one class.
    assert_eq!(
        Shift::Class(42).split(&test).unwrap_err(),
        ShiftError::NoSuchClass(42)
    );
    let (only, _) = partition(&test, |l| l == k);
    assert_eq!(
        Shift::Class(k).split(&only).unwrap_err(),
        ShiftError::OnlyClass(k)
    );
}

#[test]
fn shifts_parse_and_bad_ones_say_why() {
    assert_eq!("invert".parse::<Shift>(), Ok(Shift::Invert));
    assert_eq!("rotate".parse::<Shift>(), Ok(Shift::Rotate));
    assert_eq!("noise".parse::<Shift>(), Ok(Shift::Noise(0.3)));
    assert_eq!("noise:0.5".parse::<Shift>(), Ok(Shift::Noise(0.5)));
    assert_eq!("class:7".parse::<Shift>(), Ok(Shift::Class(7)));
    for s in [
        Shift::Invert,
        Shift::Rotate,
        Shift::Noise(0.25),
        Shift::Class(4),
    ] {
        assert_eq!(s.to_string().parse::<Shift>(), Ok(s), "round trip of {s}");
    }
    let e = "noise:2".parse::<Shift>().unwrap_err();
    assert!(e.contains("'2'") && e.contains("(0, 1]"), "{e}");
    let e = "class:x".parse::<Shift>().unwrap_err();
    assert!(e.contains("'x'") && e.contains("label"), "{e}");
    for bad in ["blur", "invert:1", "class"] {
        let e = bad.parse::<Shift>().unwrap_err();
        assert!(e.contains(&format!("unknown shift '{bad}'")), "{e}");
    }
}

#[test]
fn without_class_drops_it_from_training_only() {
    let data = bundled();
    let k = 3u8;
    let count = data.train.labels.iter().filter(|&&l| l == k).count();
    let d = without_class(&data, k).unwrap();
    assert_eq!(d.train.len(), data.train.len() - count);
    assert!(d.train.labels.iter().all(|&l| l != k));
    assert_eq!(d.test.labels, data.test.labels);
    assert!(d.name.contains("without class 3"), "{}", d.name);
    let e = without_class(&data, 42).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("label 42") && msg.contains("0, 1, 2, 3, 4, 5, 6, 7, 8, 9"),
        "{msg}"
    );
    let (only, _) = partition(&data.train.take(200), |l| l == k);
    let one_class = Dataset {
        name: "threes".into(),
        train: only,
        test: data.test.take(10),
        factors: None,
    };
    assert!(matches!(
        without_class(&one_class, k),
        Err(ShiftError::OnlyClassInTraining { class: 3, .. })
    ));
}

// ---------------------------------------------------------------------------------------
// Per-image scores

/// A default VAE (MLP 784-400-20) after one epoch on 2,000 digits, with 1,000 test digits.
fn trained_vae() -> (Vae, Arc<Dataset>) {
    let data = small(2000, 1000);
    let cfg = TrainConfig {
        epochs: 1,
        seed: 7,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(cfg, data.clone(), &cpu()).unwrap();
    while !t.step().unwrap().epoch_done {}
    (t.inference_model(), data)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn sd(v: &[f64]) -> f64 {
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

#[test]
fn per_image_scores_agree_with_evaluate_and_iwae_is_tighter() {
    let (model, data) = trained_vae();
    let dev = cpu();
    let lik = TrainConfig::default().model.likelihood;
    let test = &data.test;
    let n = test.len() as f64;
    let s1 = per_image_scores(&model, lik, test, &dev, 128, 0);
    let s2 = per_image_scores(&model, lik, test, &dev, 128, 0);
    assert_eq!(s1.len(), test.len());
    let m = evaluate(&model, lik, test, &dev, 128, 0);
    // Both estimate the mean −ELBO; only the reconstruction term is sampled (the KL is in
    // closed form). Per image, a one-sample estimate has Monte Carlo variance σ², the
    // 8-sample mean σ²/8, so two independent scorings differ per image with variance
    // 2σ²/8: σ² ≈ 4·Var(s1 − s2). evaluate's mean carries σ²/n, ours σ²/(8n): their
    // difference has standard error √(σ²(1 + 1/8)/n).
    let diff: Vec<f64> = s1.iter().zip(&s2).map(|(a, b)| a - b).collect();
    let sigma2 = 4.0 * sd(&diff).powi(2);
    assert!(sigma2 > 0.0, "scores are not sampled");
    let se = (sigma2 * 1.125 / n).sqrt();
    // The tolerance is well below the KL term (about 13 nats here, 5 SE about 3), so
    // leaving it out (or scoring only one term) would fail.
    assert!(5.0 * se < m.kl / 2.0, "se {se}, KL {}", m.kl);
    let gap = mean(&s1) - m.neg_elbo;
    assert!(
        gap.abs() < 5.0 * se,
        "mean score {} vs evaluate's −ELBO {} (5 SE = {})",
        mean(&s1),
        m.neg_elbo,
        5.0 * se
    );
    // −IWAE with k = 1 is the one-sample −ELBO (KL sampled too): the same mean. The
    // per-image differences are independent, so their mean has SE sd/√n.
    let k1 = per_image_scores(&model, lik, test, &dev, 128, 1);
    let d1: Vec<f64> = k1.iter().zip(&s1).map(|(a, b)| a - b).collect();
    assert!(
        mean(&d1).abs() < 5.0 * sd(&d1) / n.sqrt(),
        "IWAE(1) − ELBO: mean {} sd {}",
        mean(&d1),
        sd(&d1)
    );
    // With k = 50 the bound is tighter (Burda et al.: E log mean_k w ≥ E log w by
    // Jensen), so −IWAE ≤ −ELBO on average, by more than the noise.
    let k50 = per_image_scores(&model, lik, test, &dev, 128, 50);
    let d50: Vec<f64> = k50.iter().zip(&s1).map(|(a, b)| a - b).collect();
    assert!(
        mean(&d50) < -5.0 * sd(&d50) / n.sqrt(),
        "IWAE(50) − ELBO: mean {} sd {}",
        mean(&d50),
        sd(&d50)
    );
    let tighter = d50.iter().filter(|&&d| d <= 0.0).count();
    assert!(tighter * 10 > test.len() * 9, "{tighter} of {n}");
}

// ---------------------------------------------------------------------------------------
// GIF, PNG and CSV export

fn decode_gif(bytes: &[u8]) -> Vec<image::Frame> {
    image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap()
}

#[test]
fn gifs_decode_back_with_their_frames_sizes_and_delay() {
    let frames: Vec<GrayImage> = [0u8, 100, 255]
        .iter()
        .map(|&v| GrayImage::from_fn(5, 4, |x, y| Luma([if (x + y) % 2 == 0 { v } else { 50 }])))
        .collect();
    let dynamic: Vec<image::DynamicImage> = frames
        .iter()
        .cloned()
        .map(image::DynamicImage::ImageLuma8)
        .collect();
    let bytes = gif_bytes(&dynamic, 120).unwrap();
    let back = decode_gif(&bytes);
    assert_eq!(back.len(), 3);
    for (f, want) in back.iter().zip(&frames) {
        let buf = f.buffer();
        assert_eq!(buf.dimensions(), (5, 4));
        for (x, y, p) in buf.enumerate_pixels() {
            let v = want.get_pixel(x, y).0[0];
            assert_eq!(p.0, [v, v, v, 255], "({x}, {y})");
        }
        assert_eq!(f.delay().numer_denom_ms(), (120, 1));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.gif");
    save_gif(&dynamic, 120, &path).unwrap();
    assert_eq!(decode_gif(&std::fs::read(&path).unwrap()).len(), 3);
    // By extension: a .png gets the still image, a .gif the frames.
    let grey = GrayImage::from_pixel(7, 3, Luma([9]));
    let still = image::DynamicImage::ImageLuma8(grey.clone());
    let png = dir.path().join("s.png");
    save_still_or_gif(&still, &dynamic, 50, &png).unwrap();
    let img = image::open(&png).unwrap();
    assert_eq!(img.color(), image::ColorType::L8, "a grey still stays grey");
    assert_eq!(img.to_luma8(), grey);
    let gif = dir.path().join("s.GIF");
    save_still_or_gif(&still, &dynamic, 50, &gif).unwrap();
    assert_eq!(decode_gif(&std::fs::read(&gif).unwrap()).len(), 3);
    // Bad frame lists are errors, not panics.
    assert!(gif_bytes(&[], 100).is_err());
    let other = image::DynamicImage::ImageLuma8(GrayImage::new(2, 2));
    assert!(gif_bytes(&[dynamic[0].clone(), other], 100).is_err());
}

#[test]
fn codes_csv_has_a_header_and_values_that_parse_back_exactly() {
    let dev = cpu();
    let mut cfg = TrainConfig::default();
    cfg.model.latent_dim = 3;
    dev.seed(3);
    let model = cfg.model.init(&dev).unwrap();
    let test = bundled().test.take(6);
    let post = encode_split(&model, &test, &dev, 4);
    assert_eq!((post.dim, post.len()), (3, 6));
    // Batching does not change the codes: one image at a time gives the same.
    let one = encode_split(&model, &test.take(1), &dev, 1);
    assert!(close(&one.mu, &post.mu[..3], 1e-5));
    let csv = codes_csv(&post, &test.labels);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(
        lines[0],
        "index,label,mu_0,mu_1,mu_2,logvar_0,logvar_1,logvar_2"
    );
    for (i, line) in lines[1..].iter().enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 8);
        assert_eq!(f[0].parse::<usize>().unwrap(), i);
        assert_eq!(f[1].parse::<u8>().unwrap(), test.labels[i]);
        let v: Vec<f32> = f[2..].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(&v[..3], &post.mu[i * 3..i * 3 + 3]);
        assert_eq!(&v[3..], &post.logvar[i * 3..i * 3 + 3]);
    }
}

// ---------------------------------------------------------------------------------------
// User input images

#[test]
fn input_images_load_exactly_invert_light_backgrounds_and_refuse_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    // Dark background, a bright pattern: taken pixel for pixel.
    let dark = GrayImage::from_fn(28, 28, |x, y| {
        Luma([if (4..24).contains(&x) && y == 14 {
            200 + (x % 7) as u8
        } else {
            (x + y) as u8 % 5
        }])
    });
    let p = dir.path().join("dark.png");
    dark.save(&p).unwrap();
    let img = load_image(&p, 28, 28).unwrap();
    assert!(!img.inverted);
    assert_eq!(img.original, (28, 28));
    let want: Vec<f32> = dark.pixels().map(|p| p.0[0] as f32 / 255.0).collect();
    assert_eq!(img.pixels, want);
    // White paper, a black stroke: inverted.
    let light = GrayImage::from_fn(28, 28, |x, _| Luma([if x == 10 { 0 } else { 250 }]));
    let p = dir.path().join("light.png");
    light.save(&p).unwrap();
    let img = load_image(&p, 28, 28).unwrap();
    assert!(img.inverted);
    let want: Vec<f32> = light
        .pixels()
        .map(|p| (255 - p.0[0]) as f32 / 255.0)
        .collect();
    assert_eq!(img.pixels, want);
    // Another size is fitted to the model's.
    let big = GrayImage::from_fn(100, 60, |x, y| Luma([if x == y { 255 } else { 0 }]));
    let p = dir.path().join("big.png");
    big.save(&p).unwrap();
    let img = load_image(&p, 28, 28).unwrap();
    assert_eq!((img.pixels.len(), img.original), (784, (100, 60)));
    // Not an image.
    let p = dir.path().join("notes.png");
    std::fs::write(&p, "not a picture").unwrap();
    let e = load_image(&p, 28, 28).unwrap_err();
    assert!(matches!(e, InputError::Decode { .. }), "{e}");
    assert!(e.to_string().contains("notes.png"), "{e}");
    // Wider than the decoder's limit (8192): refused before decoding the pixels.
    let p = dir.path().join("wide.png");
    GrayImage::new(9000, 1).save(&p).unwrap();
    let e = load_image(&p, 28, 28).unwrap_err();
    assert!(matches!(e, InputError::Decode { .. }), "{e}");
    // Larger than the byte limit (a sparse file: no 32 MB written).
    let p = dir.path().join("huge.png");
    std::fs::File::create(&p)
        .unwrap()
        .set_len(MAX_INPUT_BYTES + 1)
        .unwrap();
    let e = load_image(&p, 28, 28).unwrap_err();
    assert!(matches!(e, InputError::TooLarge { .. }), "{e}");
    // Missing.
    let e = load_image(&dir.path().join("nope.png"), 28, 28).unwrap_err();
    assert!(matches!(e, InputError::Io { .. }), "{e}");
}

// ---------------------------------------------------------------------------------------
// The commands, run as a user runs them

/// Shared by the command tests: a small MNIST-format directory (the first 1,000 train and
/// 300 test digits of the bundled set), checkpoints trained on it by the `train` command
/// (one epoch of an MLP 784-32-4; one of them without class 3), and one for 14x14 images.
pub(crate) struct Fixture {
    pub(crate) dir: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) ckpt: PathBuf,
    pub(crate) held_out: PathBuf,
    pub(crate) wrong_size: PathBuf,
}

pub(crate) fn write_idx(dir: &Path, name: &str, split: &Split) {
    let n = split.len() as u32;
    let mut images = 0x803u32.to_be_bytes().to_vec();
    for d in [n, split.rows as u32, split.cols as u32] {
        images.extend(d.to_be_bytes());
    }
    images.extend(
        split
            .pixels
            .to_f32()
            .iter()
            .map(|p| (p * 255.0).round() as u8),
    );
    let mut labels = 0x801u32.to_be_bytes().to_vec();
    labels.extend(n.to_be_bytes());
    labels.extend(&split.labels);
    let (img_name, label_name) = match name {
        "train" => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        _ => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    };
    std::fs::write(dir.join(img_name), images).unwrap();
    std::fs::write(dir.join(label_name), labels).unwrap();
}

pub(crate) fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

pub(crate) fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: exit {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Run a command that must fail: non-zero exit, no panic; returns stderr.
pub(crate) fn fails(args: &[&str]) -> String {
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(!stderr.contains("panicked"), "{args:?} panicked:\n{stderr}");
    stderr
}

pub(crate) fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        // One fixed directory, made afresh by each run of the test binary (a temporary
        // directory held by a static would never be removed).
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("explore_tools");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let b = bundled();
        write_idx(&data, "train", &b.train.take(1000));
        write_idx(&data, "test", &b.test.take(300));
        let ckpt = dir.join("tiny.safetensors");
        let held_out = dir.join("tiny-without-3.safetensors");
        let d = data.to_str().unwrap();
        for (out, extra) in [(&ckpt, None), (&held_out, Some("3"))] {
            let mut args = vec![
                "train",
                "--data",
                d,
                "--epochs",
                "1",
                "--hidden",
                "32",
                "--latent",
                "4",
                "--final-iwae-k",
                "0",
                "--out",
                out.to_str().unwrap(),
            ];
            if let Some(k) = extra {
                args.extend(["--without-class", k]);
            }
            ok(&args);
        }
        let mut cfg = TrainConfig::default();
        cfg.model.rows = 14;
        cfg.model.cols = 14;
        cfg.model.latent_dim = 4;
        let model = cfg.model.init(&cpu()).unwrap();
        let wrong_size = dir.join("small-images.safetensors");
        let info = DatasetInfo {
            rows: 14,
            cols: 14,
            ..DatasetInfo::of(&bundled())
        };
        checkpoint::save(
            &wrong_size,
            &model,
            &AuxModules::empty(),
            &CheckpointMeta::new(cfg, info, 0, 0, None),
        )
        .unwrap();
        Fixture {
            dir,
            data,
            ckpt,
            held_out,
            wrong_size,
        }
    })
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The fixture's data as the library loads it.
pub(crate) fn fixture_data() -> Dataset {
    Dataset::from_dir(&fixture().data).unwrap()
}

#[test]
fn cli_traverse_writes_the_grid_the_gif_and_the_frames() {
    let f = fixture();
    let out_dir = tempfile::tempdir().unwrap();
    let png = out_dir.path().join("t.png");
    let text = ok(&[
        "traverse",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--out",
        s(&png),
        "--steps",
        "5",
        "--dims",
        "3",
        "--range",
        "minmax",
    ]);
    let img = image::open(&png).unwrap().to_luma8();
    // 5 columns and 3 rows of 28-pixel tiles with 2-pixel gaps.
    assert_eq!(img.dimensions(), (5 * 28 + 6 * 2, 3 * 28 + 4 * 2));
    assert!(text.contains(&RangeMode::MinMax.describe()), "{text}");
    // The rows are the dimensions of largest KL, with their min…max ranges, as the library
    // computes them from the same checkpoint and data.
    let loaded = checkpoint::load(&f.ckpt, &cpu()).unwrap();
    let data = fixture_data();
    let post = encode_split(&loaded.model, &data.test, &cpu(), 100);
    let kl = post.kl_per_dim();
    let order = order_by_desc(&kl);
    let ranges = dim_ranges(&post.mu, 4, RangeMode::MinMax);
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter_map(|l| {
            let v: Vec<f64> = l
                .split_whitespace()
                .map(|w| w.parse::<f64>())
                .collect::<Result<_, _>>()
                .ok()?;
            (v.len() == 5).then_some(v)
        })
        .collect();
    assert_eq!(rows.len(), 3, "{text}");
    for (r, row) in rows.iter().enumerate() {
        let j = order[r];
        assert_eq!(row[0] as usize, r);
        assert_eq!(row[1] as usize, j, "{text}");
        assert!((row[2] - kl[j]).abs() < 2e-3, "KL {} vs {}", row[2], kl[j]);
        assert!((row[3] - ranges[j].0 as f64).abs() < 2e-3, "{text}");
        assert!((row[4] - ranges[j].1 as f64).abs() < 2e-3, "{text}");
    }
    // The animation: 4 values forth and back = 6 frames of one column of 3 tiles; the
    // frames directory gets the 4 distinct ones.
    let gif = out_dir.path().join("t.gif");
    let frames_dir = out_dir.path().join("frames");
    ok(&[
        "traverse",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--out",
        s(&gif),
        "--steps",
        "4",
        "--dims",
        "3",
        "--digit",
        "7",
        "--frames",
        s(&frames_dir),
    ]);
    let frames = decode_gif(&std::fs::read(&gif).unwrap());
    assert_eq!(frames.len(), 6);
    assert_eq!(frames[0].buffer().dimensions(), (28 + 4, 3 * 28 + 4 * 2));
    let mut names: Vec<String> = std::fs::read_dir(&frames_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "frame-00.png",
            "frame-01.png",
            "frame-02.png",
            "frame-03.png"
        ]
    );
    // Frame 3 (the last value) is the GIF's frame 3, and frame 1 its frame 5 (on the way
    // back).
    let frame = |i: usize| {
        image::open(frames_dir.join(format!("frame-{i:02}.png")))
            .unwrap()
            .to_luma8()
    };
    let gray = |f: &image::Frame| image::DynamicImage::ImageRgba8(f.buffer().clone()).to_luma8();
    assert_eq!(gray(&frames[3]), frame(3));
    assert_eq!(gray(&frames[5]), frame(1));
    assert_ne!(frame(0), frame(3), "the sweep changes the images");
}

#[test]
fn cli_traverse_refuses_bad_input_with_a_clear_message() {
    let f = fixture();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("t.png");
    let base = [
        "traverse",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--out",
        s(&out),
    ];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend(extra);
        fails(&a)
    };
    let e = with(&["--range", "sigma:-1"]);
    assert!(e.contains("sigma multiple -1 must be positive"), "{e}");
    let e = with(&["--steps", "1"]);
    assert!(e.contains("--steps") && e.contains("2..=64"), "{e}");
    let e = with(&["--steps", "100000"]);
    assert!(e.contains("2..=64"), "{e}");
    let e = with(&["--dims", "5"]);
    assert!(
        e.contains("--dims 5") && e.contains("4 latent dimensions"),
        "{e}"
    );
    let e = with(&["--digit", "300"]);
    assert!(e.contains("--digit 300") && e.contains("300 images"), "{e}");
    let e = fails(&[
        "traverse",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--out",
        s(&out_dir.path().join("t.jpg")),
    ]);
    assert!(e.contains("t.jpg") && e.contains(".png"), "{e}");
    assert!(!out.exists(), "nothing written on an error");
}

#[test]
fn cli_interpolate_writes_a_strip_and_an_animation() {
    let f = fixture();
    let out_dir = tempfile::tempdir().unwrap();
    let png = out_dir.path().join("p.png");
    let text = ok(&[
        "interpolate",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--from",
        "2",
        "--to",
        "5",
        "--steps",
        "6",
        "--slerp",
        "--out",
        s(&png),
    ]);
    assert!(text.contains("slerp"), "{text}");
    let img = image::open(&png).unwrap().to_luma8();
    // Original, 6 decoded codes, original: 8 tiles in one row.
    assert_eq!(img.dimensions(), (8 * 28 + 9 * 2, 28 + 4));
    let data = fixture_data();
    let tile = |t: usize| -> Vec<u8> {
        let x0 = 2 + t as u32 * 30;
        (0..28u32)
            .flat_map(|y| (0..28u32).map(move |x| (x, y)))
            .map(|(x, y)| img.get_pixel(x0 + x, 2 + y).0[0])
            .collect()
    };
    let as_u8 = |i: usize| -> Vec<u8> {
        data.test
            .image(i)
            .iter()
            .map(|v| (v * 255.0).round() as u8)
            .collect()
    };
    assert_eq!(tile(0), as_u8(2), "the first tile is test digit 2");
    assert_eq!(tile(7), as_u8(5), "the last tile is test digit 5");
    assert_ne!(tile(1), tile(6), "the path moves");
    // The slerp path's norms, printed, go from |μ_2| to |μ_5|.
    let norms: Vec<f64> = text
        .lines()
        .find_map(|l| l.strip_prefix("code norms |z|: "))
        .unwrap()
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(norms.len(), 6);
    let loaded = checkpoint::load(&f.ckpt, &cpu()).unwrap();
    let post = encode_split(&loaded.model, &data.test.take(6), &cpu(), 6);
    let n2 = norm(post.mean(2).unwrap());
    let n5 = norm(post.mean(5).unwrap());
    assert!((norms[0] - n2).abs() < 6e-3 && (norms[5] - n5).abs() < 6e-3);
    let gif = out_dir.path().join("p.gif");
    ok(&[
        "interpolate",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--from",
        "2",
        "--to",
        "5",
        "--steps",
        "6",
        "--out",
        s(&gif),
    ]);
    let frames = decode_gif(&std::fs::read(&gif).unwrap());
    assert_eq!(frames.len(), 10);
    assert_eq!(frames[0].buffer().dimensions(), (3 * 28 + 4 * 2, 28 + 4));
}

#[test]
fn cli_interpolate_names_an_index_out_of_range() {
    let f = fixture();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("p.png");
    let e = fails(&[
        "interpolate",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--from",
        "0",
        "--to",
        "300",
        "--out",
        s(&out),
    ]);
    assert!(
        e.contains("--to 300 is out of range") && e.contains("has 300 images"),
        "{e}"
    );
    assert!(!out.exists());
}

#[test]
fn cli_anomaly_reports_json_and_text() {
    let f = fixture();
    let json = ok(&[
        "anomaly",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--shift",
        "invert",
        "--top",
        "4",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    let v = &v["data"];
    assert_eq!(v["shift"], "invert");
    assert_eq!(v["score"], "neg_elbo");
    assert_eq!(
        (v["n_normal"].as_u64(), v["n_shifted"].as_u64()),
        (Some(300), Some(300))
    );
    let a = v["auroc"].as_f64().unwrap();
    // The same report from the library, seed 0 as the command's default, and its AUROC
    // counted pair by pair (ties half) from its scores: the command prints that figure.
    let loaded = checkpoint::load(&f.ckpt, &cpu()).unwrap();
    let data = fixture_data();
    let rep = latent_explorer::explore::anomaly_report(
        latent_explorer::explore::ScoredModel {
            model: &loaded.model,
            likelihood: loaded.meta.train.model.likelihood,
            variant: loaded.meta.train.variant,
            held_out: None,
        },
        &data.test,
        latent_explorer::explore::AnomalyQuery {
            shift: Shift::Invert,
            iwae_k: 0,
            seed: 0,
        },
        &cpu(),
    )
    .unwrap();
    let pairs: f64 = rep
        .normal
        .iter()
        .flat_map(|n| rep.shifted.iter().map(move |s| (n, s)))
        .map(|(n, s)| {
            if s > n {
                1.0
            } else if s == n {
                0.5
            } else {
                0.0
            }
        })
        .sum();
    let counted = pairs / (rep.normal.len() * rep.shifted.len()) as f64;
    assert!((a - counted).abs() < 1e-9, "AUROC {a}, counted {counted}");
    assert_eq!(Some(a), rep.auroc);
    // Inverted digits are far from anything a digit model saw: the scores tell them apart.
    // (The fixture's briefly trained model clears this bound.)
    assert!(a > 0.95, "AUROC(invert) {a}");
    assert_eq!(
        v["mean_normal"].as_f64().unwrap(),
        rep.mean_normal(),
        "the mean test score"
    );
    let most = v["most_anomalous"].as_array().unwrap();
    let least = v["most_typical"].as_array().unwrap();
    assert_eq!((most.len(), least.len()), (4, 4));
    let scores = |l: &[serde_json::Value]| -> Vec<f64> {
        l.iter().map(|e| e["score"].as_f64().unwrap()).collect()
    };
    let (ms, ls) = (scores(most), scores(least));
    assert!(ms.windows(2).all(|w| w[0] >= w[1]), "{ms:?}");
    assert!(ls.windows(2).all(|w| w[0] <= w[1]), "{ls:?}");
    assert!(ms[3] >= ls[3]);
    let mean_normal = v["mean_normal"].as_f64().unwrap();
    assert!(ms[0] >= mean_normal && ls[0] <= mean_normal);
    // Labels are the test set's.
    for e in most.iter().chain(least) {
        let i = e["index"].as_u64().unwrap() as usize;
        assert_eq!(e["label"].as_u64().unwrap() as u8, data.test.labels[i]);
    }
    // A checkpoint trained without class 3 is scored against class 3 by default.
    let json = ok(&[
        "anomaly",
        s(&f.held_out),
        "--data",
        s(&f.data),
        "--iwae-k",
        "5",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    let v = &v["data"];
    assert_eq!(v["shift"], "class:3");
    assert_eq!(v["score"], "neg_iwae");
    let threes = data.test.labels.iter().filter(|&&l| l == 3).count() as u64;
    assert_eq!(v["n_shifted"].as_u64(), Some(threes));
    assert_eq!(v["n_normal"].as_u64(), Some(300 - threes));
    assert_eq!(v["notes"].as_array().map(|n| n.len()), Some(0));
    // Text.
    let text = ok(&[
        "anomaly",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--shift",
        "noise:0.5",
        "--top",
        "2",
    ]);
    assert!(text.contains("AUROC (test vs shifted): 0."), "{text}");
    assert!(text.contains("2 most anomalous test images"), "{text}");
}

#[test]
fn cli_anomaly_refuses_bad_shifts_and_sizes() {
    let f = fixture();
    let base = ["anomaly", s(&f.ckpt), "--data", s(&f.data)];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend(extra);
        fails(&a)
    };
    let e = with(&["--shift", "blur"]);
    assert!(e.contains("unknown shift 'blur'"), "{e}");
    let e = with(&["--shift", "noise:3"]);
    assert!(e.contains("(0, 1]"), "{e}");
    let e = with(&["--shift", "class:42"]);
    assert!(e.contains("no test image has label 42"), "{e}");
    let e = with(&["--top", "0"]);
    assert!(e.contains("--top") && e.contains("1..=1000"), "{e}");
    let e = with(&["--iwae-k", "1000000"]);
    assert!(e.contains("--iwae-k"), "{e}");
    let e = fails(&["anomaly", s(&f.wrong_size), "--data", s(&f.data)]);
    assert!(
        e.contains("the model takes 14x14 images") && e.contains("28x28"),
        "{e}"
    );
}

#[test]
fn cli_encode_writes_every_posterior_as_csv() {
    let f = fixture();
    let out_dir = tempfile::tempdir().unwrap();
    let csv = out_dir.path().join("codes.csv");
    ok(&["encode", s(&f.ckpt), "--data", s(&f.data), "--out", s(&csv)]);
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 301);
    assert_eq!(
        lines[0],
        "index,label,mu_0,mu_1,mu_2,mu_3,logvar_0,logvar_1,logvar_2,logvar_3"
    );
    let data = fixture_data();
    let loaded = checkpoint::load(&f.ckpt, &cpu()).unwrap();
    let post = encode_split(&loaded.model, &data.test, &cpu(), 300);
    for (i, line) in lines[1..].iter().enumerate() {
        let v: Vec<&str> = line.split(',').collect();
        assert_eq!(v[0].parse::<usize>().unwrap(), i);
        assert_eq!(v[1].parse::<u8>().unwrap(), data.test.labels[i]);
        let mu: Vec<f32> = v[2..6].iter().map(|s| s.parse().unwrap()).collect();
        let lv: Vec<f32> = v[6..].iter().map(|s| s.parse().unwrap()).collect();
        assert!(close(&mu, &post.mu[i * 4..i * 4 + 4], 1e-5), "row {i}");
        assert!(close(&lv, &post.logvar[i * 4..i * 4 + 4], 1e-5), "row {i}");
    }
    let train_csv = out_dir.path().join("train.csv");
    ok(&[
        "encode",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--split",
        "train",
        "--out",
        s(&train_csv),
    ]);
    assert_eq!(
        std::fs::read_to_string(&train_csv).unwrap().lines().count(),
        1001
    );
    // A missing checkpoint and one of another image size.
    let missing = f.dir.join("missing.safetensors");
    let e = fails(&[
        "encode",
        s(&missing),
        "--data",
        s(&f.data),
        "--out",
        s(&csv),
    ]);
    assert!(e.contains("missing.safetensors"), "{e}");
    let e = fails(&[
        "encode",
        s(&f.wrong_size),
        "--data",
        s(&f.data),
        "--out",
        s(&csv),
    ]);
    assert!(e.contains("14x14"), "{e}");
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        text,
        "a failed run leaves the old file"
    );
}

#[test]
fn cli_train_without_class_records_it_and_refuses_a_missing_class() {
    let f = fixture();
    let loaded = checkpoint::load(&f.held_out, &cpu()).unwrap();
    let data = fixture_data();
    let threes = data.train.labels.iter().filter(|&&l| l == 3).count();
    let info = &loaded.meta.dataset;
    assert_eq!(info.held_out_class, Some(3));
    assert_eq!(info.train_images, 1000 - threes);
    assert_eq!(info.test_images, 300);
    assert!(info.name.contains("without class 3"), "{}", info.name);
    // The ordinary checkpoint records no held-out class.
    let plain = checkpoint::load(&f.ckpt, &cpu()).unwrap();
    assert_eq!(plain.meta.dataset.held_out_class, None);
    assert_eq!(plain.meta.dataset.train_images, 1000);
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("x.safetensors");
    let e = fails(&[
        "train",
        "--data",
        s(&f.data),
        "--epochs",
        "1",
        "--without-class",
        "42",
        "--out",
        s(&out),
    ]);
    assert!(
        e.contains("--without-class 42")
            && e.contains("no training image")
            && e.contains("label 42"),
        "{e}"
    );
    let e = fails(&["train", "--without-class", "300", "--out", s(&out)]);
    assert!(e.contains("--without-class"), "{e}");
    assert!(!out.exists());
}

#[test]
fn traverse_writes_both_its_outputs_or_neither() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let args = |out: &Path, frames: &Path| {
        vec![
            "traverse".to_string(),
            s(&f.ckpt).into(),
            "--data".into(),
            s(&f.data).into(),
            "--out".into(),
            s(out).into(),
            "--frames".into(),
            s(frames).into(),
            "--steps".into(),
            "5".into(),
        ]
    };
    let listing = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    // A frame cannot be written (a directory has its name): no frame and no `--out` left.
    let out = tmp.path().join("t.gif");
    let frames = tmp.path().join("frames");
    std::fs::create_dir_all(frames.join("frame-02.png")).unwrap();
    let a = args(&out, &frames);
    let e = fails(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(e.contains("frame-02.png"), "{e}");
    assert!(!out.exists(), "--out was written although --frames failed");
    assert_eq!(listing(&frames), vec!["frame-02.png"], "frames were left");
    // `--out` cannot be written (its temporary file's name is over the file system's
    // limit): the frames written before it are taken back.
    let out = tmp.path().join(format!("{}.gif", "t".repeat(245)));
    let frames = tmp.path().join("frames2");
    let a = args(&out, &frames);
    let e = fails(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(e.contains("writing"), "{e}");
    assert!(!out.exists());
    assert!(
        listing(&frames).is_empty(),
        "frames left: {:?}",
        listing(&frames)
    );
}
