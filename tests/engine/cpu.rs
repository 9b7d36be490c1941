//! The CPU fast paths against burn's own operations: the flat Adam, the gradient sum of a
//! split batch, split training steps against whole-batch steps, the training lanes and
//! the per-thread noise streams.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Tensor, TensorData};
use latent_explorer::cpu::lanes::lanes;
use latent_explorer::cpu::{AdamRule, FlatAdam, sum_grads};
use latent_explorer::data::Batch;
use latent_explorer::model::gaussian::{kl_std_normal, standard_noise, with_noise_stream};
use latent_explorer::model::{Vae, VaeConfig};
use latent_explorer::train::{TrainConfig, Trainer};
use latent_explorer::variant::{AuxModules, LossTerms, Objective, StepContext, VariantKind};

use crate::common::{Lcg, cpu, max_abs_diff, param_values, small, vec_of};

/// Gradients for every float parameter of `m`: normal values times `scale`, every fifth
/// one zero (as for a dead unit), drawn from `rng`.
fn random_grads<M: Module>(m: &M, rng: &mut Lcg, scale: f32) -> GradientsParams {
    struct G<'a> {
        rng: &'a mut Lcg,
        scale: f32,
        out: GradientsParams,
    }
    impl ModuleVisitor for G<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let shape = p.val().shape();
            let v: Vec<f32> = (0..shape.num_elements())
                .map(|i| {
                    if i % 5 == 0 {
                        0.0
                    } else {
                        self.rng.normal() as f32 * self.scale
                    }
                })
                .collect();
            let t = Tensor::<D>::from_data(TensorData::new(v, shape), &cpu());
            self.out.register::<D>(p.id, t);
        }
    }
    let mut g = G {
        rng,
        scale,
        out: GradientsParams::new(),
    };
    m.visit(&mut g);
    g.out
}

fn small_vae() -> Vae {
    let cfg = VaeConfig {
        arch: latent_explorer::model::ArchConfig::Mlp {
            hidden: vec![48, 24],
        },
        latent_dim: 6,
        ..VaeConfig::default()
    };
    cfg.init(&cpu().autodiff()).unwrap()
}

#[test]
fn flat_adam_follows_burns_adam_step_for_step() {
    for weight_decay in [0.0f32, 0.05] {
        let model = small_vae();
        let start = param_values(&model);
        let mut c = AdamConfig::new()
            .with_beta_1(0.8)
            .with_beta_2(0.99)
            .with_epsilon(1e-8);
        if weight_decay > 0.0 {
            c = c.with_weight_decay(Some(WeightDecayConfig::new(weight_decay)));
        }
        let mut reference = c.init();
        let mut flat = FlatAdam::new(AdamRule {
            beta1: 0.8,
            beta2: 0.99,
            epsilon: 1e-8,
            weight_decay,
        });
        let (mut a, mut b) = (model.clone(), model);
        // Gradients of very different sizes from step to step exercise both moments.
        for (step, scale) in [1.0f32, 0.01, 30.0, 0.3, 1e-4].into_iter().enumerate() {
            let lr = 1e-3 * (step + 1) as f64;
            let seed = 17 + step as u64;
            let (ga, gb) = (
                random_grads(&a, &mut Lcg(seed), scale),
                random_grads(&b, &mut Lcg(seed), scale),
            );
            a = reference.step(lr, a, ga);
            b = flat.step(lr, b, gb);
            let (va, vb) = (param_values(&a), param_values(&b));
            let diff = max_abs_diff(&va, &vb);
            assert!(
                diff <= 2e-7,
                "decay {weight_decay}, step {step}: flat Adam differs from burn's by {diff}"
            );
        }
        let moved = max_abs_diff(&start, &param_values(&b));
        assert!(moved > 0.01, "the parameters barely moved ({moved})");
        // The updated parameters are still trainable: a loss has gradients for all of them.
        let x = Tensor::<2>::zeros([2, 784], &cpu().autodiff());
        let (mu, _) = b.encode(x);
        let n_params = b.num_params();
        let grads = GradientsParams::from_grads(mu.sum().backward(), &b);
        assert!(
            !grads.is_empty(),
            "no gradients after the flat step ({n_params} parameters)"
        );
    }
}

#[test]
fn summed_split_gradients_and_their_norm_match_burns_sums() {
    let model = small_vae();
    let parts: Vec<GradientsParams> = (0..3)
        .map(|p| random_grads(&model, &mut Lcg(100 + p), 0.5 + p as f32))
        .collect();
    let copies: Vec<GradientsParams> = (0..3)
        .map(|p| random_grads(&model, &mut Lcg(100 + p), 0.5 + p as f32))
        .collect();
    let (sum, sq) = sum_grads(&model, parts);
    struct Check<'a> {
        sum: &'a GradientsParams,
        parts: &'a [GradientsParams],
        sq: f64,
        checked: usize,
    }
    impl ModuleVisitor for Check<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let reference = self
                .parts
                .iter()
                .map(|g| g.get::<D>(p.id).unwrap())
                .reduce(|a, b| a + b)
                .unwrap();
            let r = vec_of(reference);
            let got = vec_of(self.sum.get::<D>(p.id).expect("a summed gradient"));
            assert!(max_abs_diff(&r, &got) <= 1e-6, "parameter {:?}", p.id);
            self.sq += r.iter().map(|&v| (v as f64).powi(2)).sum::<f64>();
            self.checked += 1;
        }
    }
    let mut c = Check {
        sum: &sum,
        parts: &copies,
        sq: 0.0,
        checked: 0,
    };
    model.visit(&mut c);
    assert!(c.checked >= 6, "only {} parameters", c.checked);
    assert!(
        (sq - c.sq).abs() <= 1e-6 * c.sq,
        "squared norm {sq}, by hand {}",
        c.sq
    );
}

