//! The prior's holes (issue 29 item 5) and nearest training images (item 6): the ex-post
//! mixture's EM fit, its density and draws, brute-force neighbours and the plane's
//! densities, against closed forms and host references.

use latent_explorer::explore::{
    Gmm, GmmError, GmmParams, HolesParams, fit_gmm, nearest, plane_density, prior_holes, project,
};
use statrs::distribution::{ContinuousCDF, Normal};

use crate::common::Lcg;

/// `n` points around each centre with per-dimension standard deviations `sd`.
fn clusters(centres: &[[f64; 2]], sd: &[[f64; 2]], n: &[usize], seed: u64) -> Vec<f32> {
    let mut rng = Lcg(seed);
    let mut out = Vec::new();
    for ((c, s), &m) in centres.iter().zip(sd).zip(n) {
        for _ in 0..m {
            out.push((c[0] + s[0] * rng.normal()) as f32);
            out.push((c[1] + s[1] * rng.normal()) as f32);
        }
    }
    out
}

#[test]
fn gmm_one_component_is_the_sample_mean_and_variance() {
    let d = 3;
    let mut rng = Lcg(7);
    let pts: Vec<f32> = (0..500 * d)
        .map(|i| (rng.normal() * (1.0 + i as f64 % 3.0) + (i % 3) as f64) as f32)
        .collect();
    let fit = fit_gmm(
        &pts,
        d,
        &GmmParams {
            components: 1,
            ..GmmParams::default()
        },
    )
    .unwrap();
    let n = 500.0;
    for j in 0..d {
        let col: Vec<f64> = pts.iter().skip(j).step_by(d).map(|&v| v as f64).collect();
        let mean = col.iter().sum::<f64>() / n;
        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        assert!((fit.gmm.means[j] - mean).abs() < 1e-9, "mean {j}");
        assert!((fit.gmm.vars[j] - var).abs() < 1e-9 * var, "variance {j}");
    }
    assert_eq!(fit.gmm.weights, vec![1.0]);
    // Its density is the diagonal Gaussian's, in closed form.
    let x = [0.3f32, -1.0, 2.0];
    let closed: f64 = (0..d)
        .map(|j| {
            let (m, v) = (fit.gmm.means[j], fit.gmm.vars[j]);
            -0.5 * ((2.0 * std::f64::consts::PI * v).ln() + (x[j] as f64 - m).powi(2) / v)
        })
        .sum();
    assert!((fit.gmm.log_density(&x) - closed).abs() < 1e-9);
}

#[test]
fn gmm_recovers_well_separated_clusters() {
    let centres = [[-10.0, 0.0], [10.0, 0.0], [0.0, 12.0]];
    let sd = [[0.5, 1.0], [1.0, 0.3], [0.7, 0.7]];
    let counts = [300, 600, 900];
    let pts = clusters(&centres, &sd, &counts, 3);
    let fit = fit_gmm(
        &pts,
        2,
        &GmmParams {
            components: 3,
            seed: 11,
            ..GmmParams::default()
        },
    )
    .unwrap();
    let g = &fit.gmm;
    for (c, (s, &m)) in centres.iter().zip(sd.iter().zip(&counts)) {
        // The component whose mean is nearest this centre.
        let k = (0..3)
            .min_by(|&a, &b| {
                let da = (g.means[2 * a] - c[0]).powi(2) + (g.means[2 * a + 1] - c[1]).powi(2);
                let db = (g.means[2 * b] - c[0]).powi(2) + (g.means[2 * b + 1] - c[1]).powi(2);
                da.total_cmp(&db)
            })
            .unwrap();
        assert!((g.means[2 * k] - c[0]).abs() < 0.15 && (g.means[2 * k + 1] - c[1]).abs() < 0.15);
        assert!(
            (g.weights[k] - m as f64 / 1800.0).abs() < 1e-3,
            "weight {k}: {}",
            g.weights[k]
        );
        for (j, sd) in s.iter().enumerate() {
            let ratio = g.vars[2 * k + j] / (sd * sd);
            assert!((0.8..1.25).contains(&ratio), "variance ratio {ratio}");
        }
    }
}

