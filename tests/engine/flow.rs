//! Flow posteriors (IAF and planar flows): each step's and a whole chain's log-determinant
//! against the log |det| of a Jacobian taken by finite differences of a host f64 flow (LU),
//! the IAF's context held fixed; the MADE's autoregressive property in z with the context
//! fixed; the IAF amortised (two images' contexts, one z, two flows) and the planar flow
//! global; the planar reparametrisation's invertibility on adversarial (u, w), the flow ELBO
//! and IWAE bound against host log densities, and an identity IAF giving exactly the VAE's
//! ELBO on the same noise.

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use latent_explorer::data::Batcher;
use latent_explorer::model::flow::{
    CONTEXT_PER_DIM, IafStep, PlanarStep, flow_context, made_masks, planar_u_hat,
};
use latent_explorer::model::gaussian::{LN_2PI, with_noise_stream};
use latent_explorer::model::{ArchConfig, Flow, FlowKind, LatentKind, Likelihood, VaeConfig};
use latent_explorer::train::{TrainConfig, Trainer};
use latent_explorer::variant::{
    AuxModules, StepContext, VariantKind, VariantParams, flow_iwae_with, flow_parts,
};

use crate::common::{Lcg, cpu, log_bernoulli, log_mean_exp_host, small, t2, vec_of};

fn t1(values: Vec<f32>) -> Tensor<1> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), &cpu())
}

fn scaled(rng: &mut Lcg, n: usize, scale: f64) -> Vec<f32> {
    (0..n).map(|_| (rng.normal() * scale) as f32).collect()
}

/// log(1 + eˣ) without overflow.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn f64s(t: Tensor<1>) -> Vec<f64> {
    vec_of(t).into_iter().map(f64::from).collect()
}

fn f64s2(t: Tensor<2>) -> Vec<f64> {
    vec_of(t).into_iter().map(f64::from).collect()
}

/// Random parameters for an IAF step of `d` dimensions and `hidden` units (σ spread over
/// (0.2, 0.8) or so, so that the log-determinant is far from 0).
fn randomize_iaf(step: &mut IafStep, rng: &mut Lcg) {
    let [d, h] = step.w1.dims();
    let c = step.wh.dims()[0];
    step.w1 = Param::from_tensor(t2(scaled(rng, d * h, 0.8), [d, h], &cpu()));
    step.b1 = Param::from_tensor(t1(scaled(rng, h, 0.3)));
    step.wm = Param::from_tensor(t2(scaled(rng, h * d, 0.5), [h, d], &cpu()));
    step.bm = Param::from_tensor(t1(scaled(rng, d, 0.5)));
    step.ws = Param::from_tensor(t2(scaled(rng, h * d, 0.5), [h, d], &cpu()));
    step.bs = Param::from_tensor(t1(scaled(rng, d, 0.8)));
    step.wh = Param::from_tensor(t2(scaled(rng, c * h, 0.5), [c, h], &cpu()));
}

fn randomize_planar(step: &mut PlanarStep, rng: &mut Lcg) {
    let d = step.u.dims()[0];
    step.u = Param::from_tensor(t1(scaled(rng, d, 3.0)));
    step.w = Param::from_tensor(t1(scaled(rng, d, 0.4)));
    step.b = Param::from_tensor(t1(scaled(rng, 1, 0.5)));
}

fn randomize(flow: &mut Flow, rng: &mut Lcg) {
    for s in flow.iaf.iter_mut() {
        randomize_iaf(s, rng);
    }
    for s in flow.planar.iter_mut() {
        randomize_planar(s, rng);
    }
}

/// One flow step on the host, in f64, written from the papers' definitions.
enum HostStep {
    Iaf {
        d: usize,
        h: usize,
        c: usize,
        w1: Vec<f64>,
        wh: Vec<f64>,
        b1: Vec<f64>,
        wm: Vec<f64>,
        bm: Vec<f64>,
        ws: Vec<f64>,
        bs: Vec<f64>,
    },
    Planar {
        u: Vec<f64>,
        w: Vec<f64>,
        b: f64,
    },
}

impl HostStep {
    fn iaf(s: &IafStep) -> Self {
        let [d, h] = s.w1.dims();
        Self::Iaf {
            d,
            h,
            c: s.wh.dims()[0],
            w1: f64s2(s.w1.val()),
            wh: f64s2(s.wh.val()),
            b1: f64s(s.b1.val()),
            wm: f64s2(s.wm.val()),
            bm: f64s(s.bm.val()),
            ws: f64s2(s.ws.val()),
            bs: f64s(s.bs.val()),
        }
    }