/// The sum is made in the first part's buffer only where nothing else holds it: a gradient
/// the caller still holds a handle to comes back unchanged, and the sum is still right.
#[test]
fn summing_in_place_leaves_a_gradient_held_elsewhere_alone() {
    let model = small_vae();
    let parts: Vec<GradientsParams> = (0..2)
        .map(|p| random_grads(&model, &mut Lcg(200 + p), 1.0))
        .collect();
    let copies: Vec<GradientsParams> = (0..2)
        .map(|p| random_grads(&model, &mut Lcg(200 + p), 1.0))
        .collect();
    // Handles to the first part's gradients (sharing their buffers).
    struct Hold<'a> {
        grads: &'a GradientsParams,
        held: Vec<(burn::module::ParamId, Tensor<2>)>,
    }
    impl ModuleVisitor for Hold<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if D == 2
                && let Some(g) = self.grads.get::<2>(p.id)
            {
                self.held.push((p.id, g));
            }
        }
    }
    let mut hold = Hold {
        grads: &parts[0],
        held: Vec::new(),
    };
    model.visit(&mut hold);
    let held = hold.held;
    assert!(held.len() >= 4, "only {} matrices held", held.len());
    let (sum, _) = sum_grads(&model, parts);
    for (id, h) in held {
        let original = vec_of(copies[0].get::<2>(id).unwrap());
        assert_eq!(
            vec_of(h),
            original,
            "a held gradient was changed by the sum"
        );
        let expected = vec_of(copies[0].get::<2>(id).unwrap() + copies[1].get::<2>(id).unwrap());
        let got = vec_of(sum.get::<2>(id).unwrap());
        assert!(max_abs_diff(&expected, &got) <= 1e-6);
    }
}

/// A noise-free per-image objective: reconstruction of the posterior mean plus the KL, so
/// a split step and a whole step must agree to rounding.
struct NoiseFree;

impl Objective for NoiseFree {
    fn kind(&self) -> VariantKind {
        VariantKind::Vae
    }

    fn per_sample(&self, _ctx: &StepContext) -> bool {
        true
    }

    fn loss(
        &self,
        model: &Vae,
        _aux: &AuxModules,
        batch: &Batch,
        _phase: usize,
        ctx: &StepContext,
    ) -> LossTerms {
        let x = batch.images.clone();
        let (mu, logvar) = model.encode(x.clone());
        let rec = model
            .nll(ctx.likelihood, model.decode(mu.clone()), x)
            .mean();
        let kl = kl_std_normal(mu, logvar).sum_dim(1).mean();
        LossTerms {
            total: rec.clone() + kl.clone(),
            terms: vec![("rec", rec), ("kl", kl)],
        }
    }
}

#[test]
fn split_batches_take_the_same_steps_as_whole_batches() {
    let cfg = TrainConfig {
        batch_size: 96,
        ..TrainConfig::default()
    };
    let data = small(400, 20);
    let whole =
        Trainer::with_objective(cfg.clone(), Box::new(NoiseFree), data.clone(), &cpu()).unwrap();
    let init = whole.snapshot();
    for parts in [2, 3] {
        let mut one =
            Trainer::with_objective(cfg.clone(), Box::new(NoiseFree), data.clone(), &cpu())
                .unwrap()
                .with_weights(init.model.clone(), init.aux.clone(), 0, 0);
        let mut split =
            Trainer::with_objective(cfg.clone(), Box::new(NoiseFree), data.clone(), &cpu())
                .unwrap()
                .with_weights(init.model.clone(), init.aux.clone(), 0, 0);
        one.set_parts(Some(1));
        split.set_parts(Some(parts));
        for step in 0..5 {
            let (a, b) = (one.step().unwrap().metrics, split.step().unwrap().metrics);
            for term in ["loss", "rec", "kl", "grad_norm"] {
                let (x, y) = (a.get(term).unwrap(), b.get(term).unwrap());
                assert!(
                    (x - y).abs() <= 2e-5 * x.abs().max(1.0),
                    "{parts} parts, step {step}: {term} {y} against {x} unsplit"
                );
            }
        }
        let (pa, pb) = (param_values(one.model()), param_values(split.model()));
        let diff = max_abs_diff(&pa, &pb);
        assert!(diff <= 2e-5, "{parts} parts: weights differ by {diff}");
        let moved = max_abs_diff(&pa, &param_values(&init.model));
        assert!(moved > 1e-3, "training did not move the weights ({moved})");
    }
}

