//! The literature's binarized-MNIST protocol (issue 28 item 2): `--binarize static` (one
//! fixed Bernoulli draw of both splits, the same for every run), `--binarize dynamic`
//! (training images drawn anew at every step, the same whichever part of a batch they are
//! gathered in; the test split one fixed draw), recorded in the run's configuration and
//! protocol, and applied by `eval` to the checkpoint's test split.

use std::sync::Arc;

use latent_explorer::data::{BINARIZE_SEED, Batcher, Binarize, binarize_in_place, image_seed};
use latent_explorer::model::Likelihood;
use latent_explorer::train::{TrainConfig, Trainer};
use serde_json::Value;

use crate::common::{cpu, small, vec_of};
use crate::explore_tools::{fixture, ok, s};
use crate::json_shape::check_envelope;

fn is_binary(v: &[f32]) -> bool {
    v.iter().all(|&x| x == 0.0 || x == 1.0)
}

#[test]
fn a_bernoulli_draw_keeps_each_pixels_mean() {
    // 200,000 draws of p = 0.3: the share of ones within 4 standard errors (0.004).
    let mut v = vec![0.3f32; 200_000];
    binarize_in_place(&mut v, 5);
    assert!(is_binary(&v));
    let share = v.iter().sum::<f32>() as f64 / v.len() as f64;
    assert!((share - 0.3).abs() < 0.004, "share of ones {share}");
    // 0 and 1 stay as they are.
    let mut ends = vec![0.0f32, 1.0, 0.0, 1.0];
    binarize_in_place(&mut ends, 9);
    assert_eq!(ends, vec![0.0, 1.0, 0.0, 1.0]);
}

#[test]
fn static_binarization_is_one_fixed_draw_of_each_image() {
    let data = small(1000, 300);
    let a = data.train.binarized(BINARIZE_SEED);
    let b = data.train.binarized(BINARIZE_SEED);
    assert_eq!(a.pixels, b.pixels, "the same seed draws the same images");
    let (grey, bin) = (data.train.pixels.to_f32(), a.pixels.to_f32());
    assert!(is_binary(&bin));
    assert_eq!(a.labels, data.train.labels);
    // Each image's draw is its own: the first 100 images of the whole split are the
    // first 100 binarized alone.
    let first = data.train.take(100).binarized(BINARIZE_SEED);
    assert_eq!(first.pixels.to_f32()[..], bin[..100 * 784]);
    // Means kept: over 784,000 pixels, within 0.003 of the grey mean.
    let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    assert!(
        (mean(&grey) - mean(&bin)).abs() < 0.003,
        "{} vs {}",
        mean(&grey),
        mean(&bin)
    );
    // Another seed, another draw.
    assert_ne!(data.train.binarized(1).pixels, a.pixels);
    // The dataset: static binarizes both splits, dynamic the test split only.
    let st = data.binarized(Binarize::Static);
    assert!(is_binary(&st.train.pixels.to_f32()) && is_binary(&st.test.pixels.to_f32()));
    assert!(st.name.contains("static"), "{}", st.name);
    let dy = data.binarized(Binarize::Dynamic);
    assert_eq!(dy.train.pixels, data.train.pixels);
    assert_eq!(
        dy.test.pixels, st.test.pixels,
        "one fixed test draw for both"
    );
}

#[test]
fn dynamic_binarization_draws_each_image_from_its_step_and_index() {
    let data = small(1000, 300);
    let batcher = Batcher::new(cpu());
    let whole = vec_of(
        batcher
            .batch_drawn(&data.train, &[3, 7, 11, 40], Some(17))
            .images,
    );
    assert!(is_binary(&whole));
    // The same images gathered in two parts: the same draws.
    let p1 = vec_of(batcher.batch_drawn(&data.train, &[3, 7], Some(17)).images);
    let p2 = vec_of(batcher.batch_drawn(&data.train, &[11, 40], Some(17)).images);
    assert_eq!([p1, p2].concat(), whole);
    // Image 7 alone, drawn as `image_seed` says.
    let mut seven = data.train.image(7).to_vec();
    binarize_in_place(&mut seven, image_seed(17, 7));
    assert_eq!(seven, whole[784..2 * 784]);
    // Another step's seed, other draws; no seed, the grey images.
    let other = vec_of(
        batcher
            .batch_drawn(&data.train, &[3, 7, 11, 40], Some(18))
            .images,
    );
    assert_ne!(other, whole);
    let grey = vec_of(batcher.batch_drawn(&data.train, &[3], None).images);
    assert_eq!(grey, data.train.image(3).to_vec());

    // Training: reproducible from the seed, and not the same run as on grey values.
    let cfg = |binarize| TrainConfig {
        batch_size: 100,
        binarize,
        ..TrainConfig::default()
    };
    let losses = |binarize| {
        let mut t = Trainer::new(cfg(binarize), data.clone(), &cpu()).unwrap();
        assert!(is_binary(&t.data().test.pixels.to_f32()) || binarize == Binarize::None);
        (0..5)
            .map(|_| t.step().unwrap().metrics.terms[0].1)
            .collect::<Vec<f64>>()
    };
    let (d1, d2, none) = (
        losses(Binarize::Dynamic),
        losses(Binarize::Dynamic),
        losses(Binarize::None),
    );
    assert_eq!(d1, d2, "dynamic binarization is not reproducible");
    assert_ne!(d1, none);
    // Binarized pixels are Bernoulli targets: the Gaussian likelihood is refused.
    let mut gauss = cfg(Binarize::Static);
    gauss.model.likelihood = Likelihood::Gaussian {
        sigma: 0.1,
        learned: false,
    };
    let e = Trainer::new(gauss, Arc::clone(&data), &cpu())
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("Bernoulli"), "{e}");
}

