//! VampPrior (Tomczak & Welling 2018): the prior's log density against a host f64
//! log-mean-exp over its components, the ELBO, IWAE bound and evaluation under that prior,
//! prior draws from the mixture (a statistical test on components far apart), a checkpoint
//! round trip of the learned pseudo-inputs, and invalid K.

use burn::module::{Module, Param};
use burn::tensor::{Tensor, TensorData};
use latent_explorer::checkpoint::{self, CheckpointMeta, DatasetInfo};
use latent_explorer::data::Batcher;
use latent_explorer::explore::iwae_of_batch;
use latent_explorer::model::gaussian::with_noise_stream;
use latent_explorer::model::vamp::{
    component_picks, log_prior, mixture_log_density_rows, mixture_log_marginals, prior_draws,
    prior_sample,
};
use latent_explorer::model::{ArchConfig, Encoder, LatentKind, Likelihood, Vae, VaeConfig};
use latent_explorer::train::RunSpec;
use latent_explorer::train::{TrainConfig, Trainer, evaluate};
use latent_explorer::variant::{VariantKind, VariantParams, vamp_iwae, vamp_parts};

use crate::common::{
    Lcg, cpu, log_bernoulli, log_mean_exp_host, log_normal_host, param_values, small, t2, vec_of,
};

/// A VampPrior model on `rows × cols` images with a linear encoder (no hidden layer), so
/// its posteriors can be computed on the host.
fn linear_vamp(rows: usize, cols: usize, latent: usize, k: usize) -> (VaeConfig, Vae) {
    let cfg = VaeConfig {
        rows,
        cols,
        latent_dim: latent,
        arch: ArchConfig::Mlp { hidden: vec![] },
        likelihood: Likelihood::Bernoulli,
        latent: LatentKind::Vamp { pseudo_inputs: k },
        channels: 1,
    };
    let model = cfg.init(&cpu()).unwrap();
    (cfg, model)
}

/// A linear layer's weight `[in·out]` (row-major) and bias `[out]`.
type Affine = (Vec<f32>, Vec<f32>);

/// The linear encoder's μ and log σ² heads.
fn heads(model: &Vae) -> (Affine, Affine) {
    let Encoder::Mlp(e) = &model.encoder else {
        panic!("an MLP encoder")
    };
    assert!(e.body.layers.is_empty());
    let w = |l: &burn::nn::Linear| {
        (
            vec_of(l.weight.val()),
            vec_of(l.bias.as_ref().unwrap().val()),
        )
    };
    (w(&e.mu), w(&e.logvar))
}

/// Host `u W + b` for one input row.
fn affine(u: &[f64], (w, b): &Affine) -> Vec<f64> {
    let out = b.len();
    (0..out)
        .map(|j| {
            b[j] as f64
                + u.iter()
                    .enumerate()
                    .map(|(i, &v)| v * w[i * out + j] as f64)
                    .sum::<f64>()
        })
        .collect()
}

/// Host f64 log N(z; μ, exp(lv)) per dimension.
fn log_normal_1d(z: f64, mu: f64, lv: f64) -> f64 {
    -0.5 * ((z - mu).powi(2) / lv.exp() + lv + latent_explorer::model::gaussian::LN_2PI)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1.0)
}