    fn planar(s: &PlanarStep) -> Self {
        Self::Planar {
            u: f64s(s.u.val()),
            w: f64s(s.w.val()),
            b: f64s(s.b.val())[0],
        }
    }

    /// The step at `z` with the context `ctx` (`[μ, log σ²]`; planar steps ignore it).
    fn apply(&self, z: &[f64], ctx: &[f64]) -> Vec<f64> {
        match self {
            Self::Iaf {
                d,
                h,
                c,
                w1,
                wh,
                b1,
                wm,
                bm,
                ws,
                bs,
            } => {
                let (d, h, c) = (*d, *h, *c);
                assert_eq!(ctx.len(), c, "context length");
                // MADE degrees: input and output i have degree i + 1, hidden unit k has
                // k mod (d − 1) + 1; hidden sees inputs of degree ≤ its own (and the whole
                // context), outputs see hidden units of strictly lower degree.
                let deg = |k: usize| if d > 1 { k % (d - 1) + 1 } else { 1 };
                let hid: Vec<f64> = (0..h)
                    .map(|k| {
                        let a: f64 = (0..d)
                            .filter(|&i| i < deg(k))
                            .map(|i| z[i] * w1[i * h + k])
                            .sum();
                        let from_ctx: f64 = (0..c).map(|q| ctx[q] * wh[q * h + k]).sum();
                        (a + from_ctx + b1[k]).max(0.0)
                    })
                    .collect();
                (0..d)
                    .map(|j| {
                        let lin = |w: &[f64], b: &[f64]| -> f64 {
                            (0..h)
                                .filter(|&k| deg(k) <= j)
                                .map(|k| hid[k] * w[k * d + j])
                                .sum::<f64>()
                                + b[j]
                        };
                        let (m, s) = (lin(wm, bm), lin(ws, bs));
                        let sig = 1.0 / (1.0 + (-s).exp());
                        sig * z[j] + (1.0 - sig) * m
                    })
                    .collect()
            }
            Self::Planar { u, w, b } => {
                let dot = |a: &[f64], c: &[f64]| a.iter().zip(c).map(|(x, y)| x * y).sum::<f64>();
                let wu = dot(w, u);
                let m = -1.0 + softplus(wu);
                let nw = dot(w, w);
                let u_hat: Vec<f64> = u
                    .iter()
                    .zip(w)
                    .map(|(ui, wi)| ui + (m - wu) * wi / nw)
                    .collect();
                let t = (dot(w, z) + b).tanh();
                z.iter().zip(&u_hat).map(|(zi, ui)| zi + ui * t).collect()
            }
        }
    }
}

/// A whole host flow: the IAF steps with the order reversed before each after the first,
/// then the planar steps.
fn host_flow(flow: &Flow) -> Vec<HostStep> {
    flow.iaf
        .iter()
        .map(HostStep::iaf)
        .chain(flow.planar.iter().map(HostStep::planar))
        .collect()
}

fn host_chain(steps: &[HostStep], z: &[f64], ctx: &[f64]) -> Vec<f64> {
    let mut z = z.to_vec();
    for (t, s) in steps.iter().enumerate() {
        if t > 0 && matches!(s, HostStep::Iaf { .. }) {
            z.reverse();
        }
        z = s.apply(&z, ctx);
    }
    z
}

/// log |det A| of a square matrix (row-major, n × n) by LU with partial pivoting.
fn log_abs_det(mut a: Vec<f64>, n: usize) -> f64 {
    let mut sum = 0.0;
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i * n + c].abs().total_cmp(&a[j * n + c].abs()))
            .unwrap();
        if p != c {
            for k in 0..n {
                a.swap(c * n + k, p * n + k);
            }
        }
        let piv = a[c * n + c];
        sum += piv.abs().ln();
        for r in c + 1..n {
            let f = a[r * n + c] / piv;
            for k in c..n {
                a[r * n + k] -= f * a[c * n + k];
            }
        }
    }
    sum
}

/// The Jacobian of `f` at `z` by central differences (row i: ∂f_i/∂z_j over j).
fn jacobian(f: &dyn Fn(&[f64]) -> Vec<f64>, z: &[f64]) -> Vec<f64> {
    let n = z.len();
    let h = 1e-6;
    let mut jac = vec![0.0; n * n];
    for j in 0..n {
        let mut hi = z.to_vec();
        let mut lo = z.to_vec();
        hi[j] += h;
        lo[j] -= h;
        let (fh, fl) = (f(&hi), f(&lo));
        for i in 0..n {
            jac[i * n + j] = (fh[i] - fl[i]) / (2.0 * h);
        }
    }
    jac
}

