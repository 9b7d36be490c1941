//! Latent math against closed forms.

use latent_explorer::explore::{
    Spacing, axis_values, grid_latents, inverse_normal_cdf, lerp, order_by_desc,
    principal_directions, slerp, traversal,
};

use crate::common::Lcg;

#[test]
fn lerp_and_slerp_end_points_and_norms() {
    let a = [1.0f32, 0.0, 0.0];
    let b = [0.0f32, 2.0, 0.0];
    assert_eq!(lerp(&a, &b, 0.0), a.to_vec());
    assert_eq!(lerp(&a, &b, 1.0), b.to_vec());
    assert_eq!(lerp(&a, &b, 0.5), vec![0.5, 1.0, 0.0]);
    let s0 = slerp(&a, &b, 0.0);
    let s1 = slerp(&a, &b, 1.0);
    for (x, y) in s0.iter().zip(&a) {
        assert!((x - y).abs() < 1e-6);
    }
    for (x, y) in s1.iter().zip(&b) {
        assert!((x - y).abs() < 1e-6);
    }
    // Halfway between orthogonal vectors of norms 1 and 2: angle 45°, the closed form
    // weights are sin(π/4)/sin(π/2) on each.
    let m = slerp(&a, &b, 0.5);
    let w = (std::f64::consts::FRAC_PI_4).sin() as f32;
    assert!(
        (m[0] - w).abs() < 1e-6 && (m[1] - 2.0 * w).abs() < 1e-6,
        "{m:?}"
    );
    // Parallel vectors fall back to lerp.
    assert_eq!(slerp(&a, &[2.0, 0.0, 0.0], 0.5), vec![1.5, 0.0, 0.0]);
}

#[test]
fn inverse_normal_cdf_matches_known_quantiles() {
    let known = [
        (0.5, 0.0),
        (0.975, 1.959_963_984_540_054),
        (0.025, -1.959_963_984_540_054),
        (0.841_344_746_068_542_9, 1.0),
        (0.001, -3.090_232_306_167_813_5),
        (0.999_9, 3.719_016_485_455_709),
    ];
    for (p, z) in known {
        let got = inverse_normal_cdf(p);
        assert!((got - z).abs() < 1e-6, "Φ⁻¹({p}) = {got}, want {z}");
    }
}

#[test]
fn grid_axes_and_layout() {
    let lin = axis_values(5, Spacing::Linear, 2.0);
    assert_eq!(lin, vec![-2.0, -1.0, 0.0, 1.0, 2.0]);
    let inv = axis_values(4, Spacing::InverseCdf, 0.0);
    // Φ⁻¹ of 1/8, 3/8, 5/8, 7/8: symmetric and increasing.
    assert!((inv[0] + inv[3]).abs() < 1e-6 && (inv[1] + inv[2]).abs() < 1e-6);
    assert!((inv[3] as f64 - inverse_normal_cdf(0.875)).abs() < 1e-6);
    let g = grid_latents(
        &[0.0, 0.0, 7.0],
        &[1.0, 0.0, 0.0],
        &[0.0, 1.0, 0.0],
        &[-1.0, 1.0],
        &[-1.0, 1.0],
    );
    // Rows top to bottom: y = +1 first; columns left to right: x increasing.
    assert_eq!(
        g,
        vec![
            -1.0, 1.0, 7.0, 1.0, 1.0, 7.0, -1.0, -1.0, 7.0, 1.0, -1.0, 7.0
        ]
    );
    assert_eq!(
        traversal(&[0.5, 0.5], 1, &[-1.0, 2.0]),
        vec![0.5, -1.0, 0.5, 2.0]
    );
    assert_eq!(order_by_desc(&[0.1, 3.0, 0.5, 3.0]), vec![1, 3, 2, 0]);
}

#[test]
fn principal_directions_recover_a_known_covariance() {
    // Data with variance 9 along (1,1)/√2 and 1 along (1,−1)/√2, in 3-D with a tiny third axis.
    let mut rng = Lcg(3);
    let n = 20_000;
    let s = std::f64::consts::FRAC_1_SQRT_2;
    let mut data = Vec::with_capacity(n * 3);
    for _ in 0..n {
        let (a, b, c) = (3.0 * rng.normal(), rng.normal(), 0.1 * rng.normal());
        data.extend([(s * (a + b)) as f32, (s * (a - b)) as f32, c as f32]);
    }
    let (dirs, vars) = principal_directions(&data, 3, 2);
    let dot = |u: &[f32], v: [f64; 3]| u.iter().zip(v).map(|(a, b)| *a as f64 * b).sum::<f64>();
    assert!(dot(&dirs[0], [s, s, 0.0]).abs() > 0.999, "{:?}", dirs[0]);
    assert!(dot(&dirs[1], [s, -s, 0.0]).abs() > 0.999, "{:?}", dirs[1]);
    assert!(
        (vars[0] - 9.0).abs() < 0.3 && (vars[1] - 1.0).abs() < 0.05,
        "{vars:?}"
    );
}