#[test]
fn split_vae_steps_are_reproducible_whatever_the_lanes_timing() {
    let arch = latent_explorer::model::ArchConfig::mlp_default();
    let (l1, p1) = three_steps(arch.clone());
    let (l2, p2) = three_steps(arch);
    assert_eq!(l1, l2, "split steps drew different noise");
    assert_eq!(p1, p2);
}

#[test]
fn lanes_run_every_part_and_return_results_in_order() {
    let got = lanes().run(5, |i| i * i);
    assert_eq!(got, vec![0, 1, 4, 9, 16]);
    assert_eq!(lanes().run(1, |i| i + 7), vec![7]);
    assert!(lanes().run(0, |i| i).is_empty());
}

#[test]
fn noise_streams_repeat_by_seed_and_are_standard_normal() {
    let like = Tensor::<2>::zeros([100, 100], &cpu());
    let a = vec_of(with_noise_stream(7, || standard_noise(&like)));
    let b = vec_of(with_noise_stream(7, || standard_noise(&like)));
    let c = vec_of(with_noise_stream(8, || standard_noise(&like)));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let n = a.len() as f64;
    let mean = a.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    assert!(mean.abs() < 0.04, "mean {mean}");
    assert!((var - 1.0).abs() < 0.05, "variance {var}");
    // Outside a stream, noise comes from the device again.
    let d = vec_of(standard_noise(&like));
    assert_ne!(d, a);
}

/// Logits over the whole range (tiny, ordinary, ±80 where a naive formula overflows) and
/// targets in [0, 1] (binary and grey), `rows × cols`.
fn logits_and_targets(rows: usize, cols: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Lcg(seed);
    let l = (0..rows * cols)
        .map(|i| match i % 7 {
            0 => 80.0,
            1 => -80.0,
            2 => 1e-4,
            _ => rng.normal() as f32 * 6.0,
        })
        .collect();
    let x = (0..rows * cols)
        .map(|i| {
            if i % 3 == 0 {
                (i % 2) as f32
            } else {
                rng.uniform() as f32
            }
        })
        .collect();
    (l, x)
}

#[test]
fn fused_bce_rows_match_burns_composition_forward_and_backward() {
    use latent_explorer::cpu::bce_with_logits_rows;
    use latent_explorer::model::likelihood::bce_with_logits;
    let (rows, cols) = (9, 37);
    let (l, x) = logits_and_targets(rows, cols, 5);
    let weights: Vec<f32> = (0..rows).map(|r| r as f32 - 3.5).collect();
    let ad = cpu().autodiff();
    let run = |fused: bool| {
        let lt =
            Tensor::<2>::from_data(TensorData::new(l.clone(), [rows, cols]), &ad).require_grad();
        let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [rows, cols]), &ad);
        let sums = if fused {
            bce_with_logits_rows(lt.clone(), xt)
                .unwrap_or_else(|_| panic!("the fused path did not apply"))
        } else {
            bce_with_logits(lt.clone(), xt).sum_dim(1)
        };
        assert_eq!(sums.dims(), [rows, 1]);
        // Rows weighted differently, so each row's incoming gradient differs.
        let w = Tensor::<2>::from_data(TensorData::new(weights.clone(), [rows, 1]), &ad);
        let grads = (sums.clone() * w).sum().backward();
        (vec_of(sums.inner()), vec_of(lt.grad(&grads).unwrap()))
    };
    let (fs, fg) = run(true);
    let (rs, rg) = run(false);
    for (r, (a, b)) in fs.iter().zip(&rs).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
            "row {r}: {a} against {b}"
        );
        assert!(a.is_finite());
    }
    assert!(
        max_abs_diff(&fg, &rg) <= 1e-5,
        "gradients differ by {}",
        max_abs_diff(&fg, &rg)
    );
    // The gradient is (σ(l) − x) times the row's weight: check one element by hand.
    let (i, r) = (3 * cols + 4, 3);
    let sig = 1.0 / (1.0 + (-l[i] as f64).exp());
    let by_hand = (sig - x[i] as f64) * weights[r] as f64;
    assert!(
        (fg[i] as f64 - by_hand).abs() <= 1e-5,
        "{} against {by_hand}",
        fg[i]
    );
}

#[test]
fn fused_bce_rows_take_any_rank_and_plain_tensors() {
    use latent_explorer::cpu::bce_with_logits_rows;
    use latent_explorer::model::likelihood::bce_with_logits;
    let (l, x) = logits_and_targets(12, 10, 9);
    // A rank-3 [k, batch, pixels] input, as the IWAE bound makes, without autodiff.
    let lt = Tensor::<3>::from_data(TensorData::new(l, [3, 4, 10]), &cpu());
    let xt = Tensor::<3>::from_data(TensorData::new(x, [3, 4, 10]), &cpu());
    let fused =
        bce_with_logits_rows(lt.clone(), xt.clone()).unwrap_or_else(|_| panic!("not applied"));
    assert_eq!(fused.dims(), [3, 4, 1]);
    let reference = bce_with_logits(lt, xt).sum_dim(2);
    let diff = max_abs_diff(&vec_of(fused), &vec_of(reference));
    assert!(diff <= 1e-4, "{diff}");
    // A target that needs a gradient is left to burn's composition.
    let ad = cpu().autodiff();
    let l2 = Tensor::<2>::zeros([2, 3], &ad).require_grad();
    let x2 = Tensor::<2>::ones([2, 3], &ad).require_grad();
    assert!(bce_with_logits_rows(l2, x2).is_err());
}