#[test]
fn vampprior_log_density_is_the_host_log_mean_exp_over_its_pseudo_inputs_posteriors() {
    let dev = cpu();
    let (k, d) = (5, 3);
    let data = small(16, 12);
    let (_, mut model) = linear_vamp(28, 28, d, k);
    let p = 28 * 28;
    // Pseudo-inputs partly outside [0, 1]: the encoder must see them clamped.
    let mut rng = Lcg(31);
    let raw: Vec<f32> = (0..k * p)
        .map(|_| (rng.uniform() * 2.0 - 0.5) as f32)
        .collect();
    model.pseudo = Some(Param::from_tensor(t2(raw.clone(), [k, p], &dev)));
    let (mu_head, lv_head) = heads(&model);
    // The components on the host: the posteriors of the clamped pseudo-inputs.
    let comps: Vec<(Vec<f64>, Vec<f64>)> = (0..k)
        .map(|c| {
            let u: Vec<f64> = raw[c * p..(c + 1) * p]
                .iter()
                .map(|&v| (v as f64).clamp(0.0, 1.0))
                .collect();
            (affine(&u, &mu_head), affine(&u, &lv_head))
        })
        .collect();
    let host_log_prior = |z: &[f32]| -> f64 {
        let per: Vec<f64> = comps
            .iter()
            .map(|(m, l)| (0..d).map(|j| log_normal_1d(z[j] as f64, m[j], l[j])).sum())
            .collect();
        log_mean_exp_host(&per)
    };
    // Points near the components and far from all of them (log-mean-exp must not
    // underflow there).
    let n = 9;
    let mut z: Vec<f32> = rng.normals(n * d);
    for v in &mut z[6 * d..] {
        *v *= 12.0;
    }
    let zt = t2(z.clone(), [n, d], &dev);
    let got = vec_of(log_prior(&model, zt.clone()));
    let (mu, lv) = model.vamp_components().unwrap();
    let chunked = vec_of(mixture_log_density_rows(
        zt.clone(),
        mu.clone(),
        lv.clone(),
        2,
    ));
    let marg = vec_of(mixture_log_marginals(zt, mu, lv));
    for i in 0..n {
        let want = host_log_prior(&z[i * d..(i + 1) * d]);
        assert!(
            close(got[i] as f64, want, 1e-5),
            "z{i}: {} vs {want}",
            got[i]
        );
        assert!(
            close(chunked[i] as f64, want, 1e-5),
            "z{i} chunked: {}",
            chunked[i]
        );
        for j in 0..d {
            let per: Vec<f64> = comps
                .iter()
                .map(|(m, l)| log_normal_1d(z[i * d + j] as f64, m[j], l[j]))
                .collect();
            let want = log_mean_exp_host(&per);
            assert!(close(marg[i * d + j] as f64, want, 1e-5), "z{i} dim {j}");
        }
    }
    // Not N(0, I): the same points score differently under the standard normal.
    let std: f64 = log_normal_host(&z[..d], &[0.0; 3], &[0.0; 3]);
    assert!((std - got[0] as f64).abs() > 1e-2, "{std} vs {}", got[0]);

    // The ELBO's pieces with given noise: rec = −log p(x|z), kl = log q(z|x) − log p(z)
    // under the VampPrior.
    let b = 6;
    let batch = Batcher::new(dev.clone()).batch(&data.test, &(0..b).collect::<Vec<_>>());
    let x = vec_of(batch.images.clone());
    let eps = rng.normals(b * d);
    let parts = vamp_parts(
        &model,
        Likelihood::Bernoulli,
        batch.images.clone(),
        Some(t2(eps.clone(), [b, d], &dev)),
    );
    let (rec, kl) = (vec_of(parts.rec), vec_of(parts.kl));
    let posterior = |i: usize| {
        let u: Vec<f64> = x[i * p..(i + 1) * p].iter().map(|&v| v as f64).collect();
        (affine(&u, &mu_head), affine(&u, &lv_head))
    };
    let sample = |i: usize, e: &[f32]| -> (Vec<f32>, f64) {
        let (m, l) = posterior(i);
        let z: Vec<f32> = (0..d)
            .map(|j| (m[j] + (0.5 * l[j]).exp() * e[j] as f64) as f32)
            .collect();
        let log_q = (0..d).map(|j| log_normal_1d(z[j] as f64, m[j], l[j])).sum();
        (z, log_q)
    };
    let log_px = |i: usize, z: &[f32]| -> f64 {
        let logits = vec_of(model.decode_image(t2(z.to_vec(), [1, d], &dev), None));
        log_bernoulli(&x[i * p..(i + 1) * p], &logits)
    };
    for i in 0..b {
        let (z, log_q) = sample(i, &eps[i * d..(i + 1) * d]);
        let want_kl = log_q - host_log_prior(&z);
        assert!(
            close(kl[i] as f64, want_kl, 1e-4),
            "image {i}: kl {} vs {want_kl}",
            kl[i]
        );
        assert!(close(rec[i] as f64, -log_px(i, &z), 1e-4), "image {i}: rec");
    }

    // The IWAE bound with given noise: per image, the host log-mean-exp over k samples of
    // log p(x|z) + log p_vamp(z) − log q(z|x).
    let kk = 4;
    let noise = rng.normals(kk * b * d);
    let bound = vec_of(vamp_iwae(
        &model,
        Likelihood::Bernoulli,
        batch.images.clone(),
        kk,
        Some(Tensor::from_data(
            TensorData::new(noise.clone(), [kk, b, d]),
            &dev,
        )),
    ));
    for (i, &got) in bound.iter().enumerate() {
        let lw: Vec<f64> = (0..kk)
            .map(|s| {
                let at = (s * b + i) * d;
                let (z, log_q) = sample(i, &noise[at..at + d]);
                log_px(i, &z) + host_log_prior(&z) - log_q
            })
            .collect();
        let want = log_mean_exp_host(&lw);
        assert!(close(got as f64, want, 1e-4), "image {i}: {got} vs {want}");
    }

    // `eval`'s bounds use the VampPrior: its IWAE bound is this one with the same noise,
    // and its −ELBO (one batch, so one draw of noise) is rec + kl from the same stream.
    let seed = 99;
    let ours = with_noise_stream(seed, || {
        vec_of(vamp_iwae(
            &model,
            Likelihood::Bernoulli,
            batch.images.clone(),
            3,
            None,
        ))
    });
    let evals = with_noise_stream(seed, || {
        vec_of(iwae_of_batch(
            &model,
            Likelihood::Bernoulli,
            batch.clone(),
            3,
        ))
    });
    assert_eq!(
        ours, evals,
        "iwae_of_batch does not use the VampPrior's bound"
    );
    let all = Batcher::new(dev.clone()).batch(&data.test, &(0..12).collect::<Vec<_>>());
    let t = with_noise_stream(seed, || {
        vamp_parts(&model, Likelihood::Bernoulli, all.images, None)
    });
    let (rec, kl) = (vec_of(t.rec), vec_of(t.kl));
    let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    let m = with_noise_stream(seed, || {
        evaluate(&model, Likelihood::Bernoulli, &data.test, &dev, 12, 0)
    });
    assert!(
        close(m.kl, mean(&kl), 1e-5),
        "eval kl {} vs {}",
        m.kl,
        mean(&kl)
    );
    assert!(close(m.neg_elbo, mean(&rec) + mean(&kl), 1e-5), "{m:?}");
    let dep = m.extra("kl_dependence").unwrap();
    let dims: f64 = m.kl_per_dim.iter().sum();
    assert_eq!(m.kl_per_dim.len(), d);
    assert!(close(dims + dep, m.kl, 1e-5), "{dims} + {dep} vs {}", m.kl);
}