#[test]
fn principal_directions_stay_orthogonal_for_codes_of_lower_rank() {
    // Codes on one line in 3-D (rank 1): the first direction is the line, the others are
    // orthogonal to it and to each other with no variance — not the first one again.
    let u = [2.0f64 / 3.0, -1.0 / 3.0, 2.0 / 3.0];
    let mut rng = Lcg(9);
    let data: Vec<f32> = (0..200)
        .flat_map(|_| {
            let t = 2.0 * rng.normal();
            u.map(|x| (1.0 + x * t) as f32)
        })
        .collect();
    let (dirs, vars) = principal_directions(&data, 3, 3);
    assert_eq!(dirs.len(), 3);
    let dot = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| *x as f64 * *y as f64)
            .sum::<f64>()
    };
    let u32: Vec<f32> = u.iter().map(|&x| x as f32).collect();
    assert!(dot(&dirs[0], &u32).abs() > 0.9999, "{:?}", dirs[0]);
    for i in 0..3 {
        assert!(
            (dot(&dirs[i], &dirs[i]) - 1.0).abs() < 1e-5,
            "direction {i} not unit"
        );
        for j in i + 1..3 {
            assert!(
                dot(&dirs[i], &dirs[j]).abs() < 1e-5,
                "directions {i} and {j}: {dirs:?}"
            );
        }
    }
    assert!(
        vars[0] > 3.0 && vars[1] < 1e-6 && vars[2] < 1e-6,
        "{vars:?}"
    );
    // So a t-SNE start of such codes spreads them along one axis and leaves the other at 0.
    let start = latent_explorer::explore::pca_start(&data, 3);
    assert!(
        start.iter().skip(1).step_by(2).all(|&v| v == 0.0),
        "{start:?}"
    );
}

#[test]
fn prior_noise_is_standard_normal_and_reproducible() {
    use latent_explorer::explore::prior_noise;
    let n = 200_000;
    let v = prior_noise(3, n, 1);
    assert_eq!(
        v,
        prior_noise(3, n, 1),
        "the same seed gives the same noise"
    );
    assert_ne!(
        v[..100],
        prior_noise(4, 100, 1)[..],
        "another seed, other noise"
    );
    let nf = n as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / nf;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (nf - 1.0);
    // Standard errors: 1/√n for the mean, √(2/n) for the variance; 5 of each.
    assert!(mean.abs() < 5.0 / nf.sqrt(), "mean {mean}");
    assert!(
        (var - 1.0).abs() < 5.0 * (2.0 / nf).sqrt(),
        "variance {var}"
    );
    // The tails: P(|z| > 1.96) = 0.05, P(|z| > 3) = 0.0027 (binomial standard errors).
    for (z, p) in [(1.959_964, 0.05), (3.0, 0.002_699_8)] {
        let frac = v.iter().filter(|x| (x.abs() as f64) > z).count() as f64 / nf;
        let se = (p * (1.0 - p) / nf).sqrt();
        assert!(
            (frac - p).abs() < 5.0 * se,
            "P(|z| > {z}) = {frac}, want {p}"
        );
    }
}