#[test]
fn branch_free_exp_and_log1p_match_the_standard_library() {
    use latent_explorer::cpu::{exp_nonpositive, log1p_unit};
    let ulp = |v: f32| (f32::from_bits(v.to_bits() + 1) - v).abs();
    let mut worst_exp = 0.0f32;
    for i in 0..=870_000 {
        let a = -(i as f32) * 1e-4;
        let (got, want) = (exp_nonpositive(a), a.exp());
        worst_exp = worst_exp.max((got - want).abs() / ulp(want));
    }
    assert!(worst_exp <= 2.0, "exp: {worst_exp} ulp");
    assert_eq!(exp_nonpositive(0.0), 1.0);
    assert!(exp_nonpositive(-200.0) > 0.0 && exp_nonpositive(-200.0) < 2e-38);
    let mut worst_log = 0.0f32;
    for i in 0..=1_000_000 {
        // Dense over [0, 1] and down to 1e-30, where log1p(e) = e.
        for e in [i as f32 * 1e-6, (i as f32 * 1e-6) * 1e-24] {
            let (got, want) = (log1p_unit(e), e.ln_1p());
            if want > 0.0 {
                worst_log = worst_log.max((got - want).abs() / ulp(want));
            } else {
                assert_eq!(got, 0.0);
            }
        }
    }
    assert!(worst_log <= 2.0, "log1p: {worst_log} ulp");
}

#[test]
fn split_steps_on_the_lanes_and_inline_give_the_same_weights() {
    use latent_explorer::cpu::lanes::inline;
    let cfg = TrainConfig {
        batch_size: 64,
        ..TrainConfig::default()
    };
    let data = small(256, 20);
    let init = Trainer::new(cfg.clone(), data.clone(), &cpu())
        .unwrap()
        .snapshot();
    let make = || {
        let mut t = Trainer::new(cfg.clone(), data.clone(), &cpu())
            .unwrap()
            .with_weights(init.model.clone(), init.aux.clone(), 0, 0);
        t.set_parts(Some(2));
        t
    };
    let (mut on_lanes, mut here) = (make(), make());
    for _ in 0..3 {
        let a = on_lanes.step().unwrap().metrics.get("loss");
        let b = inline(|| here.step().unwrap().metrics.get("loss"));
        assert_eq!(a, b);
    }
    assert_eq!(param_values(on_lanes.model()), param_values(here.model()));
}