#[test]
fn vampprior_prior_draws_come_from_the_mixture_of_the_pseudo_inputs_posteriors() {
    let dev = cpu();
    let (k, d) = (3, 2);
    let (_, mut model) = linear_vamp(2, 2, d, k);
    // Pseudo-input c is the one-hot image e_c; the encoder maps it to μ_c and log σ²_c
    // chosen far apart (11.3 between the nearest two means, σ ≤ 1).
    let mut u = vec![0.0f32; k * 4];
    for c in 0..k {
        u[c * 4 + c] = 1.0;
    }
    let mus = [[8.0f32, 0.0], [-8.0, 0.0], [0.0, 8.0]];
    let vars = [[0.25f32, 1.0], [1.0, 0.25], [1.0, 1.0]];
    let mut w_mu = vec![0.0f32; 4 * d];
    let mut w_lv = vec![0.0f32; 4 * d];
    for c in 0..k {
        for j in 0..d {
            w_mu[c * d + j] = mus[c][j];
            w_lv[c * d + j] = vars[c][j].ln();
        }
    }
    model.pseudo = Some(Param::from_tensor(t2(u, [k, 4], &dev)));
    if let Encoder::Mlp(e) = &mut model.encoder {
        e.mu.weight = Param::from_tensor(t2(w_mu, [4, d], &dev));
        e.logvar.weight = Param::from_tensor(t2(w_lv, [4, d], &dev));
        e.mu.bias = Some(Param::from_tensor(Tensor::zeros([d], &dev)));
        e.logvar.bias = Some(Param::from_tensor(Tensor::zeros([d], &dev)));
    }
    let n = 3000;
    let nearest = |z: &[f32]| -> usize {
        (0..k)
            .min_by(|&a, &b| {
                let da: f32 = (0..d).map(|j| (z[j] - mus[a][j]).powi(2)).sum();
                let db: f32 = (0..d).map(|j| (z[j] - mus[b][j]).powi(2)).sum();
                da.total_cmp(&db)
            })
            .unwrap()
    };
    // Tolerances: a component's share of n = 3000 draws has standard error
    // √(1/3 · 2/3 / 3000) ≈ 0.0086, allowed 0.05 (5.8 SE); its sample mean has standard
    // error ≤ 1/√1000 ≈ 0.032, allowed 0.15 (4.7 SE); its sample variance has relative
    // standard error √(2/1000) ≈ 0.045, allowed 25% (5.6 SE). N(0, I) draws, or draws that
    // ignore a component's mean or variance, fail these.
    let check = |z: &[f32], what: &str| {
        let mut groups: Vec<Vec<&[f32]>> = vec![Vec::new(); k];
        for i in 0..n {
            let zi = &z[i * d..(i + 1) * d];
            groups[nearest(zi)].push(zi);
        }
        for c in 0..k {
            let g = &groups[c];
            let share = g.len() as f64 / n as f64;
            assert!(
                (share - 1.0 / 3.0).abs() < 0.05,
                "{what}: component {c} share {share}"
            );
            for j in 0..d {
                let m = g.iter().map(|z| z[j] as f64).sum::<f64>() / g.len() as f64;
                let v =
                    g.iter().map(|z| (z[j] as f64 - m).powi(2)).sum::<f64>() / (g.len() - 1) as f64;
                assert!((m - mus[c][j] as f64).abs() < 0.15, "{what}: c{c} mean {m}");
                let want = vars[c][j] as f64;
                assert!(
                    (v / want - 1.0).abs() < 0.25,
                    "{what}: c{c} dim {j} var {v} vs {want}"
                );
            }
        }
    };
    // The `sample` command's and the app's draws: reproducible from the seed, and draw i
    // comes from the component `component_picks` names.
    let z = prior_draws(&model, 5, n, d);
    assert_eq!(z, prior_draws(&model, 5, n, d));
    let picks = component_picks(5, n, k);
    for i in 0..n {
        assert_eq!(nearest(&z[i * d..(i + 1) * d]), picks[i], "draw {i}");
    }
    check(&z, "prior_draws");
    // Sample scoring's draws, on the device from the noise stream.
    let zt = with_noise_stream(8, || vec_of(prior_sample(&model, n, d, &dev)));
    check(&zt, "prior_sample");
    // A model without pseudo-inputs draws the plain N(0, I) noise.
    let plain = VaeConfig {
        latent: LatentKind::Gaussian,
        ..linear_vamp(2, 2, d, k).0
    }
    .init(&dev)
    .unwrap();
    assert_eq!(
        prior_draws(&plain, 5, 4, d),
        latent_explorer::explore::prior_noise(5, 4, d)
    );
}