#[test]
fn tsne_keeps_well_separated_clusters_apart_and_refuses_bad_codes() {
    use latent_explorer::explore::{EmbedError, TsneParams, tsne};
    // Three Gaussian blobs of 40 codes in 8 dimensions, 20 apart (σ = 1).
    let d = 8;
    let mut rng = Lcg(7);
    let mut codes = Vec::new();
    let mut label = Vec::new();
    for c in 0..3 {
        for _ in 0..40 {
            for j in 0..d {
                let centre = if j == c { 20.0 } else { 0.0 };
                codes.push((centre + rng.normal()) as f32);
            }
            label.push(c);
        }
    }
    let p = TsneParams {
        epochs: 500,
        ..TsneParams::default()
    };
    let y = tsne(&codes, d, p).unwrap();
    assert_eq!(y.len(), 120);
    // Optimised, not the start it was given (the principal components scaled to σ = 1e-4).
    let sd = (y.iter().map(|p| p[0] * p[0] + p[1] * p[1]).sum::<f64>() / 120.0).sqrt();
    assert!(
        sd > 1.0,
        "the embedding did not move from its start: rms {sd}"
    );
    // Each point's nearest neighbour in the embedding comes from its own blob.
    let mut same = 0;
    for i in 0..y.len() {
        let nn = (0..y.len())
            .filter(|&j| j != i)
            .min_by(|&a, &b| {
                let da = (y[a][0] - y[i][0]).powi(2) + (y[a][1] - y[i][1]).powi(2);
                let db = (y[b][0] - y[i][0]).powi(2) + (y[b][1] - y[i][1]).powi(2);
                da.total_cmp(&db)
            })
            .unwrap();
        same += usize::from(label[nn] == label[i]);
    }
    assert_eq!(same, 120, "nearest neighbours across blobs");
    // The blobs' centres in the embedding are farther apart than any blob is wide.
    let centre = |c: usize| {
        let pts: Vec<&[f64; 2]> = (0..120).filter(|&i| label[i] == c).map(|i| &y[i]).collect();
        let n = pts.len() as f64;
        [
            pts.iter().map(|p| p[0]).sum::<f64>() / n,
            pts.iter().map(|p| p[1]).sum::<f64>() / n,
        ]
    };
    let spread = |c: usize| {
        let m = centre(c);
        (0..120)
            .filter(|&i| label[i] == c)
            .map(|i| ((y[i][0] - m[0]).powi(2) + (y[i][1] - m[1]).powi(2)).sqrt())
            .fold(0.0, f64::max)
    };
    for a in 0..3 {
        for b in a + 1..3 {
            let (ca, cb) = (centre(a), centre(b));
            let dist = ((ca[0] - cb[0]).powi(2) + (ca[1] - cb[1]).powi(2)).sqrt();
            assert!(dist > spread(a).max(spread(b)), "blobs {a} and {b} overlap");
        }
    }
    assert_eq!(
        tsne(&codes[..10 * d], d, p),
        Err(EmbedError::TooFew { n: 10, min: 16 })
    );
    let mut bad = codes.clone();
    bad[5 * d + 3] = f32::NAN;
    assert_eq!(tsne(&bad, d, p), Err(EmbedError::NotFinite(5)));
    // The fewest codes it takes, exactly.
    assert_eq!(tsne(&codes[..16 * d], d, p).map(|y| y.len()), Ok(16));
}