fn json_lines(text: &str, command: &str) -> Vec<Value> {
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            check_envelope(&v, command);
            v
        })
        .collect()
}

#[test]
fn cli_binarized_runs_say_so_and_eval_measures_them_on_the_same_test_draw() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let mut elbo = Vec::new();
    for how in ["none", "static", "dynamic"] {
        let ckpt = dir.path().join(format!("{how}.safetensors"));
        let train = ok(&[
            "train",
            "--data",
            s(&f.data),
            "--epochs",
            "1",
            "--hidden",
            "32",
            "--latent",
            "4",
            "--final-iwae-k",
            "0",
            "--binarize",
            how,
            "--json",
            "--out",
            s(&ckpt),
        ]);
        let lines = json_lines(&train, "train");
        let last = lines.last().unwrap();
        assert_eq!(last["protocol"]["binarization"], how, "{last}");
        let trained = last["data"]["test"]["neg_elbo"].as_f64().unwrap();
        let trained_mse = last["data"]["test"]["mse"].as_f64().unwrap();
        // eval: the same protocol, and the same figure (the same test draw, the same
        // evaluation stream).
        let eval = ok(&["eval", s(&ckpt), "--data", s(&f.data), "--json"]);
        let e = &json_lines(&eval, "eval")[0];
        assert_eq!(e["protocol"]["binarization"], how, "{e}");
        let measured = e["data"]["neg_elbo"].as_f64().unwrap();
        let mse = e["data"]["mse"].as_f64().unwrap();
        assert!(
            (mse - trained_mse).abs() < 1e-5,
            "{how}: eval MSE {mse} vs train {trained_mse}"
        );
        assert!(
            (measured - trained).abs() < 1e-3 * trained.abs(),
            "{how}: eval {measured} vs train {trained}"
        );
        let text = ok(&["eval", s(&ckpt), "--data", s(&f.data)]);
        assert!(
            text.contains(&format!(
                "protocol: 300 test images, binarization {how}, IWAE k = "
            )),
            "{text}"
        );
        // Neither the fixture's 1,000 / 300 images nor grey pixels are the literature's
        // protocol, and the line says which.
        assert!(
            text.contains(
                "not comparable with published MNIST likelihoods: 1000 train / 300 test images"
            ),
            "{text}"
        );
        assert_eq!(
            text.contains("grey pixels, not binarized"),
            how == "none",
            "{text}"
        );
        elbo.push((how, measured, mse));
    }
    println!("test −ELBO and MSE after one epoch: {elbo:?}");
    // A Bernoulli log-likelihood is linear in its target, so a model's expected −ELBO is the
    // same on a draw of the pixels as on their grey values; its squared error is not: it
    // grows by each pixel's Bernoulli variance p(1 − p). So the MSE tells which test split
    // `eval` measured: the binarized checkpoints' (as training measured them) are above the
    // grey one's.
    assert!(
        elbo[1].2 > elbo[0].2 + 0.005 && elbo[2].2 > elbo[0].2 + 0.005,
        "{elbo:?}"
    );
}

#[test]
fn only_the_full_binarized_mnist_split_stands_beside_published_likelihoods() {
    use latent_explorer::compare::literature_caveat;
    use latent_explorer::data::ImageShape;
    let digits = ImageShape::grey(28, 28);
    assert_eq!(
        literature_caveat(60_000, 10_000, digits, Binarize::Dynamic),
        None
    );
    assert_eq!(
        literature_caveat(60_000, 10_000, digits, Binarize::Static),
        None
    );
    let grey = literature_caveat(60_000, 10_000, digits, Binarize::None).unwrap();
    assert!(
        grey.contains("grey pixels") && !grey.contains("60,000 / 10,000 of"),
        "{grey}"
    );
    let bundled = literature_caveat(8_000, 2_000, digits, Binarize::Dynamic).unwrap();
    assert!(
        bundled.contains("8000 train / 2000 test") && !bundled.contains("grey"),
        "{bundled}"
    );
    let colour = literature_caveat(
        60_000,
        10_000,
        ImageShape {
            rows: 28,
            cols: 28,
            channels: 3,
        },
        Binarize::Static,
    )
    .unwrap();
    assert!(colour.contains("28x28 RGB"), "{colour}");
}

#[test]
fn a_run_started_from_the_apps_draft_trains_on_the_binarization_it_chose() {
    use crate::app::{harness, nth_run, options, run_until};
    let mut opts = options(500, 50, 1);
    opts.autostart = false;
    let mut h = harness(opts);
    h.state_mut().persisted.draft.spec.binarize = Binarize::Dynamic;
    h.state_mut()
        .push_command(latent_explorer::ui::UiCommand::NewRun);
    run_until(&mut h, 60, "the run", |a| a.runs.iter().count() == 1);
    assert_eq!(nth_run(h.state(), 0).config.binarize, Binarize::Dynamic);
}