#[test]
fn vampprior_checkpoint_round_trip_keeps_the_learned_pseudo_inputs() {
    let dev = cpu();
    let data = small(64, 16);
    let params = VariantParams {
        vamp_pseudo_inputs: 7,
        ..VariantParams::default()
    };
    for arch in [
        ArchConfig::Mlp { hidden: vec![32] },
        ArchConfig::Conv {
            channels: [4, 8],
            dense: 16,
        },
    ] {
        let mut cfg = TrainConfig {
            variant: VariantKind::VampPrior,
            batch_size: 16,
            variant_params: params.clone(),
            ..TrainConfig::default()
        };
        cfg.model.arch = arch.clone();
        cfg.model.latent_dim = 4;
        let mut t = Trainer::new(cfg, data.clone(), &dev).unwrap();
        let before = vec_of(t.inference_model().pseudo.unwrap().val());
        assert_eq!(before.len(), 7 * 784);
        for _ in 0..4 {
            let m = t.step().unwrap().metrics;
            assert!(m.terms.iter().all(|(_, v)| v.is_finite()), "{m:?}");
        }
        let model = t.inference_model();
        let after = vec_of(model.pseudo.as_ref().unwrap().val());
        let moved = before
            .iter()
            .zip(&after)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            moved > 1e-5,
            "{arch}: training did not move the pseudo-inputs"
        );
        let meta = CheckpointMeta::new(
            t.config().clone(),
            DatasetInfo::of(&data),
            0,
            t.step_count(),
            None,
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vamp.safetensors");
        checkpoint::save(&path, &model, &t.aux().valid(), &meta).unwrap();
        let loaded = checkpoint::load(&path, &dev).unwrap();
        assert_eq!(
            loaded.meta.train.model.latent,
            LatentKind::Vamp { pseudo_inputs: 7 }
        );
        let got = vec_of(loaded.model.pseudo.as_ref().unwrap().val());
        assert!(
            got.iter()
                .zip(&after)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{arch}: pseudo-inputs differ after a round trip"
        );
        assert_eq!(param_values(&loaded.model), param_values(&model));
        // The prior itself: the same density and the same draws.
        let z = t2(Lcg(3).normals(5 * 4), [5, 4], &dev);
        assert_eq!(
            vec_of(log_prior(&loaded.model, z.clone())),
            vec_of(log_prior(&model, z))
        );
        assert_eq!(
            prior_draws(&loaded.model, 1, 6, 4),
            prior_draws(&model, 1, 6, 4)
        );
    }
}

