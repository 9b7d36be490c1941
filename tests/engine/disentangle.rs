//! Procedural shapes with known factors, and the Mutual Information Gap against known
//! answers: codes that are the factors, codes independent of them, and a code mixing two
//! factors whose MIG is worked out by hand.

use latent_explorer::data::shapes::{self, FACTOR_NAMES, ShapesConfig};
use latent_explorer::explore::mig;

use crate::common::Lcg;

fn tiny() -> ShapesConfig {
    ShapesConfig {
        side: 16,
        grid: [3, 2, 4, 3, 3],
        seed: 5,
        test_fraction: 0.25,
    }
}

#[test]
fn shapes_cover_every_factor_combination_once_and_are_reproducible() {
    let cfg = tiny();
    let a = shapes::generate(&cfg).unwrap();
    let b = shapes::generate(&cfg).unwrap();
    assert_eq!(a.data.train.pixels, b.data.train.pixels);
    assert_eq!(a.factors, b.factors);
    let mut all: Vec<[u16; 5]> = a
        .factors
        .train
        .iter()
        .chain(&a.factors.test)
        .copied()
        .collect();
    assert_eq!(all.len(), 3 * 2 * 4 * 3 * 3);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 3 * 2 * 4 * 3 * 3, "a combination appears twice");
    assert_eq!(a.factors.test.len(), 54);
    assert_eq!(a.data.test.len(), 54);
    // Labels are the shape; pixels are binary.
    for (i, f) in a.factors.train.iter().enumerate() {
        assert_eq!(a.data.train.labels[i], f[0] as u8);
    }
    assert!(
        a.data
            .train
            .pixels
            .to_f32()
            .iter()
            .all(|&p| p == 0.0 || p == 1.0)
    );
    // Binary images are held as bytes: one per pixel.
    assert_eq!(
        a.data.train.pixels.bytes(),
        a.data.train.len() * cfg.side * cfg.side
    );
    // Another seed, another split of the same images.
    let other = shapes::generate(&ShapesConfig { seed: 6, ..cfg }).unwrap();
    assert_ne!(other.factors.test, a.factors.test);
}

/// Centroid (row, column) and area of a binary image.
fn moments(img: &[f32], side: usize) -> (f64, f64, f64) {
    let (mut r, mut c, mut n) = (0.0, 0.0, 0.0);
    for (i, &p) in img.iter().enumerate() {
        if p > 0.0 {
            r += (i / side) as f64;
            c += (i % side) as f64;
            n += 1.0;
        }
    }
    (r / n, c / n, n)
}

#[test]
fn each_factor_changes_what_it_names_and_nothing_else() {
    let side = 64;
    let grid = shapes::FULL_GRID;
    let base = [0u16, 3, 0, 16, 16];
    let img = |idx: [u16; 5]| shapes::render(side, &grid, &idx);
    let (r0, c0, area0) = moments(&img(base), side);
    assert!(area0 > 50.0, "the square is drawn");
    // x moves the centroid right, y down, by the same amount; the area stays.
    let (r, c, area) = moments(&img([0, 3, 0, 24, 16]), side);
    let (r2, c2, area2) = moments(&img([0, 3, 0, 16, 24]), side);
    assert!(
        c - c0 > 5.0 && (r - r0).abs() < 0.5,
        "x: {c0} → {c}, row {r0} → {r}"
    );
    assert!(r2 - r0 > 5.0 && (c2 - c0).abs() < 0.5, "y: {r0} → {r2}");
    assert!(((c - c0) - (r2 - r0)).abs() < 0.5);
    assert!((area - area0).abs() <= 2.0 && (area2 - area0).abs() <= 2.0);
    // Scale grows the area (about as its square); the centroid stays.
    let (rs, cs, big) = moments(&img([0, 5, 0, 16, 16]), side);
    let (_, _, small) = moments(&img([0, 0, 0, 16, 16]), side);
    assert!(big > 3.0 * small, "scale 1 vs 0.5: {big} vs {small}");
    assert!((rs - r0).abs() < 0.6 && (cs - c0).abs() < 0.6);
    // A quarter turn (10 of 40 orientations) leaves a square as it was; an ellipse turns
    // into its transpose about the centre.
    assert_eq!(img([0, 3, 10, 16, 16]), img(base));
    let e0 = img([1, 3, 0, 16, 16]);
    let e90 = img([1, 3, 10, 16, 16]);
    assert_ne!(e0, e90);
    let transposed: Vec<f32> = (0..side * side)
        .map(|i| e0[(i % side) * side + i / side])
        .collect();
    let differ = e90.iter().zip(&transposed).filter(|(a, b)| a != b).count();
    assert!(differ <= 4, "{differ} pixels differ from the transpose");
    // The three shapes differ.
    assert_ne!(img(base), e0);
    assert_ne!(img([2, 3, 0, 16, 16]), img(base));
    assert_eq!(FACTOR_NAMES.len(), 5);
}