/// `rows × k` inputs with about `density` of them non-zero (uniform in (0, 1]), the rest
/// exactly zero, as a digit's pixels are.
fn sparse_inputs(rows: usize, k: usize, density: f64, rng: &mut Lcg) -> Vec<f32> {
    (0..rows * k)
        .map(|_| {
            if rng.uniform() < density {
                (1.0 - rng.uniform()) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// How far `a` is from `reference`, relative to the reference's largest magnitude.
fn relative_diff(a: &[f32], reference: &[f32]) -> f32 {
    assert_eq!(a.len(), reference.len(), "lengths");
    let scale = reference.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    max_abs_diff(a, reference) / scale
}

#[test]
fn the_cpu_linear_layer_matches_burns_forward_and_gradients() {
    use burn::nn::LinearConfig;
    use latent_explorer::cpu::{SPARSE_MAX_DENSITY, linear, linear_with_density};
    let ad = cpu().autodiff();
    let dense = 0.8;
    let sparse = SPARSE_MAX_DENSITY as f64 * 0.6;
    // (rows, inputs, outputs, density, whether the input needs a gradient): the first
    // layer of the bench model on digits; a partial column block (70 = 64 + 6); a tracked
    // sparse input (a hidden layer after ReLU); dense inputs; a layer too narrow for the
    // sparse kernels; a single row.
    let cases = [
        (64, 784, 400, 0.19, false),
        (37, 50, 70, sparse, false),
        (29, 40, 130, sparse, true),
        (33, 40, 130, dense, true),
        (16, 60, 12, sparse, true),
        (1, 30, 64, sparse, true),
        // Large enough for the sparse kernels to share the work among rayon's threads.
        (160, 784, 200, 0.19, true),
    ];
    let mut rng = Lcg(17);
    for (case, &(rows, k, n, density, tracked)) in cases.iter().enumerate() {
        let layer = LinearConfig::new(k, n).init(&ad);
        let x = sparse_inputs(rows, k, density, &mut rng);
        let upstream = rng.normals(rows * n);
        // Ours with the density limit given (the default, always sparse, never sparse),
        // or burn's `Linear`.
        let run = |ours: Option<f32>| {
            let mut xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [rows, k]), &ad);
            if tracked {
                xt = xt.require_grad();
            }
            let y = match ours {
                Some(d) if d == SPARSE_MAX_DENSITY => linear(&layer, xt.clone()),
                Some(d) => linear_with_density(&layer, xt.clone(), d),
                None => layer.forward(xt.clone()),
            };
            assert_eq!(y.dims(), [rows, n], "case {case}");
            let r = Tensor::<2>::from_data(TensorData::new(upstream.clone(), [rows, n]), &ad);
            let grads = (y.clone() * r).sum().backward();
            let bias = layer.bias.as_ref().expect("a bias");
            (
                vec_of(y.inner()),
                vec_of(layer.weight.grad(&grads).expect("a weight gradient")),
                vec_of(bias.grad(&grads).expect("a bias gradient")),
                xt.grad(&grads).map(vec_of),
            )
        };
        let (ry, rdw, rdb, rdx) = run(None);
        for limit in [SPARSE_MAX_DENSITY, 1.0, 0.0] {
            let (y, dw, db, dx) = run(Some(limit));
            for (what, a, b) in [("output", &y, &ry), ("∂W", &dw, &rdw), ("∂b", &db, &rdb)] {
                let d = relative_diff(a, b);
                assert!(
                    d <= 1e-5,
                    "case {case}, limit {limit}: {what} differs by {d}"
                );
            }
            assert_eq!(dx.is_some(), tracked, "case {case}: ∂x");
            if let (Some(dx), Some(rdx)) = (dx, &rdx) {
                let d = relative_diff(&dx, rdx);
                assert!(d <= 1e-5, "case {case}, limit {limit}: ∂x differs by {d}");
            }
        }
    }
}

#[test]
fn the_cpu_linear_layer_without_autodiff_matches_burns_and_keeps_nan() {
    use burn::nn::LinearConfig;
    use latent_explorer::cpu::linear;
    // Enough rows for the sparse product to be shared among threads, and a few.
    for (rows, k, n) in [(1024, 784, 400), (3, 784, 400)] {
        let layer = LinearConfig::new(k, n).init(&cpu());
        let mut x = sparse_inputs(rows, k, 0.19, &mut Lcg(rows as u64));
        // A NaN input is a non-zero one: its row's outputs are NaN, as in burn's product.
        x[2 * k + 5] = f32::NAN;
        let xt = Tensor::<2>::from_data(TensorData::new(x, [rows, k]), &cpu());
        let ours = vec_of(linear(&layer, xt.clone()));
        let reference = vec_of(layer.forward(xt));
        let row2 = 2 * n..3 * n;
        assert!(
            ours[row2.clone()].iter().all(|v| v.is_nan()),
            "row 2 is NaN"
        );
        assert!(reference[row2.clone()].iter().all(|v| v.is_nan()));
        let finite = |v: &[f32]| -> Vec<f32> {
            v.iter()
                .enumerate()
                .filter(|(i, _)| !row2.contains(i))
                .map(|(_, &x)| x)
                .collect()
        };
        let (a, b) = (finite(&ours), finite(&reference));
        assert!(a.iter().all(|v| v.is_finite()), "other rows finite");
        let d = relative_diff(&a, &b);
        assert!(d <= 1e-5, "{rows} rows: differs by {d}");
    }
}

#[test]
fn flat_adam_writes_over_a_gradient_only_when_nothing_else_holds_it() {
    let model = small_vae();
    let mut reference = AdamConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .init();
    let mut flat = FlatAdam::new(AdamRule {
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        weight_decay: 0.0,
    });
    let grads = random_grads(&model, &mut Lcg(77), 1.0);
    let copy = random_grads(&model, &mut Lcg(77), 1.0);
    // A handle to one matrix's gradient, sharing its buffer: the step must not write there.
    struct First<'a> {
        grads: &'a GradientsParams,
        held: Option<(burn::module::ParamId, Tensor<2>)>,
    }
    impl ModuleVisitor for First<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if D == 2 && self.held.is_none() {
                self.held = self.grads.get::<2>(p.id).map(|g| (p.id, g));
            }
        }
    }
    let mut first = First {
        grads: &grads,
        held: None,
    };
    model.visit(&mut first);
    let (id, held) = first.held.expect("a matrix gradient");
    let a = reference.step(1e-2, model.clone(), copy);
    let b = flat.step(1e-2, model, grads);
    assert_eq!(
        vec_of(held),
        vec_of(random_grads(&a, &mut Lcg(77), 1.0).get::<2>(id).unwrap()),
        "the held gradient was overwritten"
    );
    let diff = max_abs_diff(&param_values(&a), &param_values(&b));
    assert!(diff <= 2e-7, "flat Adam differs from burn's by {diff}");
}