/// Burn's `(f(z), log |det|)` for each row of `z` against the host flow `f(row, z)` (row
/// `r`'s context fixed inside it) and the log |det| of its finite-difference Jacobian in z.
/// Returns the host log-dets.
fn check_against_host(
    f: &dyn Fn(usize, &[f64]) -> Vec<f64>,
    out: (Tensor<2>, Tensor<1>),
    z: &[f32],
    d: usize,
    what: &str,
) -> Vec<f64> {
    let (zt, ld) = (vec_of(out.0), vec_of(out.1));
    let mut host = Vec::new();
    for (r, row) in z.chunks(d).enumerate() {
        let zr: Vec<f64> = row.iter().map(|&v| v as f64).collect();
        let f = |zz: &[f64]| f(r, zz);
        let want = f(&zr);
        for i in 0..d {
            let got = zt[r * d + i] as f64;
            assert!(
                (got - want[i]).abs() < 1e-4 * want[i].abs().max(1.0),
                "{what}, row {r}: f(z)[{i}] = {got}, host {}",
                want[i]
            );
        }
        let host_ld = log_abs_det(jacobian(&f, &zr), d);
        assert!(
            (ld[r] as f64 - host_ld).abs() < 2e-4 * host_ld.abs().max(1.0),
            "{what}, row {r}: log|det| {} against the host Jacobian's {host_ld}",
            ld[r]
        );
        host.push(host_ld);
    }
    host
}

#[test]
fn each_flow_steps_and_a_chains_log_det_match_the_host_jacobian() {
    let dev = cpu();
    let (d, b) = (5, 6);
    let c = CONTEXT_PER_DIM * d;
    let mut rng = Lcg(11);
    let z = rng.normals(b * d);
    // Each row's context [μ, log σ²], fixed while the Jacobian in z is taken.
    let h = scaled(&mut rng, b * c, 1.0);
    let ctx = |r: usize| -> Vec<f64> { h[r * c..(r + 1) * c].iter().map(|&v| v as f64).collect() };
    for kind in [FlowKind::Iaf, FlowKind::Planar] {
        let mut flow = Flow::new(kind, d, 3, 12, &dev);
        randomize(&mut flow, &mut rng);
        let host = host_flow(&flow);
        // One step.
        let one = match kind {
            FlowKind::Iaf => {
                flow.iaf[0].forward(t2(z.clone(), [b, d], &dev), t2(h.clone(), [b, c], &dev))
            }
            FlowKind::Planar => flow.planar[0].forward(t2(z.clone(), [b, d], &dev)),
        };
        let first = |r: usize, zz: &[f64]| host[0].apply(zz, &ctx(r));
        let lds = check_against_host(&first, one, &z, d, &format!("{kind:?} step"));
        // With the context fixed, one step's Jacobian in z is lower triangular: output i
        // moves with no input j > i (an IAF step; a planar step's is dense).
        if kind == FlowKind::Iaf {
            for r in 0..b {
                let zr: Vec<f64> = z[r * d..(r + 1) * d].iter().map(|&v| v as f64).collect();
                let jac = jacobian(&|zz: &[f64]| first(r, zz), &zr);
                for i in 0..d {
                    for j in i + 1..d {
                        assert!(
                            jac[i * d + j].abs() < 1e-7,
                            "row {r}: ∂f_{i}/∂z_{j} = {} with the context fixed",
                            jac[i * d + j]
                        );
                    }
                }
            }
        }
        assert!(
            lds.iter().any(|l| l.abs() > 0.1),
            "{kind:?}: log-dets too near 0 to tell anything: {lds:?}"
        );
        // The whole chain of three steps (the IAF's order reversed between steps).
        let chain = |r: usize, zz: &[f64]| host_chain(&host, zz, &ctx(r));
        let lds = check_against_host(
            &chain,
            flow.forward(t2(z.clone(), [b, d], &dev), t2(h.clone(), [b, c], &dev)),
            &z,
            d,
            &format!("{kind:?} chain"),
        );
        assert!(lds.iter().any(|l| l.abs() > 0.3), "{kind:?}: {lds:?}");
    }
}