#[test]
fn gmm_log_likelihood_never_decreases_and_ends_at_the_fits_own() {
    // Overlapping clusters: EM takes many small steps.
    let pts = clusters(
        &[[0.0, 0.0], [1.5, 0.5], [0.5, 2.0]],
        &[[1.0, 1.0], [0.6, 1.2], [1.0, 0.4]],
        &[400, 400, 400],
        5,
    );
    let fit = fit_gmm(
        &pts,
        2,
        &GmmParams {
            components: 5,
            seed: 2,
            ..GmmParams::default()
        },
    )
    .unwrap();
    assert!(fit.log_likelihood.len() > 3, "{:?}", fit.log_likelihood);
    for w in fit.log_likelihood.windows(2) {
        assert!(
            w[1] >= w[0] - 1e-12,
            "log-likelihood fell: {} → {}",
            w[0],
            w[1]
        );
    }
    let host: f64 =
        pts.chunks(2).map(|p| fit.gmm.log_density(p)).sum::<f64>() / (pts.len() / 2) as f64;
    let last = *fit.log_likelihood.last().unwrap();
    assert!((host - last).abs() < 1e-9, "{host} vs {last}");
    // The same seed fits the same mixture.
    let again = fit_gmm(
        &pts,
        2,
        &GmmParams {
            components: 5,
            seed: 2,
            ..GmmParams::default()
        },
    );
    assert_eq!(again.unwrap(), fit);
}

#[test]
fn gmm_log_density_is_a_host_log_sum_exp() {
    let g = Gmm {
        dim: 2,
        weights: vec![0.2, 0.5, 0.3],
        means: vec![0.0, 0.0, 3.0, -1.0, -2.0, 4.0],
        vars: vec![1.0, 0.5, 2.0, 2.0, 0.3, 1.5],
    };
    for x in [[0.0f32, 0.0], [2.5, -0.5], [-40.0, 30.0], [1.0, 1.0]] {
        // Each component's log weight plus log density, summed by a host log-sum-exp.
        let terms: Vec<f64> = (0..3)
            .map(|k| {
                g.weights[k].ln()
                    + (0..2)
                        .map(|j| {
                            let v = g.vars[2 * k + j];
                            let dx = x[j] as f64 - g.means[2 * k + j];
                            -0.5 * (2.0 * std::f64::consts::PI * v).ln() - dx * dx / (2.0 * v)
                        })
                        .sum::<f64>()
            })
            .collect();
        let m = terms.iter().copied().fold(f64::MIN, f64::max);
        let lse = m + terms.iter().map(|t| (t - m).exp()).sum::<f64>().ln();
        assert!((g.log_density(&x) - lse).abs() < 1e-9, "{x:?}");
        assert!(lse.is_finite());
    }
    assert_eq!(g.log_density(&[0.0]), f64::NEG_INFINITY);
}

#[test]
fn gmm_draws_follow_the_mixture_and_repeat_with_their_seed() {
    let g = Gmm {
        dim: 2,
        weights: vec![0.25, 0.75],
        means: vec![-20.0, 0.0, 20.0, 5.0],
        vars: vec![1.0, 4.0, 0.25, 1.0],
    };
    let n = 20_000;
    let z = g.sample(9, n);
    assert_eq!(z.len(), 2 * n);
    assert_eq!(z, g.sample(9, n));
    assert_ne!(z, g.sample(10, n));
    let right: Vec<&[f32]> = z.chunks(2).filter(|p| p[0] > 0.0).collect();
    let frac = right.len() as f64 / n as f64;
    // Binomial sd of the fraction: sqrt(.25·.75/n) ≈ 0.003.
    assert!((frac - 0.75).abs() < 0.015, "{frac}");
    let my = right.iter().map(|p| p[1] as f64).sum::<f64>() / right.len() as f64;
    let vx = right
        .iter()
        .map(|p| (p[0] as f64 - 20.0).powi(2))
        .sum::<f64>()
        / right.len() as f64;
    assert!((my - 5.0).abs() < 0.05, "{my}");
    assert!((vx - 0.25).abs() < 0.02, "{vx}");
}

#[test]
fn gmm_bad_input_is_an_error() {
    let pts = [0.0f32, 1.0, 2.0, 3.0];
    let p = |components| GmmParams {
        components,
        ..GmmParams::default()
    };
    assert!(matches!(
        fit_gmm(&pts, 3, &p(1)),
        Err(GmmError::Shape { .. })
    ));
    assert!(matches!(
        fit_gmm(&[], 2, &p(1)),
        Err(GmmError::Shape { .. })
    ));
    assert!(matches!(
        fit_gmm(&pts, 2, &p(0)),
        Err(GmmError::Components { .. })
    ));
    assert!(matches!(
        fit_gmm(&pts, 2, &p(3)),
        Err(GmmError::Components { .. })
    ));
    assert!(matches!(
        fit_gmm(&[0.0, f32::NAN, 1.0, 1.0], 2, &p(1)),
        Err(GmmError::NonFinite)
    ));
    // Duplicated points: as many components as points still fit (no NaN).
    let fit = fit_gmm(&[1.0, 1.0, 1.0, 1.0, 2.0, 2.0], 2, &p(3)).unwrap();
    assert!(fit.log_likelihood.iter().all(|l| l.is_finite()));
}