/// A parameter of `shape` with standard normal values times `scale`, drawn from `rng`.
fn normal_param<const D: usize>(
    shape: [usize; D],
    scale: f32,
    rng: &mut Lcg,
    device: &burn::tensor::Device,
) -> Param<Tensor<D>> {
    let n = shape.iter().product();
    let v: Vec<f32> = rng.normals(n).into_iter().map(|x| x * scale).collect();
    Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), device))
}

/// Ours (`ours`) against burn's own layer (`reference`, then burn's ReLU when `act` says so)
/// on an input of `x_shape`: the output and the gradients of the input (when `tracked`),
/// weights and bias of `(y·r).sum()` for a random `r`, each within 1e-5 of burn's relative
/// to its largest value; and the same output without autodiff.
#[allow(clippy::too_many_arguments)]
fn check_conv_against_burn(
    case: &str,
    x_shape: [usize; 4],
    tracked: bool,
    act: latent_explorer::cpu::Activation,
    weight: &Param<Tensor<4>>,
    bias: &Param<Tensor<1>>,
    ours: &dyn Fn(Tensor<4>) -> Tensor<4>,
    reference: &dyn Fn(Tensor<4>) -> Tensor<4>,
    rng: &mut Lcg,
) {
    use latent_explorer::cpu::Activation;
    let ad = cpu().autodiff();
    let x = rng.normals(x_shape.iter().product());
    let burns = |x: Tensor<4>| match act {
        Activation::Identity => reference(x),
        Activation::Relu => burn::tensor::activation::relu(reference(x)),
    };
    let y_dims = burns(Tensor::<4>::zeros(x_shape, &ad)).dims();
    let upstream = rng.normals(y_dims.iter().product());
    let run = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
        let mut xt = Tensor::<4>::from_data(TensorData::new(x.clone(), x_shape), &ad);
        if tracked {
            xt = xt.require_grad();
        }
        let y = f(xt.clone());
        assert_eq!(y.dims(), y_dims, "{case}: output shape");
        let r = Tensor::<4>::from_data(TensorData::new(upstream.clone(), y_dims), &ad);
        let grads = (y.clone() * r).sum().backward();
        (
            vec_of(y.inner()),
            vec_of(weight.grad(&grads).expect("a weight gradient")),
            vec_of(bias.grad(&grads).expect("a bias gradient")),
            xt.grad(&grads).map(vec_of),
        )
    };
    let (ry, rdw, rdb, rdx) = run(&burns);
    let (y, dw, db, dx) = run(ours);
    if act == Activation::Relu {
        let zeros = ry.iter().filter(|&&v| v == 0.0).count();
        assert!(
            zeros > 0 && zeros < ry.len(),
            "{case}: the ReLU should cut some outputs and keep others ({zeros} of {})",
            ry.len()
        );
    }
    for (what, a, b) in [("output", &y, &ry), ("∂W", &dw, &rdw), ("∂b", &db, &rdb)] {
        let d = relative_diff(a, b);
        assert!(d <= 1e-5, "{case}: {what} differs by {d}");
    }
    assert_eq!(dx.is_some(), tracked, "{case}: ∂x");
    if let (Some(dx), Some(rdx)) = (dx, &rdx) {
        let d = relative_diff(&dx, rdx);
        assert!(d <= 1e-5, "{case}: ∂x differs by {d}");
    }
    // Without autodiff (inference): the same output.
    let plain = Tensor::<4>::from_data(TensorData::new(x.clone(), x_shape), &cpu());
    let d = relative_diff(&vec_of(ours(plain.clone())), &vec_of(burns(plain)));
    assert!(d <= 1e-5, "{case}: output without autodiff differs by {d}");
}

#[test]
fn the_cpu_convolution_matches_burns_forward_and_gradients() {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use latent_explorer::cpu::{Activation, conv2d};
    let ad = cpu().autodiff();
    // (batch, in, out, height, width, kernel, stride, padding (top, left, bottom, right)):
    // the encoder's two layers on digits; odd sides with an uneven kernel, stride and
    // padding; one image, no padding; more images than the parts a batch is cut into.
    let cases = [
        (6, 1, 32, 28, 28, [4, 4], [2, 2], (1, 1, 1, 1)),
        (5, 32, 64, 14, 14, [4, 4], [2, 2], (1, 1, 1, 1)),
        (3, 3, 5, 9, 7, [3, 2], [2, 1], (2, 0, 1, 1)),
        (1, 2, 4, 5, 6, [3, 3], [1, 1], (0, 0, 0, 0)),
        (19, 2, 3, 6, 5, [4, 4], [2, 2], (1, 1, 1, 1)),
    ];
    let mut rng = Lcg(41);
    for (i, &(batch, ci, co, h, w, kernel, stride, (t, l, b, r))) in cases.iter().enumerate() {
        let mut layer = Conv2dConfig::new([ci, co], kernel)
            .with_stride(stride)
            .with_padding(PaddingConfig2d::Explicit(t, l, b, r))
            .init(&ad);
        let fan_in = (ci * kernel[0] * kernel[1]) as f32;
        layer.weight = normal_param(
            [co, ci, kernel[0], kernel[1]],
            fan_in.powf(-0.5),
            &mut rng,
            &ad,
        );
        let bias = normal_param([co], 0.3, &mut rng, &ad);
        layer.bias = Some(bias.clone());
        for (act, tracked) in [(Activation::Relu, true), (Activation::Identity, i != 0)] {
            check_conv_against_burn(
                &format!("conv case {i} {act:?}"),
                [batch, ci, h, w],
                tracked,
                act,
                &layer.weight,
                &bias,
                &|x| conv2d(&layer, x, act),
                &|x| layer.forward(x),
                &mut rng,
            );
        }
    }
}