#[test]
fn vampprior_rejects_zero_pseudo_inputs_with_a_clear_error() {
    let spec = RunSpec {
        variant: VariantKind::VampPrior,
        pseudo_inputs: 0,
        ..RunSpec::default()
    };
    let e = spec.validate().unwrap_err().to_string();
    assert!(e.contains("pseudo_inputs"), "{e}");
    let params = VariantParams {
        vamp_pseudo_inputs: 0,
        ..VariantParams::default()
    };
    assert!(params.validate().unwrap_err().contains("pseudo-inputs"));
    let cfg = VaeConfig {
        latent: LatentKind::Vamp { pseudo_inputs: 0 },
        ..VaeConfig::default()
    };
    let e = cfg.validate().unwrap_err().to_string();
    assert!(e.contains("pseudo-inputs"), "{e}");
    // The default is the paper's K = 500.
    assert_eq!(RunSpec::default().pseudo_inputs, 500);
    assert_eq!(
        VariantKind::VampPrior.latent_kind(&VariantParams::default()),
        LatentKind::Vamp { pseudo_inputs: 500 }
    );
}

#[test]
fn the_apps_prior_samples_of_a_vampprior_run_decode_its_mixture_draws() {
    use latent_explorer::gpu::TileSource;
    use latent_explorer::ui::decoder::{Job, ViewKey};
    use latent_explorer::ui::settings::CompareTab;

    use crate::app::{harness, options, quiesce, run_until};

    // A VampPrior run trained one epoch on 500 digits, K = 20, saved.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vampprior_app");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = small(500, 300);
    let cfg = RunSpec {
        variant: VariantKind::VampPrior,
        pseudo_inputs: 20,
        batch: 64,
        epochs: 1,
        latent: 8,
        ..RunSpec::default()
    }
    .train_config(&data);
    let mut t = Trainer::new(cfg, data.clone(), &cpu()).unwrap();
    while t.epoch() < 1 {
        t.step().unwrap();
    }
    let path = dir.join("vamp.safetensors");
    checkpoint::save_snapshot(&path, &t.snapshot(), DatasetInfo::of(&data), None).unwrap();

    let mut opts = options(1000, 50, 20);
    opts.autostart = false;
    opts.open = vec![path.clone()];
    if let Some(v) = opts.view.as_mut() {
        v.compare_tab = CompareTab::Prior;
    }
    let mut h = harness(opts);
    run_until(&mut h, 120, "the prior samples", |a| {
        a.runs.iter().next().is_some_and(|r| {
            r.image(ViewKey::Prior).is_some()
                && r.image(ViewKey::Prior).map(|i| i.request)
                    == r.views.requested.get(&ViewKey::Prior).copied()
        })
    });
    quiesce(&mut h);
    let seed = h.state().runs.cursor.prior_seed;
    let run = h.state().runs.iter().next().unwrap();
    assert_eq!(
        run.views.jobs.get(&ViewKey::Prior),
        Some(&Job::PriorDraws { seed, n: 64 })
    );
    let got = match run.image(ViewKey::Prior).map(|i| &i.source) {
        Some(TileSource::Host(v)) => v.as_ref().clone(),
        _ => panic!("no prior samples on the host"),
    };
    let model = checkpoint::load(&path, &cpu()).unwrap().model;
    let z = prior_draws(&model, seed, 64, 8);
    let want = vec_of(model.decode_mean(t2(z, [64, 8], &cpu())));
    let worst = crate::common::max_abs_diff(&got, &want);
    assert!(
        worst <= 1e-4,
        "the app's prior samples are {worst} from the mixture's"
    );
}