#[test]
fn the_made_is_autoregressive() {
    let dev = cpu();
    let (d, h, b) = (6, 20, 8);
    // The masks' connectivity: input i reaches output j (through some hidden unit) exactly
    // when i < j.
    let (mi, mo) = made_masks(d, h);
    for i in 0..d {
        for j in 0..d {
            let paths: f32 = (0..h).map(|k| mi[i * h + k] * mo[k * d + j]).sum();
            assert_eq!(paths > 0.0, i < j, "input {i} → output {j}: {paths} paths");
        }
    }
    // The network, each row's context fixed: perturbing input j leaves outputs 0..=j of m
    // and s unchanged and changes some later output.
    let c = CONTEXT_PER_DIM * d;
    let mut rng = Lcg(5);
    let mut step = IafStep::new(d, h, &dev);
    randomize_iaf(&mut step, &mut rng);
    let z = rng.normals(b * d);
    let hc = scaled(&mut rng, b * c, 1.0);
    let context = || t2(hc.clone(), [b, c], &dev);
    let (m0, s0) = step.made(t2(z.clone(), [b, d], &dev), context());
    let (m0, s0) = (vec_of(m0), vec_of(s0));
    for j in 0..d {
        let mut zj = z.clone();
        for r in 0..b {
            zj[r * d + j] += 1.5;
        }
        let (m1, s1) = step.made(t2(zj, [b, d], &dev), context());
        let (m1, s1) = (vec_of(m1), vec_of(s1));
        let mut later_changed = false;
        for r in 0..b {
            for i in 0..d {
                let k = r * d + i;
                let moved = (m1[k] - m0[k]).abs().max((s1[k] - s0[k]).abs());
                if i <= j {
                    assert!(
                        moved < 1e-6,
                        "output {i} moved by {moved} when input {j} changed (row {r})"
                    );
                } else if moved > 1e-4 {
                    later_changed = true;
                }
            }
        }
        assert_eq!(
            later_changed,
            j + 1 < d,
            "input {j}: whether a later output changed"
        );
    }
    // z fixed, another context: output 0 (which sees no hidden unit) keeps its bias, every
    // later output moves in some row (in one row all its hidden units may be cut by relu).
    let other = scaled(&mut rng, b * c, 1.0);
    let (m2, s2) = step.made(t2(z.clone(), [b, d], &dev), t2(other, [b, c], &dev));
    let (m2, s2) = (vec_of(m2), vec_of(s2));
    for i in 0..d {
        let moved: Vec<f32> = (0..b)
            .map(|r| {
                let k = r * d + i;
                (m2[k] - m0[k]).abs().max((s2[k] - s0[k]).abs())
            })
            .collect();
        if i == 0 {
            assert!(
                moved.iter().all(|&v| v < 1e-6),
                "output 0 moved with the context: {moved:?}"
            );
        } else {
            assert!(
                moved.iter().filter(|&&v| v > 1e-4).count() >= b / 2,
                "output {i} ignores the context: {moved:?}"
            );
        }
    }
}