#[test]
fn shapes_sizes_are_checked_against_the_limits() {
    let bad = |cfg: ShapesConfig| shapes::generate(&cfg).unwrap_err().to_string();
    let e = bad(ShapesConfig {
        grid: [3, 6, 41, 8, 8],
        ..ShapesConfig::small()
    });
    assert!(
        e.contains("orientation values = 41") && e.contains("40"),
        "{e}"
    );
    let e = bad(ShapesConfig {
        side: 4096,
        ..ShapesConfig::small()
    });
    assert!(e.contains("image side = 4096"), "{e}");
    // dSprites' whole grid at 128×128 would be 12 GB even at a byte a pixel.
    let e = bad(ShapesConfig::full(128));
    assert!(e.contains("images × pixels"), "{e}");
    let e = bad(ShapesConfig {
        test_fraction: 1.0,
        ..ShapesConfig::small()
    });
    assert!(e.contains("test fraction"), "{e}");
}

/// Rows of factor indices: every combination of `sizes`, `reps` times.
fn factor_grid(sizes: &[usize], reps: usize) -> Vec<Vec<usize>> {
    let mut rows = vec![vec![]];
    for &m in sizes {
        rows = rows
            .into_iter()
            .flat_map(|r| {
                (0..m).map(move |v| {
                    let mut r = r.clone();
                    r.push(v);
                    r
                })
            })
            .collect();
    }
    rows.iter()
        .cycle()
        .take(rows.len() * reps)
        .cloned()
        .collect()
}

#[test]
fn mig_is_one_for_codes_that_are_the_factors_and_zero_for_independent_codes() {
    let factors = factor_grid(&[3, 6, 10], 50);
    let n = factors.len();
    let mut rng = Lcg(11);
    // One dimension per factor (with a little noise) and a fourth of pure noise.
    let d = 4;
    let mut codes = Vec::with_capacity(n * d);
    for row in &factors {
        for &v in row {
            codes.push(v as f32 + 0.01 * rng.normal() as f32);
        }
        codes.push(rng.normal() as f32);
    }
    let (score, gaps) = mig(&codes, d, &factors).unwrap();
    assert!(score > 0.99, "MIG {score} ({gaps:?})");
    // Shuffled dimensions: the same score (MIG does not care which dimension).
    let perm = [3, 2, 0, 1];
    let shuffled: Vec<f32> = (0..n)
        .flat_map(|i| perm.map(|j| codes[i * d + j]))
        .collect();
    assert!((mig(&shuffled, d, &factors).unwrap().0 - score).abs() < 1e-12);
    // Codes that ignore the factors.
    let noise: Vec<f32> = (0..n * d).map(|_| rng.normal() as f32).collect();
    let (zero, _) = mig(&noise, d, &factors).unwrap();
    assert!(zero < 0.02, "MIG of independent codes {zero}");
    // Each dimension's best factor: its own, carrying all of its entropy; the noise
    // dimension tells next to nothing about any.
    let best = latent_explorer::explore::best_factor_per_dimension(&codes, d, &factors);
    for (j, b) in best.iter().take(3).enumerate() {
        let (f, share) = b.unwrap();
        assert_eq!(f, j);
        assert!(share > 0.99, "{best:?}");
    }
    assert!(best[3].unwrap().1 < 0.01, "{best:?}");
    // Two dimensions carrying the same factor: no gap for it.
    let twice: Vec<f32> = factors
        .iter()
        .flat_map(|r| [r[0] as f32, r[0] as f32, r[1] as f32, r[2] as f32])
        .collect();
    let (_, g) = mig(&twice, 4, &factors).unwrap();
    assert!(g[0].abs() < 1e-9 && g[1] > 0.99 && g[2] > 0.99, "{g:?}");
}