#[test]
fn nearest_matches_a_brute_force_reference() {
    let (n, q, d, k) = (300, 25, 7, 5);
    let mut rng = Lcg(21);
    let pts = rng.normals(n * d);
    let queries = rng.normals(q * d);
    let got = nearest(&pts, &queries, d, k).unwrap();
    assert_eq!(got.len(), q);
    for (qi, row) in got.iter().enumerate() {
        let qv = &queries[qi * d..(qi + 1) * d];
        let mut all: Vec<(f64, usize)> = (0..n)
            .map(|i| {
                let s: f64 = (0..d)
                    .map(|j| (qv[j] as f64 - pts[i * d + j] as f64).powi(2))
                    .sum();
                (s.sqrt(), i)
            })
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(row.len(), k);
        for (got, want) in row.iter().zip(&all) {
            assert_eq!(got.index, want.1);
            assert!((got.distance as f64 - want.0).abs() < 1e-5);
        }
    }
    // More neighbours than points: all of them.
    assert_eq!(
        nearest(&pts[..3 * d], &queries[..d], d, 10).unwrap()[0].len(),
        3
    );
    assert!(nearest(&pts, &queries[..d - 1], d, 1).is_err());
    assert!(nearest(&[], &queries, d, 1).is_err());
}

#[test]
fn nearest_finds_a_planted_duplicate_first_at_distance_zero() {
    let d = 784;
    let mut rng = Lcg(4);
    let pts: Vec<f32> = (0..400 * d).map(|_| rng.uniform() as f32).collect();
    for i in [0usize, 137, 399] {
        let q = pts[i * d..(i + 1) * d].to_vec();
        let got = nearest(&pts, &q, d, 3).unwrap();
        assert_eq!(got[0][0].index, i);
        assert_eq!(got[0][0].distance, 0.0);
        assert!(got[0][1].distance > 0.0);
    }
}

#[test]
fn the_planes_prior_is_the_projected_standard_normal() {
    let (bins, e) = (12, 3.0);
    let plane = plane_density(&[], bins, e, false);
    let w = 2.0 * e / bins as f64;
    let phi = Normal::standard();
    let inside = (phi.cdf(e) - phi.cdf(-e)).powi(2);
    let total: f64 = plane.prior.iter().map(|p| p * w * w).sum();
    assert!((total - inside).abs() < 1e-12, "{total} vs {inside}");
    // The centre-right bin next to the origin, by hand.
    let (ix, iy) = (bins / 2, bins / 2);
    let hand = (phi.cdf(w) - phi.cdf(0.0)).powi(2) / (w * w);
    assert!((plane.prior[iy * bins + ix] - hand).abs() < 1e-12);
    // N(0, I₈) draws on two orthonormal axes (not coordinate axes) fill the same bins.
    let d = 8;
    let s = 0.5f32.sqrt();
    let mut a = vec![0.0f32; d];
    let mut b = vec![0.0f32; d];
    (a[0], a[3]) = (s, s);
    (b[0], b[3], b[5]) = (s * s, -s * s, s);
    let n = 40_000;
    let z = Lcg(8).normals(n * d);
    let xy = project(&z, d, &[a, b]);
    let hist = plane_density(&xy, bins, e, false);
    let tv: f64 = hist
        .codes
        .iter()
        .zip(&hist.prior)
        .map(|(c, p)| (c - p).abs() * w * w)
        .sum::<f64>()
        / 2.0;
    assert!(tv < 0.03, "total variation {tv}");
    // Hand-placed points: one per bin they name.
    let pts = [[0.1, 0.1], [0.2, 0.3], [-2.9, 2.9], [5.0, 0.0]];
    let h = plane_density(&pts, bins, e, false);
    let per = 1.0 / (4.0 * w * w);
    assert!((h.codes[iy * bins + ix] - 2.0 * per).abs() < 1e-12);
    assert!((h.codes[(bins - 1) * bins] - per).abs() < 1e-12);
    assert!((h.codes.iter().sum::<f64>() - 3.0 * per).abs() < 1e-9);
    let holes = h.prior_mass_in_holes();
    let filled = (plane.prior[iy * bins + ix] + plane.prior[(bins - 1) * bins]) * w * w;
    assert!((holes - (inside - filled)).abs() < 1e-12);
}