/// The IAF is amortised: one base point z under two images' contexts [μ, log σ²] gives two
/// different flow outputs and log-determinants, each the host flow's with that image's
/// context; the codes the app maps (`encode`: the flow of μ with its own context) are the
/// host's too. The planar flow is global: the same z gives the same output whatever the
/// context.
#[test]
fn the_iaf_is_amortised_two_images_contexts_give_two_flows_of_one_z() {
    let dev = cpu();
    dev.seed(7);
    let data = small(64, 16);
    let d = 4;
    let c = CONTEXT_PER_DIM * d;
    let batch = Batcher::new(dev.clone()).batch(&data.test, &[0, 1]);
    for kind in [FlowKind::Iaf, FlowKind::Planar] {
        let mut model = flow_config(kind).init(&dev).unwrap();
        let mut rng = Lcg(41);
        randomize(model.flow.as_mut().unwrap(), &mut rng);
        let host = host_flow(model.flow.as_ref().unwrap());
        let (mu, lv) = model.encode_image(batch.images.clone(), None);
        let context = flow_context(mu.clone(), lv.clone());
        assert_eq!(context.dims(), [2, c]);
        let (muh, lvh) = (f64s2(mu.clone()), f64s2(lv.clone()));
        let ctx = |i: usize| -> Vec<f64> {
            muh[i * d..(i + 1) * d]
                .iter()
                .chain(&lvh[i * d..(i + 1) * d])
                .copied()
                .collect()
        };
        let gap: f64 = (0..c).map(|q| (ctx(0)[q] - ctx(1)[q]).abs()).sum();
        assert!(gap > 0.1, "the two images' contexts hardly differ: {gap}");
        // One z for both images.
        let z = rng.normals(d);
        let zz: Vec<f32> = z.iter().chain(&z).copied().collect();
        let flow = model.flow.as_ref().unwrap();
        let (zt, ld) = flow.forward(t2(zz.clone(), [2, d], &dev), context.clone());
        let (zt, ld) = (f64s2(zt), f64s(ld));
        let apart = (0..d)
            .map(|j| (zt[j] - zt[d + j]).abs())
            .fold(0.0, f64::max);
        match kind {
            FlowKind::Iaf => {
                assert!(
                    apart > 0.05,
                    "one z, two images: the IAF's outputs differ by only {apart} ({zt:?})"
                );
                assert!(
                    (ld[0] - ld[1]).abs() > 1e-3,
                    "one z, two images: the same log|det| {ld:?}"
                );
            }
            FlowKind::Planar => {
                assert!(apart < 1e-6, "the planar flow is global: {apart}");
                assert!((ld[0] - ld[1]).abs() < 1e-6, "{ld:?}");
            }
        }
        let z64: Vec<f64> = z.iter().map(|&v| v as f64).collect();
        for i in 0..2 {
            let want = host_chain(&host, &z64, &ctx(i));
            for j in 0..d {
                assert!(
                    (zt[i * d + j] - want[j]).abs() < 1e-4 * want[j].abs().max(1.0),
                    "{kind:?} image {i}: f(z)[{j}] = {}, host {}",
                    zt[i * d + j],
                    want[j]
                );
            }
        }
        // `through_flow` (what `encode` and `reconstruct` use) is the same flow.
        let through = f64s2(model.through_flow(t2(zz, [2, d], &dev), &mu, &lv));
        assert!(
            through.iter().zip(&zt).all(|(a, b)| (a - b).abs() < 1e-6),
            "{kind:?}: through_flow {through:?} vs the flow's {zt:?}"
        );
        // The map's codes: the flow of each image's μ with its own context.
        let (codes, _) = model.encode(batch.images.clone());
        let codes = f64s2(codes);
        for i in 0..2 {
            let want = host_chain(&host, &muh[i * d..(i + 1) * d], &ctx(i));
            for j in 0..d {
                assert!(
                    (codes[i * d + j] - want[j]).abs() < 1e-4 * want[j].abs().max(1.0),
                    "{kind:?} image {i}: code[{j}] = {}, host {}",
                    codes[i * d + j],
                    want[j]
                );
            }
        }
    }
}

#[test]
fn the_planar_reparametrisation_keeps_every_step_invertible() {
    let dev = cpu();
    let d = 4;
    let mut rng = Lcg(23);
    let mut cases: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
    for su in [0.01, 1.0, 30.0] {
        for sw in [0.01, 1.0, 30.0] {
            for _ in 0..20 {
                cases.push((scaled(&mut rng, d, su), scaled(&mut rng, d, sw)));
            }
        }
    }
    // Adversarial: u pointing against w, so that wᵀu = −c (an unconstrained step would
    // fold space over for c > 1), for small, unit and large w; and w = 0.
    for sw in [0.05, 1.0, 20.0] {
        for c in [1.0, 2.0, 10.0, 100.0] {
            let w = scaled(&mut rng, d, sw);
            let n2: f32 = w.iter().map(|v| v * v).sum();
            let u: Vec<f32> = w.iter().map(|v| -c * v / n2).collect();
            cases.push((u, w));
        }
    }
    cases.push((scaled(&mut rng, d, 1.0), vec![0.0; d]));
    for (u, w) in cases {
        let u_hat = vec_of(planar_u_hat(t1(u.clone()), t1(w.clone())));
        let dot = |a: &[f32], c: &[f32]| {
            a.iter()
                .zip(c)
                .map(|(x, y)| *x as f64 * *y as f64)
                .sum::<f64>()
        };
        let (wu, uw_hat) = (dot(&w, &u), dot(&u_hat, &w));
        let tol = 1e-5 * (1.0 + wu.abs() + dot(&u, &u).sqrt() * dot(&w, &w).sqrt());
        assert!(
            uw_hat >= -1.0 - tol,
            "ûᵀw = {uw_hat} < −1 for wᵀu = {wu} (u {u:?}, w {w:?})"
        );
        // And it is the paper's m(wᵀu) = −1 + softplus(wᵀu) (0 for w = 0: û = u).
        let want = if dot(&w, &w) > 0.0 {
            -1.0 + softplus(wu)
        } else {
            0.0
        };
        assert!(
            (uw_hat - want).abs() < tol + 1e-5 * want.abs(),
            "ûᵀw = {uw_hat}, m(wᵀu) = {want} for wᵀu = {wu}"
        );
        // The step's log-det where tanh' = 1 (wᵀz + b = 0) is finite: 1 + ûᵀw > 0.
        let mut step = PlanarStep::new(d, &dev);
        step.u = Param::from_tensor(t1(u));
        step.w = Param::from_tensor(t1(w));
        let (_, ld) = step.forward(t2(vec![0.0; d], [1, d], &dev));
        let ld = vec_of(ld)[0];
        assert!(ld.is_finite(), "log-det {ld} at wᵀz + b = 0 for wᵀu = {wu}");
    }
}