#[test]
fn the_cpu_transposed_convolution_matches_burns_forward_and_gradients() {
    use burn::nn::conv::ConvTranspose2dConfig;
    use latent_explorer::cpu::{Activation, conv_transpose2d};
    let ad = cpu().autodiff();
    // (batch, in, out, height, width, kernel, stride, padding, output padding): the
    // decoder's two layers on digits; odd sides with an uneven kernel, stride, padding and
    // output padding; one image; more images than the parts a batch is cut into.
    let cases = [
        (5, 64, 32, 7, 7, [4, 4], [2, 2], [1, 1], [0, 0]),
        (6, 32, 1, 14, 14, [4, 4], [2, 2], [1, 1], [0, 0]),
        (3, 3, 5, 5, 4, [3, 2], [2, 3], [1, 0], [1, 2]),
        (1, 2, 3, 4, 3, [3, 3], [1, 1], [0, 0], [0, 0]),
        (19, 3, 2, 3, 4, [4, 4], [2, 2], [1, 1], [0, 0]),
    ];
    let mut rng = Lcg(43);
    for (i, &(batch, ci, co, h, w, kernel, stride, padding, padding_out)) in
        cases.iter().enumerate()
    {
        let mut layer = ConvTranspose2dConfig::new([ci, co], kernel)
            .with_stride(stride)
            .with_padding(padding)
            .with_padding_out(padding_out)
            .init(&ad);
        let fan_in = (co * kernel[0] * kernel[1]) as f32;
        layer.weight = normal_param(
            [ci, co, kernel[0], kernel[1]],
            fan_in.powf(-0.5),
            &mut rng,
            &ad,
        );
        let bias = normal_param([co], 0.3, &mut rng, &ad);
        layer.bias = Some(bias.clone());
        for (act, tracked) in [(Activation::Relu, true), (Activation::Identity, true)] {
            check_conv_against_burn(
                &format!("transposed case {i} {act:?}"),
                [batch, ci, h, w],
                tracked,
                act,
                &layer.weight,
                &bias,
                &|x| conv_transpose2d(&layer, x, act),
                &|x| layer.forward(x),
                &mut rng,
            );
        }
    }
}

/// Layers the CPU kernels do not cover (`Same` padding, dilation, groups, no bias) still
/// give burn's results, through burn.
#[test]
fn convolutions_the_cpu_kernels_do_not_cover_fall_back_to_burn() {
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
    use latent_explorer::cpu::{Activation, conv_transpose2d, conv2d};
    let x = Tensor::<4>::from_data(
        TensorData::new(Lcg(5).normals(2 * 4 * 6 * 6), [2, 4, 6, 6]),
        &cpu(),
    );
    let convs = [
        Conv2dConfig::new([4, 3], [3, 3]).with_padding(PaddingConfig2d::Same),
        Conv2dConfig::new([4, 3], [3, 3]).with_dilation([2, 2]),
        Conv2dConfig::new([4, 2], [3, 3]).with_groups(2),
        Conv2dConfig::new([4, 3], [3, 3]).with_bias(false),
    ];
    for (i, c) in convs.iter().enumerate() {
        let layer = c.init(&cpu());
        let ours = vec_of(conv2d(&layer, x.clone(), Activation::Relu));
        let reference = vec_of(burn::tensor::activation::relu(layer.forward(x.clone())));
        assert_eq!(ours, reference, "conv {i}");
    }
    let transposed = [
        ConvTranspose2dConfig::new([4, 3], [3, 3]).with_dilation([2, 2]),
        ConvTranspose2dConfig::new([4, 2], [3, 3]).with_groups(2),
        ConvTranspose2dConfig::new([4, 3], [3, 3]).with_bias(false),
    ];
    for (i, c) in transposed.iter().enumerate() {
        let layer = c.init(&cpu());
        let ours = vec_of(conv_transpose2d(&layer, x.clone(), Activation::Identity));
        assert_eq!(ours, vec_of(layer.forward(x.clone())), "transposed {i}");
    }
}

/// Three split training steps of `arch` from fixed weights at the current SIMD level: the
/// losses and the weights after them.
fn three_steps(arch: latent_explorer::model::ArchConfig) -> (Vec<f64>, Vec<f32>) {
    let mut cfg = TrainConfig {
        batch_size: 64,
        ..TrainConfig::default()
    };
    cfg.model.arch = arch;
    let data = small(192, 20);
    let base = Trainer::new(cfg.clone(), data.clone(), &cpu()).unwrap();
    let init = base.snapshot();
    let mut t = Trainer::new(cfg, data, &cpu()).unwrap().with_weights(
        init.model.clone(),
        init.aux.clone(),
        0,
        0,
    );
    t.set_parts(Some(2));
    let losses = (0..3)
        .map(|_| t.step().unwrap().metrics.get("loss").unwrap())
        .collect();
    (losses, param_values(t.model()))
}