#[test]
fn tsne_starts_from_the_principal_components_scaled_down() {
    use latent_explorer::explore::pca_start;
    // Codes along u = (3, 4, 0)/5 with positions t, plus a smaller spread s along
    // w = (0, 0, 1) and an offset: the start's axes are t and s, centred, σ = 1e-4 each.
    let mut rng = Lcg(3);
    let n = 50;
    let (mut codes, mut t, mut s) = (Vec::new(), Vec::new(), Vec::new());
    // Points in ± pairs along w, so that t and s are exactly uncorrelated in the sample and
    // its principal directions are exactly u and w.
    for _ in 0..n / 2 {
        let (a, c) = (3.0 * rng.normal(), 0.5 * rng.normal());
        for b in [c, -c] {
            codes.extend([5.0 + 0.6 * a, -2.0 + 0.8 * a, 1.0 + b].map(|v| v as f32));
            t.push(a);
            s.push(b);
        }
    }
    let init = pca_start(&codes, 3);
    assert_eq!(init.len(), 2 * n);
    for (k, truth) in [(0, &t), (1, &s)] {
        let axis: Vec<f64> = init.iter().skip(k).step_by(2).map(|&v| v as f64).collect();
        let mean = axis.iter().sum::<f64>() / n as f64;
        let sd = (axis.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!(mean.abs() < 1e-9, "axis {k} not centred: {mean}");
        assert!((sd - 1e-4).abs() < 1e-7, "axis {k}: σ {sd}, want 1e-4");
        // The axis is the code's coordinate along that principal direction (up to sign).
        let tm = truth.iter().sum::<f64>() / n as f64;
        let cov: f64 = axis
            .iter()
            .zip(truth.iter())
            .map(|(a, b)| (a - mean) * (b - tm))
            .sum();
        let st = truth.iter().map(|b| (b - tm).powi(2)).sum::<f64>().sqrt();
        let corr = cov / (sd * (n as f64).sqrt() * st);
        assert!(
            corr.abs() > 0.999,
            "axis {k} vs its principal coordinate: r = {corr}"
        );
    }
    // Identical codes: no spread at all, every coordinate 0 (not NaN).
    let same: Vec<f32> = (0..20).flat_map(|_| [2.0, 1.0]).collect();
    let z = pca_start(&same, 2);
    assert!(z.iter().all(|&v| v == 0.0), "{z:?}");
}

#[test]
fn tsne_keeps_the_neighbours_of_points_along_a_curve() {
    use latent_explorer::explore::{TsneParams, tsne};
    // 60 points along a helix in 6 dimensions: in the embedding, a point's nearest
    // neighbour is close to it along the curve (a wrong distance, e.g. a ratio in place
    // of a difference, scrambles them). Barnes-Hut t-SNE runs threaded and is not
    // reproducible to the bit: 49 to 56 of 60 nearest neighbours were the next point along
    // the curve, and all of them within 3 points.
    let n = 60;
    let codes: Vec<f32> = (0..n)
        .flat_map(|i| {
            let a = i as f32 * 0.15;
            [a.cos() * 4.0, a.sin() * 4.0, a, 0.5 * a.cos(), 0.0, 1.0]
        })
        .collect();
    let y = tsne(&codes, 6, TsneParams::default()).unwrap();
    let gaps: Vec<usize> = (0..n)
        .map(|i| {
            let nn = (0..n)
                .filter(|&j| j != i)
                .min_by(|&a, &b| {
                    let d = |j: usize| (y[j][0] - y[i][0]).powi(2) + (y[j][1] - y[i][1]).powi(2);
                    d(a).total_cmp(&d(b))
                })
                .unwrap();
            nn.abs_diff(i)
        })
        .collect();
    let next = gaps.iter().filter(|&&g| g == 1).count();
    let near = gaps.iter().filter(|&&g| g <= 3).count();
    println!(
        "t-SNE of a curve: nearest neighbour the next point {next}/{n}, within 3 points {near}/{n}"
    );
    assert!(
        near >= n * 9 / 10,
        "only {near}/{n} nearest neighbours within 3 points: {gaps:?}"
    );
}

#[test]
fn histogram_span_covers_the_finite_scores_of_every_set() {
    use latent_explorer::explore::Histogram;
    let (a, b) = ([3.0, 1.5, f64::NAN], [7.25, -2.5, f64::INFINITY]);
    assert_eq!(Histogram::span(&[&a, &b]), Some((-2.5, 7.25)));
    assert_eq!(Histogram::span(&[&b]), Some((-2.5, 7.25)));
    assert_eq!(Histogram::span(&[&[4.0]]), Some((4.0, 4.0)));
    assert_eq!(Histogram::span(&[&[f64::NAN], &[]]), None);
    assert_eq!(Histogram::span(&[]), None);
}

#[test]
fn slerp_of_opposite_codes_stays_between_them() {
    // One dimension (always opposite or parallel) and nearly opposite vectors in two: the
    // path must stay bounded by the ends' norms, not blow up with 1/sin ω.
    for (a, b) in [
        (vec![0.5f32], vec![-0.8f32]),
        (vec![1.0f32, 1e-6], vec![-1.0f32, 0.0]),
    ] {
        let bound = a.iter().chain(&b).map(|v| v.abs()).fold(0.0, f32::max) * 2.0;
        for i in 0..=10 {
            let z = slerp(&a, &b, i as f32 / 10.0);
            assert!(
                z.iter().all(|v| v.is_finite() && v.abs() <= bound),
                "t = {}: {z:?}",
                i as f32 / 10.0
            );
        }
        for (t, end) in [(0.0, &a), (1.0, &b)] {
            let z = slerp(&a, &b, t);
            assert!(
                z.iter().zip(end).all(|(x, y)| (x - y).abs() < 1e-6),
                "{z:?} vs {end:?}"
            );
        }
    }
}

/// Bin of `v` by the definition: the `i` with `lo + i·w ≤ v < lo + (i + 1)·w`, values
/// below the first bin in it and values at or above the last edge in the last.
fn bin_of(v: f64, lo: f64, w: f64, bins: usize) -> usize {
    (0..bins)
        .find(|&i| v < lo + (i + 1) as f64 * w)
        .unwrap_or(bins - 1)
}

#[test]
fn histogram_counts_each_finite_value_once_in_its_bin() {
    let h = latent_explorer::explore::Histogram::new(
        &[
            0.0,
            0.5,
            1.0,
            1.99,
            2.0,
            10.0,
            -5.0,
            f64::NAN,
            f64::INFINITY,
        ],
        0.0,
        2.0,
        4,
    );
    assert_eq!((h.lo, h.width), (0.0, 0.5));
    // 0 and −5 | 0.5 | 1.0 | 1.99, 2.0 (the top edge) and 10; NaN and ∞ left out.
    assert_eq!(h.counts, vec![2, 1, 1, 3]);
    // Against the definition, on values from a small deterministic stream.
    let mut x = 12345u64;
    let values: Vec<f64> = (0..500)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64 * 14.0 - 3.0
        })
        .collect();
    let (lo, hi, bins) = (-1.0, 9.0, 7);
    let h = latent_explorer::explore::Histogram::new(&values, lo, hi, bins);
    let mut want = vec![0; bins];
    for &v in &values {
        want[bin_of(v, lo, (hi - lo) / bins as f64, bins)] += 1;
    }
    assert_eq!(h.counts, want);
    assert_eq!(h.counts.iter().sum::<usize>(), values.len());
    // One value everywhere: one bin of width 1 at it.
    let h = latent_explorer::explore::Histogram::new(&[3.0, 3.0], 3.0, 3.0, 5);
    assert_eq!((h.width, h.counts[0]), (1.0, 2));
}