#[test]
fn mig_of_a_code_mixing_two_factors_is_the_hand_computed_half() {
    // Two independent fair binary factors A, B; z0 = A + B, z1 noise.
    // I(z0; A) = H(z0) − H(z0 | A) = 1.5 bits − 1 bit = 0.5 bit, the same for B; H(A) = 1 bit;
    // z1 tells nothing: each gap is 0.5, and so is the MIG.
    let factors = factor_grid(&[2, 2], 10_000);
    let mut rng = Lcg(3);
    let codes: Vec<f32> = factors
        .iter()
        .flat_map(|r| [(r[0] + r[1]) as f32, rng.normal() as f32])
        .collect();
    let (score, gaps) = mig(&codes, 2, &factors).unwrap();
    for g in &gaps {
        assert!((g - 0.5).abs() < 0.005, "{gaps:?}");
    }
    assert!((score - 0.5).abs() < 0.005, "{score}");
    // A factor that never varies is left out; one dimension is not enough.
    let constant: Vec<Vec<usize>> = factors.iter().map(|r| vec![r[0], 0]).collect();
    assert_eq!(mig(&codes, 2, &constant).unwrap().1.len(), 1);
    assert!(mig(&codes[..factors.len()], 1, &factors).is_none());
}

#[test]
fn cli_trains_on_shapes_and_eval_reports_the_mig() {
    use crate::explore_tools::{ok, s};
    let tmp = tempfile::tempdir().unwrap();
    let ckpt = tmp.path().join("shapes.safetensors");
    ok(&[
        "train",
        "--data",
        "shapes:16",
        "--epochs",
        "1",
        "--hidden",
        "32",
        "--latent",
        "4",
        "--final-iwae-k",
        "0",
        "--out",
        s(&ckpt),
    ]);
    let text = ok(&[
        "eval",
        s(&ckpt),
        "--data",
        "shapes:16",
        "--iwae-k",
        "0",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let v = &v["data"];
    let score = v["mig"]["score"].as_f64().unwrap();
    let per = v["mig"]["per_factor"].as_array().unwrap();
    assert_eq!(per.len(), 5);
    assert!((0.0..=1.0).contains(&score), "{v}");
    // The same codes through the library give the same figure.
    let set = shapes::generate(&ShapesConfig {
        side: 16,
        ..ShapesConfig::small()
    })
    .unwrap();
    let loaded = latent_explorer::checkpoint::load(&ckpt, &crate::common::cpu()).unwrap();
    let post = latent_explorer::train::metrics::encode_split(
        &loaded.model,
        &set.data.test,
        &crate::common::cpu(),
        500,
    );
    let rows: Vec<Vec<usize>> = set
        .factors
        .test
        .iter()
        .map(|r| r.iter().map(|&x| x as usize).collect())
        .collect();
    let (lib, _) = mig(&post.mu, post.dim, &rows).unwrap();
    assert!((lib - score).abs() < 1e-9, "{lib} vs {score}");
    let fvae = v["factor_vae_score"].as_f64().unwrap();
    let lib_fvae =
        latent_explorer::explore::factor_vae_score(&post.mu, post.dim, &rows, Default::default())
            .unwrap();
    assert_eq!(fvae, lib_fvae);
    assert!((0.0..=1.0).contains(&fvae));
    // Traversal rows are labelled by the factor each dimension tells most about.
    let png = tmp.path().join("t.png");
    let text = ok(&[
        "traverse",
        s(&ckpt),
        "--data",
        "shapes:16",
        "--out",
        s(&png),
    ]);
    assert!(text.contains("factor (I(z; v) / H(v))"), "{text}");
    let labelled = text
        .lines()
        .filter(|l| FACTOR_NAMES.iter().any(|n| l.contains(&format!("  {n} ("))))
        .count();
    assert_eq!(labelled, 4, "{text}");
    // A side that is not a number is refused.
    let e = crate::explore_tools::fails(&["eval", s(&ckpt), "--data", "shapes:big"]);
    assert!(e.contains("the side must be a whole number"), "{e}");
}

#[test]
fn factor_vae_score_is_one_for_factor_codes_chance_for_noise_and_seven_ninths_by_hand() {
    use latent_explorer::explore::{FactorVaeScore, factor_vae_score};
    let cfg = FactorVaeScore {
        batch: 64,
        train_votes: 1500,
        eval_votes: 3000,
        seed: 9,
    };
    let factors = factor_grid(&[4, 5, 6], 40);
    let n = factors.len();
    let mut rng = Lcg(21);
    // One dimension per factor plus a noise dimension: every vote finds its factor's.
    let perfect: Vec<f32> = factors
        .iter()
        .flat_map(|r| {
            let mut row: Vec<f32> = r
                .iter()
                .map(|&v| v as f32 + 0.01 * rng.normal() as f32)
                .collect();
            row.push(rng.normal() as f32);
            row
        })
        .collect();
    let one = factor_vae_score(&perfect, 4, &factors, cfg).unwrap();
    assert!(one > 0.999, "{one}");
    // Codes that ignore the factors: the classifier guesses, about 1/3.
    let noise: Vec<f32> = (0..n * 4).map(|_| rng.normal() as f32).collect();
    let chance = factor_vae_score(&noise, 4, &factors, cfg).unwrap();
    assert!((chance - 1.0 / 3.0).abs() < 0.1, "{chance}");
    // Three factors of 5 values; z0 = A, z1 = B, z2 an independent draw of the same
    // distribution: C is in no dimension. A's and B's votes are always right (2/3 of the
    // votes); fixing C leaves z0, z1, z2 identically distributed, so C's votes land on each
    // with probability 1/3, and only z2's (which no other factor's vote reaches) are
    // classified C: 2/3 + 1/3 · 1/3 = 7/9.
    let fives = factor_grid(&[5, 5, 5], 60);
    let partial: Vec<f32> = fives
        .iter()
        .flat_map(|r| {
            let z2 = (rng.uniform() * 5.0).floor() as f32;
            [r[0] as f32, r[1] as f32, z2]
        })
        .collect();
    let s = factor_vae_score(&partial, 3, &fives, cfg).unwrap();
    eprintln!(
        "FactorVAE score: factor codes {one}, noise {chance}, A and B only {s} (7/9 = 0.778)"
    );
    assert!((s - 7.0 / 9.0).abs() < 0.03, "{s} vs 7/9");
    // Reproducible from its seed.
    assert_eq!(factor_vae_score(&partial, 3, &fives, cfg), Some(s));
}

#[test]
fn permuting_dimensions_keeps_each_marginal_and_breaks_their_dependence() {
    use burn::tensor::{Tensor, TensorData};
    let n = 64;
    let values: Vec<f32> = (0..n).flat_map(|i| [i as f32, i as f32]).collect();
    let z: Tensor<2> = Tensor::from_data(TensorData::new(values, [n, 2]), &crate::common::cpu());
    let p = crate::common::vec_of(latent_explorer::variant::permute_dims(z, 7));
    let col = |j: usize| -> Vec<f32> { (0..n).map(|i| p[i * 2 + j]).collect() };
    for j in 0..2 {
        let mut c = col(j);
        c.sort_by(f32::total_cmp);
        assert_eq!(
            c,
            (0..n).map(|i| i as f32).collect::<Vec<_>>(),
            "column {j}"
        );
    }
    // The columns were equal; shuffled independently they agree on few rows.
    let same = (0..n).filter(|&i| p[i * 2] == p[i * 2 + 1]).count();
    assert!(same < 8, "{same} of {n} rows still equal");
}

#[test]
fn compare_reports_the_scores_on_data_with_factors_and_averages_seeds() {
    use latent_explorer::compare::{self, FACTOR_VAE_SCORE, MIG};
    use latent_explorer::train::TrainConfig;
    use latent_explorer::variant::VariantKind;
    let set = shapes::generate(&ShapesConfig {
        side: 16,
        grid: [3, 2, 4, 4, 4],
        ..ShapesConfig::small()
    })
    .unwrap();
    let data = std::sync::Arc::new(set.data);
    let mut base = TrainConfig {
        epochs: 1,
        batch_size: 32,
        ..TrainConfig::default()
    };
    base.model.latent_dim = 4;
    base.model.arch = latent_explorer::model::ArchConfig::Mlp { hidden: vec![32] };
    let per_seed: Vec<_> = (0..2)
        .map(|seed| {
            let cfg = TrainConfig {
                seed,
                ..base.clone()
            };
            compare::compare(
                &[VariantKind::Vae, VariantKind::BetaVae],
                &cfg,
                data.clone(),
                &crate::common::cpu(),
                0,
                None,
                |_, _| {},
            )
            .unwrap()
        })
        .collect();
    let score = |r: &compare::CompareRow, name: &str| {
        r.extra
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .unwrap()
    };
    for rows in &per_seed {
        for r in rows {
            assert!((0.0..=1.0).contains(&score(r, MIG)));
            assert!((0.0..=1.0).contains(&score(r, FACTOR_VAE_SCORE)));
        }
    }
    // The same images without their factors: no scores (they are not made up).
    let plain = std::sync::Arc::new(latent_explorer::data::Dataset {
        factors: None,
        ..(*data).clone()
    });
    let rows = compare::compare(
        &[VariantKind::Vae],
        &base,
        plain,
        &crate::common::cpu(),
        0,
        None,
        |_, _| {},
    )
    .unwrap();
    assert!(
        rows[0]
            .extra
            .iter()
            .all(|(n, _)| n != MIG && n != FACTOR_VAE_SCORE)
    );
    // The table's mean ± sd are those of the rows.
    let table = compare::seeds_table(&per_seed);
    let migs: Vec<f64> = per_seed.iter().map(|r| score(&r[0], MIG)).collect();
    let (m, sd) = compare::mean_sd(&migs);
    assert!(table.contains(&format!("{m:.3} ± {sd:.3}")), "{table}");
    assert_eq!(table.lines().count(), 4, "{table}");
    assert_eq!(compare::mean_sd(&[1.0, 3.0]), (2.0, 2f64.sqrt()));
    assert_eq!(compare::mean_sd(&[5.0]), (5.0, 0.0));
}

#[test]
fn a_shapes_spec_names_the_side_and_anything_else_is_a_path() {
    use latent_explorer::data::shapes::parse_spec;
    assert_eq!(parse_spec("shapes").unwrap().unwrap().side, 32);
    let cfg = parse_spec("shapes:48").unwrap().unwrap();
    assert_eq!((cfg.side, cfg.grid), (48, ShapesConfig::small().grid));
    assert!(
        parse_spec("shapes:big")
            .unwrap_err()
            .contains("whole number")
    );
    assert!(parse_spec("mnist").unwrap().is_none());
    assert!(parse_spec("").unwrap().is_none());
    // dSprites' whole grid: `shapes:64:full` is dSprites itself.
    assert_eq!(
        parse_spec("shapes:64:full").unwrap().unwrap(),
        ShapesConfig::full(64)
    );
    assert!(parse_spec("shapes:64:most").unwrap_err().contains("full"));
    assert!(parse_spec("shapes:64:full:x").is_err());
}

#[test]
fn the_whole_dsprites_grid_is_made_and_held_at_a_byte_a_pixel() {
    // At 8×8 (so the test is quick): all 737,280 combinations, each once.
    let s = shapes::generate(&ShapesConfig::full(8)).unwrap();
    let n = s.data.train.len() + s.data.test.len();
    assert_eq!(n, 3 * 6 * 40 * 32 * 32);
    assert_eq!(s.data.test.len(), 73_728);
    let mut all: Vec<[u16; 5]> = s
        .factors
        .train
        .iter()
        .chain(&s.factors.test)
        .copied()
        .collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "every combination exactly once");
    assert_eq!(
        s.data.train.pixels.bytes() + s.data.test.pixels.bytes(),
        n * 64
    );
    // At 64×64 it is 3.0 GB so: within the dataset limit (4 GiB), which a 128×128 grid is not.
    assert!(n * 64 * 64 <= latent_explorer::limits::MAX_DATASET_VALUES);
    let e = shapes::generate(&ShapesConfig::full(128))
        .unwrap_err()
        .to_string();
    assert!(e.contains("shapes images × pixels"), "{e}");
}

/// A compare row with only what the disentangle table reads.
fn scored(
    variant: latent_explorer::variant::VariantKind,
    mig: f64,
    fvae: f64,
    wall: f64,
) -> latent_explorer::compare::CompareRow {
    use latent_explorer::compare::{CompareRow, FACTOR_VAE_SCORE, MIG};
    CompareRow {
        variant,
        neg_elbo: None,
        iwae_nll: None,
        mse: 0.0,
        bce: 0.0,
        active_units: 0,
        latent: 10,
        samples_per_sec: 0.0,
        wall_secs: wall,
        samples: None,
        extra: vec![(MIG.into(), mig), (FACTOR_VAE_SCORE.into(), fvae)],
    }
}

#[test]
fn the_disentangle_protocol_reports_medians_ranges_and_the_ordering_against_the_vae() {
    use latent_explorer::compare::{self, CompareProtocol};
    use latent_explorer::variant::VariantKind::{BetaTcvae, BetaVae, FactorVae, Vae};
    // Medians by hand: odd and even counts, NaN left out, nothing at all.
    assert_eq!(
        compare::median_range(&[3.0, 1.0, 2.0]),
        Some((2.0, 1.0, 3.0))
    );
    assert_eq!(
        compare::median_range(&[4.0, 1.0, 3.0, 2.0]),
        Some((2.5, 1.0, 4.0))
    );
    assert_eq!(
        compare::median_range(&[f64::NAN, 5.0]),
        Some((5.0, 5.0, 5.0))
    );
    assert_eq!(compare::median_range(&[]), None);
    // Three seeds of four variants; the β-TCVAE's median is above the VAE's though its
    // least is below, the β-VAE's mean would be above but its median is not.
    let seeds = [
        [(0.10, 0.6), (0.02, 0.5), (0.30, 0.8), (0.20, 0.7)],
        [(0.20, 0.7), (0.90, 0.5), (0.05, 0.6), (0.25, 0.9)],
        [(0.30, 0.8), (0.15, 0.5), (0.40, 0.7), (0.15, 0.8)],
    ];
    let per_seed: Vec<Vec<_>> = seeds
        .iter()
        .map(|s| {
            [Vae, BetaVae, BetaTcvae, FactorVae]
                .iter()
                .zip(s)
                .map(|(&v, &(m, f))| scored(v, m, f, 2.0))
                .collect()
        })
        .collect();
    let rows = compare::disentangle_rows(&per_seed);
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.variant, r.seeds, r.mig, r.mig_above_reference))
        .collect();
    assert_eq!(
        got,
        [
            (Vae, 3, Some((0.20, 0.10, 0.30)), None),
            (BetaVae, 3, Some((0.15, 0.02, 0.90)), Some(false)),
            (BetaTcvae, 3, Some((0.30, 0.05, 0.40)), Some(true)),
            (FactorVae, 3, Some((0.20, 0.15, 0.25)), Some(false)),
        ]
    );
    assert_eq!(rows[3].factor_vae_score, Some((0.8, 0.7, 0.9)));
    let table = compare::disentangle_table(&rows);
    assert!(table.contains("0.300 [0.050, 0.400]"), "{table}");
    assert!(
        table.contains("median MIG 0.300 above the VAE's 0.200"),
        "{table}"
    );
    assert!(table.contains("median MIG 0.150 NOT above"), "{table}");
    // The protocol's set-up: the VAE first (the reference), 10 latents, at least 3 seeds.
    let p = CompareProtocol::Disentangle.settings();
    assert_eq!(p.variants[0], Vae);
    assert!(p.variants.contains(&BetaTcvae) && p.variants.contains(&FactorVae));
    assert_eq!((p.latent, p.seeds >= 3), (10, true));
}

#[test]
fn compare_protocol_disentangle_runs_on_shapes_and_refuses_data_without_factors() {
    use crate::explore_tools::{fails, ok};
    let e = fails(&["compare", "--protocol", "disentangle", "--epochs", "1"]);
    assert!(
        e.contains("--protocol") && e.contains("known factors of variation"),
        "{e}"
    );
    let text = ok(&[
        "compare",
        "--protocol",
        "disentangle",
        "--data",
        "shapes:16",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--variants",
        "vae,beta-tcvae",
        "--latent",
        "4",
    ]);
    assert!(
        text.contains("protocol disentangle: 1 epochs each"),
        "{text}"
    );
    assert!(text.contains("latent 4"), "{text}");
    assert!(text.contains("| VAE | 1 |"), "{text}");
    assert!(text.contains("β-TCVAE: median MIG"), "{text}");
}