#[test]
fn ex_post_draws_land_nearer_the_codes_than_prior_draws() {
    // Codes in two tight clumps away from the origin: N(0, I) draws fall in the hole
    // between them, the mixture's draws on them.
    let pts = clusters(
        &[[2.5, 0.0], [-2.5, 1.0]],
        &[[0.2, 0.2], [0.2, 0.2]],
        &[500, 500],
        6,
    );
    let h = prior_holes(
        &pts,
        2,
        &HolesParams {
            samples: 64,
            gmm: GmmParams {
                components: 2,
                seed: 1,
                ..GmmParams::default()
            },
            seed: 3,
        },
    )
    .unwrap();
    // Every gap is the brute-force distance to the nearest code.
    for draws in [&h.prior, &h.gmm] {
        for (z, &gap) in draws.z.chunks(2).zip(&draws.gap) {
            let best = pts
                .chunks(2)
                .map(|c| ((z[0] - c[0]).powi(2) + (z[1] - c[1]).powi(2)).sqrt())
                .fold(f32::MAX, f32::min);
            assert!((best - gap).abs() < 1e-5);
        }
    }
    assert!(
        h.gmm.median_gap() * 3.0 < h.prior.median_gap(),
        "{} vs {}",
        h.gmm.median_gap(),
        h.prior.median_gap()
    );
    assert!(h.plane.prior_mass_in_holes() > 0.3);
    // The plane's axes are orthonormal.
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!((dot(&h.axes[0], &h.axes[0]) - 1.0).abs() < 1e-5);
    assert!(dot(&h.axes[0], &h.axes[1]).abs() < 1e-5);
}

/// `nearest`'s listed neighbours: `(index, distance)` per line of one section.
fn listed(text: &str, header: &str) -> Vec<(usize, f64)> {
    text.lines()
        .skip_while(|l| !l.starts_with(header))
        .skip(1)
        .take_while(|l| l.starts_with("  #"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0][1..].parse().unwrap(), f[4].parse().unwrap())
        })
        .collect()
}

/// `nearest --z`: a training image's own code (computed here) finds that image first at
/// distance 0 in latent space, and the decode's pixel neighbours are a brute-force search
/// done here; `--test` names its image; bad input is an error, not a panic.
#[test]
fn cli_nearest_finds_a_training_codes_own_image_and_the_brute_force_pixel_neighbours() {
    use crate::common::cpu;
    use crate::explore_tools::{fails, fixture, fixture_data, ok, s};
    use burn::tensor::{Tensor, TensorData};

    let f = fixture();
    let data = fixture_data();
    let model = latent_explorer::checkpoint::load(&f.ckpt, &cpu())
        .unwrap()
        .model;
    let p = data.train.image_len();
    let i = 137;
    let x: Tensor<2> = Tensor::from_data(
        TensorData::new(data.train.image(i).to_vec(), [1, p]),
        &cpu(),
    );
    let z = crate::common::vec_of(model.encode(x).0);
    let zs: Vec<String> = z.iter().map(|v| format!("{v}")).collect();
    let arg = format!("--z={}", zs.join(","));
    let text = ok(&[
        "nearest",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        &arg,
        "--k",
        "4",
    ]);
    let latent = listed(&text, "latent space");
    assert_eq!(latent.len(), 4, "{text}");
    assert_eq!(latent[0].0, i, "{text}");
    assert!(latent[0].1 < 1e-3, "{text}");
    // The decode's pixel neighbours, by brute force over the training split.
    let zt: Tensor<2> = Tensor::from_data(TensorData::new(z.clone(), [1, z.len()]), &cpu());
    let img = crate::common::vec_of(model.decode_mean(zt));
    let mut all: Vec<(f64, usize)> = (0..data.train.len())
        .map(|j| {
            let t = data.train.image(j);
            let d: f64 = t
                .iter()
                .zip(&img)
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum();
            (d.sqrt(), j)
        })
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pixels = listed(&text, "pixel space");
    assert_eq!(pixels.len(), 4, "{text}");
    for (k, (index, dist)) in pixels.iter().enumerate() {
        assert!((dist - all[k].0).abs() < 2e-4, "{text}");
        if all[k + 1].0 - all[k].0 > 1e-3 && (k == 0 || all[k].0 - all[k - 1].0 > 1e-3) {
            assert_eq!(*index, all[k].1, "{text}");
        }
    }
    let text = ok(&["nearest", s(&f.ckpt), "--data", s(&f.data), "--test", "5"]);
    assert!(text.contains("test image 5"), "{text}");
    assert_eq!(listed(&text, "latent space").len(), 5);
    let e = fails(&["nearest", s(&f.ckpt), "--data", s(&f.data), "--z=1,2"]);
    assert!(
        e.contains("2 values for a model of 4 latent dimensions"),
        "{e}"
    );
    fails(&["nearest", s(&f.ckpt), "--data", s(&f.data)]);
    let e = fails(&[
        "nearest",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--test",
        "100000",
    ]);
    assert!(!e.is_empty());
}