#[test]
fn every_simd_level_above_the_baseline_takes_bit_identical_steps() {
    // The kernels' AVX-512 and AVX2 builds do the same arithmetic (fused where the body
    // says so, reductions in a fixed order), so training steps through every kernel (the
    // sparse linear layer on digits, the convolutions, the fused likelihood, Adam) agree to
    // the bit. Only AVX2 is ever capped to here: the cap is process-wide and the baseline
    // rounds differently, which would disturb the other tests' bit-exact comparisons.
    use latent_explorer::cpu::simd::{Simd, available, level, limit};
    use latent_explorer::model::ArchConfig;
    let top = available();
    if top < Simd::Avx512 {
        eprintln!("this CPU runs {}: AVX-512 not compared", top.name());
    }
    for arch in [ArchConfig::mlp_default(), ArchConfig::conv_default()] {
        let at_top = three_steps(arch.clone());
        let before = limit(Some(Simd::Avx2));
        assert!(level() <= Simd::Avx2, "the cap holds");
        let at_avx2 = three_steps(arch.clone());
        limit(before);
        assert_eq!(
            at_top.0,
            at_avx2.0,
            "{arch}: losses differ between {} and avx2",
            top.name()
        );
        assert!(
            at_top.1 == at_avx2.1,
            "{arch}: weights differ between {} and avx2 (max {})",
            top.name(),
            max_abs_diff(&at_top.1, &at_avx2.1)
        );
        assert!(
            at_top.0.iter().all(|l| l.is_finite()),
            "{arch}: losses {:?}",
            at_top.0
        );
    }
}

#[test]
fn transposes_of_any_shape_match_the_definition() {
    // Whole 8 × 8 blocks, ragged edges on either side, a single row or column, the
    // convolutions' planes (196 × 32, 49 × 64 and back), and nothing at all.
    use latent_explorer::cpu::transpose;
    let mut rng = Lcg(47);
    for (rows, cols) in [
        (8, 8),
        (16, 24),
        (7, 9),
        (9, 7),
        (1, 13),
        (13, 1),
        (17, 33),
        (196, 32),
        (32, 196),
        (49, 64),
        (64, 49),
        (0, 5),
        (5, 0),
    ] {
        let x = rng.normals(rows * cols);
        // One value more than needed: it must stay as it was.
        let mut out = vec![f32::NAN; rows * cols + 1];
        transpose(&x, rows, cols, &mut out);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(
                    out[c * rows + r].to_bits(),
                    x[r * cols + c].to_bits(),
                    "{rows} × {cols}: ({r}, {c})"
                );
            }
        }
        assert!(
            out[rows * cols].is_nan(),
            "{rows} × {cols}: wrote past the end"
        );
    }
}

/// The variable that makes [`every_kernel_matches_burn_at_the_baseline_level_too`] the child
/// that runs the kernels' tests at the baseline level.
const BASELINE_CHILD: &str = "LATENT_EXPLORER_TEST_BASELINE_CHILD";

#[test]
fn every_kernel_matches_burn_at_the_baseline_level_too() {
    // On a CPU with AVX2 every other test runs the AVX2 or AVX-512 builds of the kernels,
    // and the baseline build (what a CPU without AVX2 runs) would go untested. The cap is
    // process-wide and the baseline rounds differently, so the kernels' tests run again at
    // the baseline in a process of their own: this test binary, running only this test.
    use latent_explorer::cpu::simd::{Simd, available, level, limit};
    if std::env::var_os(BASELINE_CHILD).is_some() {
        limit(Some(Simd::Baseline));
        assert_eq!(level(), Simd::Baseline, "the cap holds");
        transposes_of_any_shape_match_the_definition();
        the_cpu_convolution_matches_burns_forward_and_gradients();
        the_cpu_transposed_convolution_matches_burns_forward_and_gradients();
        the_cpu_linear_layer_matches_burns_forward_and_gradients();
        the_cpu_linear_layer_without_autodiff_matches_burns_and_keeps_nan();
        fused_bce_rows_match_burns_composition_forward_and_backward();
        flat_adam_follows_burns_adam_step_for_step();
        summed_split_gradients_and_their_norm_match_burns_sums();
        split_batches_take_the_same_steps_as_whole_batches();
        println!("baseline kernels checked");
        return;
    }
    if available() == Simd::Baseline {
        eprintln!("this CPU runs the baseline kernels: every other test checked them");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "cpu::every_kernel_matches_burn_at_the_baseline_level_too",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(BASELINE_CHILD, "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "the baseline kernels failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("baseline kernels checked") && stdout.contains("1 passed"),
        "the child did not run the checks:\n{stdout}"
    );
}