fn flow_config(kind: FlowKind) -> VaeConfig {
    VaeConfig {
        arch: ArchConfig::Mlp { hidden: vec![32] },
        latent_dim: 4,
        latent: LatentKind::Flow {
            flow: kind,
            steps: 3,
            hidden: 10,
        },
        ..VaeConfig::default()
    }
}

fn ctx() -> StepContext {
    StepContext {
        step: 0,
        beta: 1.0,
        kl_weight: 1.0,
        free_bits: None,
        likelihood: Likelihood::Bernoulli,
        dataset_size: 100,
    }
}

fn term(t: &[(&'static str, Tensor<1>)], name: &str) -> f64 {
    let v = t.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    vec_of(v)[0] as f64
}

#[test]
fn an_identity_iaf_gives_the_vaes_elbo_on_the_same_noise() {
    let dev = cpu();
    dev.seed(3);
    let data = small(64, 16);
    let batch = Batcher::new(dev.clone()).batch(&data.train, &(0..16).collect::<Vec<_>>());
    let mut model = flow_config(FlowKind::Iaf).init(&dev).unwrap();
    let mut rng = Lcg(8);
    // σ = sigmoid(40) = 1 in f32: z ← z whatever m is, and Σ log σ = 0.
    let flow = model.flow.as_mut().unwrap();
    for s in flow.iaf.iter_mut() {
        let [d, h] = s.w1.dims();
        s.wm = Param::from_tensor(Tensor::zeros([h, d], &dev));
        s.ws = Param::from_tensor(Tensor::zeros([h, d], &dev));
        s.bs = Param::from_tensor(Tensor::ones([d], &dev).mul_scalar(40.0));
        s.bm = Param::from_tensor(t1(scaled(&mut rng, d, 1.0)));
    }
    let params = VariantParams::default();
    let aux = AuxModules::empty();
    let loss = |kind: VariantKind, m: &latent_explorer::model::Vae, seed: u64| {
        with_noise_stream(seed, || {
            kind.build(&params).loss(m, &aux, &batch, 0, &ctx())
        })
    };
    let mut plain = model.clone();
    plain.flow = None;
    let iaf = loss(VariantKind::Iaf, &model, 9);
    let vae = loss(VariantKind::Vae, &plain, 9);
    let (a, b) = (vec_of(iaf.total)[0] as f64, vec_of(vae.total)[0] as f64);
    assert!(
        (a - b).abs() < 1e-5 * b.abs(),
        "identity IAF loss {a} vs the VAE's {b}"
    );
    for name in ["rec", "kl"] {
        let (x, y) = (term(&iaf.terms, name), term(&vae.terms, name));
        assert!(
            (x - y).abs() < 1e-4 * y.abs().max(1.0),
            "{name}: {x} vs {y}"
        );
    }
    assert!(term(&iaf.terms, "log_det").abs() < 1e-6);
    // Other noise, another value: equal above because the noise was the same.
    let other = vec_of(loss(VariantKind::Vae, &plain, 10).total)[0] as f64;
    assert!((other - b).abs() > 1e-3, "{other} vs {b}");
}

#[test]
fn the_flow_elbo_and_iwae_bound_match_host_log_densities() {
    let dev = cpu();
    dev.seed(5);
    let data = small(64, 16);
    let (b, d, k) = (5, 4, 3);
    let batch = Batcher::new(dev.clone()).batch(&data.test, &(0..b).collect::<Vec<_>>());
    let x = vec_of(batch.images.clone());
    let p = x.len() / b;
    for kind in [FlowKind::Iaf, FlowKind::Planar] {
        let mut model = flow_config(kind).init(&dev).unwrap();
        let mut rng = Lcg(31);
        randomize(model.flow.as_mut().unwrap(), &mut rng);
        let host = host_flow(model.flow.as_ref().unwrap());
        let (mu, lv) = model.encode_image(batch.images.clone(), None);
        let (mu, lv) = (f64s2(mu), f64s2(lv));
        // Host log q₀(z₀) − Σ log|det| − log p(z_T) and log p(x | z_T) for base noise `e`
        // `[n, d]` on the images `img(i)`: per row, (log p(x|z_T), log p(z_T),
        // log q₀(z₀), log|det|, z₀).
        let host_terms = |e: &[f32], img: &dyn Fn(usize) -> usize| {
            let n = e.len() / d;
            let z0: Vec<f64> = (0..n * d)
                .map(|q| {
                    let (r, j) = (img(q / d) * d, q % d);
                    mu[r + j] + e[q] as f64 * (0.5 * lv[r + j]).exp()
                })
                .collect();
            // Row r's context: [μ, log σ²] of its image.
            let ctx = |r: usize| -> Vec<f64> {
                let i = img(r) * d;
                mu[i..i + d].iter().chain(&lv[i..i + d]).copied().collect()
            };
            let zt: Vec<f32> = z0
                .chunks(d)
                .enumerate()
                .flat_map(|(r, z)| host_chain(&host, z, &ctx(r)))
                .map(|v| v as f32)
                .collect();
            let logits = vec_of(model.decode_image(t2(zt.clone(), [n, d], &dev), None));
            (0..n)
                .map(|r| {
                    let i = img(r);
                    let z = &z0[r * d..(r + 1) * d];
                    let h = ctx(r);
                    let chain = |zz: &[f64]| host_chain(&host, zz, &h);
                    let ld = log_abs_det(jacobian(&chain, z), d);
                    let log_px = log_bernoulli(&x[i * p..(i + 1) * p], &logits[r * p..(r + 1) * p]);
                    let log_pt: f64 = zt[r * d..(r + 1) * d]
                        .iter()
                        .map(|&v| -0.5 * ((v as f64).powi(2) + LN_2PI))
                        .sum();
                    let log_q0: f64 = (0..d)
                        .map(|j| {
                            let (m, l) = (mu[i * d + j], lv[i * d + j]);
                            -0.5 * ((z[j] - m).powi(2) / l.exp() + l + LN_2PI)
                        })
                        .sum();
                    let log_p0: f64 = z.iter().map(|v| -0.5 * (v * v + LN_2PI)).sum();
                    (log_px, log_pt, log_q0, ld, log_p0)
                })
                .collect::<Vec<_>>()
        };
        // The ELBO's one-sample estimate: rec + KL(q₀ ‖ N(0, I)) + log p(z₀) − log p(z_T)
        // − Σ log|det|.
        let eps = rng.normals(b * d);
        let parts = flow_parts(
            &model,
            Likelihood::Bernoulli,
            batch.images.clone(),
            Some(t2(eps.clone(), [b, d], &dev)),
        );
        let rec = vec_of(parts.rec);
        let kl_base = vec_of(parts.kl_base);
        let kl_flow = vec_of(parts.kl_flow);
        for (i, (log_px, log_pt, _, ld, log_p0)) in host_terms(&eps, &|r| r).into_iter().enumerate()
        {
            let closed: f64 = (0..d)
                .map(|j| {
                    let (m, l) = (mu[i * d + j], lv[i * d + j]);
                    0.5 * (m * m + l.exp() - 1.0 - l)
                })
                .sum();
            let want = -log_px + closed + log_p0 - log_pt - ld;
            let got = rec[i] as f64
                + kl_base[i * d..(i + 1) * d]
                    .iter()
                    .map(|&v| v as f64)
                    .sum::<f64>()
                + kl_flow[i] as f64;
            assert!(
                (got - want).abs() < 1e-3 * want.abs().max(1.0),
                "{kind:?} image {i}: −ELBO estimate {got} vs host {want}"
            );
            assert!(ld.abs() > 0.05, "{kind:?}: log|det| {ld} too near 0");
        }
        // The IWAE bound: log-mean-exp over k samples (sample-major copies of the batch) of
        // log p(x|z_T) + log p(z_T) − log q₀(z₀) + Σ log|det|.
        let e = rng.normals(k * b * d);
        let bound = vec_of(flow_iwae_with(
            &model,
            Likelihood::Bernoulli,
            batch.images.clone(),
            k,
            Some(t2(e.clone(), [k * b, d], &dev)),
        ));
        let terms = host_terms(&e, &|r| r % b);
        for i in 0..b {
            let lw: Vec<f64> = (0..k)
                .map(|s| {
                    let (log_px, log_pt, log_q0, ld, _) = terms[s * b + i];
                    log_px + log_pt - log_q0 + ld
                })
                .collect();
            let want = log_mean_exp_host(&lw);
            assert!(
                (bound[i] as f64 - want).abs() < 1e-3 * want.abs().max(1.0),
                "{kind:?} image {i}: IWAE {} vs host {want}",
                bound[i]
            );
        }
    }
}

#[test]
fn flow_variants_train_evaluate_and_refuse_bad_step_counts() {
    let dev = cpu();
    let data = small(256, 64);
    for v in [VariantKind::Iaf, VariantKind::PlanarFlow] {
        let mut cfg = TrainConfig {
            variant: v,
            batch_size: 32,
            ..TrainConfig::default()
        };
        cfg.variant_params.flow_steps = 2;
        cfg.variant_params.flow_hidden = 16;
        let mut t = Trainer::new(cfg.clone(), data.clone(), &dev).unwrap();
        for _ in 0..5 {
            let m = t.step().unwrap().metrics;
            assert!(m.terms.iter().all(|(_, v)| v.is_finite()), "{m:?}");
        }
        let m = t.evaluate(2);
        let (base, flow) = (m.extra("kl_base").unwrap(), m.extra("kl_flow").unwrap());
        assert!(((base + flow) - m.kl).abs() < 1e-6 * m.kl.abs().max(1.0));
        assert!((m.neg_elbo - (m.rec + m.kl)).abs() < 1e-6 * m.neg_elbo);
        assert!(m.iwae_nll.is_some_and(f64::is_finite), "{m:?}");
        for steps in [0, 65] {
            let mut bad = cfg.clone();
            bad.variant_params.flow_steps = steps;
            let err = Trainer::new(bad, data.clone(), &dev)
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("flow steps"), "{steps}: {err}");
        }
    }
}

/// An IAF run trained in the app, paused and explored: the slider image is the model's own
/// decode of the shared latent vector (no flow between the cursor and the decoder), and no
/// view reports an error or a non-finite pixel.
#[test]
fn an_iaf_run_trains_and_explores_in_the_app() {
    use latent_explorer::gpu::TileSource;
    use latent_explorer::train::{Command, WorkerState};
    use latent_explorer::ui::decoder::ViewKey;
    use latent_explorer::ui::{RunAction, UiCommand};

    use crate::app::{harness, nth_run, options, quiesce, run_id, run_until};

    let mut opts = options(600, 32, 1000);
    if let Some(d) = opts.draft.as_mut() {
        d.spec.variant = VariantKind::Iaf;
        d.spec.flow_steps = 2;
        d.spec.flow_hidden = 16;
    }
    let mut h = harness(opts);
    run_until(&mut h, 120, "training", |a| {
        a.runs.iter().next().is_some_and(|r| r.status.step >= 20)
    });
    let id = run_id(h.state(), 0);
    h.state_mut()
        .push_command(UiCommand::Run(id, RunAction::Worker(Command::Pause)));
    run_until(&mut h, 30, "paused", |app| {
        nth_run(app, 0).status.state == WorkerState::Paused
    });
    let before = nth_run(h.state(), 0).image_version(ViewKey::Slider);
    h.state_mut().push_command(UiCommand::RandomizeLatent);
    run_until(&mut h, 60, "the slider image of the random vector", |app| {
        nth_run(app, 0).image_version(ViewKey::Slider) > before
    });
    quiesce(&mut h);
    let app = h.state();
    let run = nth_run(app, 0);
    assert!(app.errors.is_empty(), "{:?}", app.errors);
    assert!(run.status.errors.is_empty(), "{:?}", run.status.errors);
    assert_eq!(run.config.variant, VariantKind::Iaf);
    let z = app.runs.cursor.latent_for(run).unwrap();
    let d = z.len();
    let snap = run.latest().unwrap();
    let model = &snap.model;
    assert!(model.flow.is_some(), "the run's model has its flow");
    let want = vec_of(model.decode_mean(t2(z, [1, d], &cpu())));
    let got = match run.image(ViewKey::Slider).map(|i| &i.source) {
        Some(TileSource::Host(v)) => v.as_ref().clone(),
        _ => panic!("expected host pixels on the CPU backend"),
    };
    assert_eq!(got.len(), want.len());
    let diff = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        diff < 1e-5,
        "the slider image is not the decode of the cursor: {diff}"
    );
    for key in [
        ViewKey::Recon,
        ViewKey::Prior,
        ViewKey::Grid,
        ViewKey::Stats,
    ] {
        if let Some(TileSource::Host(v)) = run.image(key).map(|i| &i.source) {
            assert!(
                v.iter().all(|p| p.is_finite()),
                "{key:?} has non-finite pixels"
            );
        }
    }
}
