"""Train, export and evaluate the embedded generators on procedural phantoms.

    python -m gausslib.train stylegan2 --out runs/stylegan2-v2 --kimg 2000 --resume
    python -m gausslib.train glow      --out runs/glow-v2      --kimg 2000 --resume
    python -m gausslib.train export stylegan2 --run runs/stylegan2-v2 --name stylegan2-phantom64
    python -m gausslib.train eval stylegan2-phantom64 glow-phantom64
    python -m gausslib.train probe --run runs/stylegan2-v2     # noise strengths, noise-redraw PSNR

Training draws an endless stream of fresh phantoms (``phantoms.sample`` with seeds >= 10 000, one
seed per step) of kind ``--data`` (default ``"textured"``, phantoms v2; the first shipped models were
trained on ``"brain"``, with ``--data brain`` and, for StyleGAN2, ``--arch lite``); held-out
evaluation uses seeds 1 and 2 of the same kind, never seen in training. A run folder holds
``checkpoint.pt`` (everything needed to resume: models, optimisers, RNG states, counters; written
atomically every few minutes), ``log.jsonl`` (losses and speed), ``ema.pt`` (the exportable
weights) and ``grid-*.png`` sample grids. ``--resume`` continues from ``checkpoint.pt``.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from gausslib import phantoms
from gausslib.bench import machine
from gausslib.files import atomic_save
from gausslib.generators import zoo
from gausslib.generators.glow import dequantize
from gausslib.viz import save_grid

TRAIN_SEED_BASE = 10_000
HELDOUT_SEEDS = (1, 2)


# ----------------------------------------------------------------------------- run-folder helpers
def real_batch(step: int, batch: int, size: int, device, kind: str = "brain") -> torch.Tensor:
    """Returns the training batch of ``step``: fresh phantoms ``[batch, 1, size, size]`` of ``kind``."""
    return phantoms.sample(batch, size=size, seed=TRAIN_SEED_BASE + step, device=device, kind=kind)


class Run:
    """A run folder: resumable state, JSONL log, periodic checkpoints and grids."""

    def __init__(self, out: Path, ckpt_minutes: float):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.ckpt_path = self.out / "checkpoint.pt"
        self.ckpt_seconds = 60.0 * ckpt_minutes
        self.last_ckpt = time.time()

    def log(self, row: dict) -> None:
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    def due(self) -> bool:
        return time.time() - self.last_ckpt >= self.ckpt_seconds

    def load(self) -> dict | None:
        """Returns the checkpointed state, or None; the log keeps only the steps the checkpoint holds, so
        that a resumed run (or a checkpoint copied while training went on) never logs a step twice."""
        if not self.ckpt_path.exists():
            return None
        state = zoo.safe_load(self.ckpt_path)
        log = self.out / "log.jsonl"
        if log.exists():
            rows = log.read_text().splitlines(keepends=True)
            log.write_text("".join(r for r in rows if json.loads(r).get("step", 0) <= state["step"]))
        return state

    def save(self, state: dict, export: dict) -> None:
        atomic_save(state, self.ckpt_path)
        atomic_save(export, self.out / "ema.pt")
        self.last_ckpt = time.time()


def _data_meta(kind: str) -> dict:
    """Returns the checkpoint / weights entry naming the phantom kind (absent for the first kind, "brain",
    so that the first shipped runs' files stay as they were)."""
    return {} if kind == "brain" else {"data": kind}


def rng_state() -> dict:
    return {"torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])


def _start(args, config_cls, **config):
    """Return ``(device, run, state, config)``: the resumed state and its config, or a fresh config
    (``resolution`` from ``args``, then ``config``).

    Seeds torch after loading so a fresh run is reproducible; a resumed run restores its own RNG.
    Raises ``ValueError`` when a resumed run was trained on other data than ``args.data``.
    """
    run = Run(args.out, args.ckpt_minutes)
    state = run.load() if args.resume else None
    if state and state.get("data", "brain") != args.data:
        raise ValueError(f"--data {args.data!r}: {run.ckpt_path} was trained on {state.get('data', 'brain')!r} phantoms")
    cfg = config_cls(**state["config"]) if state else config_cls(resolution=args.resolution, **config)
    torch.manual_seed(args.seed)
    return torch.device(args.device), run, state, cfg


# ----------------------------------------------------------------------------- StyleGAN2
def train_stylegan2(args) -> None:
    """Trains StyleGAN2: non-saturating loss, lazy R1, style mixing, EMA generator with ramp-up.

    ``args.arch``: ``"official"`` (:mod:`gausslib.generators.stylegan2`) or ``"lite"`` (the first
    architecture); a resumed run keeps the architecture of its checkpoint.
    """
    from gausslib.generators import stylegan2, stylegan2_lite
    from gausslib.generators.zoo import stylegan2_module

    if args.arch == "official":
        mod, extra = stylegan2, {"noise_strength_init": args.noise_strength_init}
    else:
        mod, extra = stylegan2_lite, {}
    if args.resume and (args.out / "checkpoint.pt").exists():
        mod = stylegan2_module(zoo.safe_load(args.out / "checkpoint.pt")["config"])
    dev, run, state, cfg = _start(args, mod.StyleGAN2Config, **extra)
    G, D = mod.Generator(cfg).to(dev), mod.Discriminator(cfg).to(dev)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    r1_every, batch = 16, args.batch
    r1_gamma = args.r1_gamma if args.r1_gamma is not None else 0.0002 * cfg.resolution ** 2 / batch
    c = r1_every / (r1_every + 1)  # lazy-regularisation correction of D's Adam hyper-parameters
    opt_G = torch.optim.Adam(G.parameters(), lr=args.lr, betas=(0.0, 0.99), eps=1e-8)
    opt_D = torch.optim.Adam(D.parameters(), lr=args.lr * c, betas=(0.0, 0.99 ** c), eps=1e-8)
    step, nimg, wall, cpu = 0, 0, 0.0, 0.0
    if state:
        G.load_state_dict(state["G"]), D.load_state_dict(state["D"]), G_ema.load_state_dict(state["G_ema"])
        opt_G.load_state_dict(state["opt_G"]), opt_D.load_state_dict(state["opt_D"])
        step, nimg, wall, cpu = state["step"], state["nimg"], state["wall"], state.get("cpu", 0.0)
        set_rng_state(state["rng"])
        print(f"resumed from {run.ckpt_path} at step {step} ({nimg / 1000:.1f} kimg)")
    ema_kimg = batch * 10 / 32
    grid_z = torch.randn(32, cfg.z_dim, generator=torch.Generator().manual_seed(123)).to(dev)
    grid_noise = G.make_noise(32, generator=torch.Generator().manual_seed(124))
    grid_noise = [n.to(dev) for n in grid_noise]

    def make_ws(b: int) -> torch.Tensor:
        """Style mixing with probability 0.9: two z's, crossover at a random synthesis input."""
        z = torch.randn(2, b, cfg.z_dim, device=dev)
        w = G.mapping(z)  # [2, b, w_dim]
        ws = w[0][:, None].repeat(1, G.num_ws, 1)
        if torch.rand(()) < 0.9:
            cut = int(torch.randint(1, G.num_ws, ()))
            ws[:, cut:] = w[1][:, None]
        return ws

    def checkpoint() -> None:
        export = {"kind": "stylegan2", "config": cfg.to_dict(), "state_dict": G_ema.state_dict(),
                  "meta": {"step": step, "kimg": nimg / 1000, "wall_s": wall, "cpu_s": cpu, "machine": machine(),
                           "batch": batch, "lr": args.lr, "r1_gamma": r1_gamma, **_data_meta(args.data)}}
        run.save({"config": cfg.to_dict(), "G": G.state_dict(), "D": D.state_dict(), "G_ema": G_ema.state_dict(),
                  "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(), "step": step, "nimg": nimg,
                  "wall": wall, "cpu": cpu, "rng": rng_state(), **_data_meta(args.data)}, export)
        with torch.no_grad():
            save_grid(G_ema.synthesis(G_ema.map_z_plus(grid_z), grid_noise), run.out / f"grid-{nimg // 1000:06d}kimg.png")
            save_grid(G_ema.synthesis(G_ema.map_z_plus(grid_z), grid_noise), run.out / "grid-latest.png")

    total = int(args.kimg * 1000)
    bar = tqdm(total=total, initial=nimg, unit="img", desc="stylegan2")
    acc = {"loss_G": 0.0, "loss_D": 0.0, "r1": 0.0, "n": 0}
    t_last = time.time()
    while nimg < total:
        t0, c0 = time.time(), time.process_time()
        real = real_batch(step, batch, cfg.resolution, dev, args.data)
        # D step: softplus(D(fake)) + softplus(-D(real)), R1 on real every r1_every steps.
        with torch.no_grad():
            fake = G.synthesis(make_ws(batch), G.make_noise(batch))
        do_r1 = step % r1_every == 0
        real.requires_grad_(do_r1)
        logits_real = D(real)
        loss_D = F.softplus(D(fake)).mean() + F.softplus(-logits_real).mean()
        if do_r1:
            (grad,) = torch.autograd.grad(logits_real.sum(), real, create_graph=True)
            r1 = grad.square().sum(dim=(1, 2, 3)).mean()
            loss_D = loss_D + r1 * (r1_gamma / 2) * r1_every
            acc["r1"] += float(r1.detach())
        opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        opt_D.step()
        # G step: softplus(-D(G(z))).
        ws = make_ws(batch)
        loss_G = F.softplus(-D(G.synthesis(ws, G.make_noise(batch)))).mean()
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        opt_G.step()
        with torch.no_grad():
            G.w_avg.lerp_(ws[:, 0].mean(0), 0.005)
            ema_nimg = min(ema_kimg * 1000, nimg * 0.05) if nimg > 0 else 1.0
            beta = 0.5 ** (batch / max(ema_nimg, 1e-8))
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                p_ema.lerp_(p, 1.0 - beta)
            G_ema.w_avg.copy_(G.w_avg)
        step, nimg = step + 1, nimg + batch
        wall, cpu = wall + time.time() - t0, cpu + time.process_time() - c0
        bar.update(batch)
        acc["loss_G"] += float(loss_G.detach())
        acc["loss_D"] += float(loss_D.detach())
        acc["n"] += 1
        if step % args.log_every == 0:
            n = acc.pop("n")
            row = {"step": step, "kimg": nimg / 1000, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
                   "sec_per_kimg": round((time.time() - t_last) * 1000 / (n * batch), 1),
                   **{k: round(v / n, 4) for k, v in acc.items()}}
            row["r1"] = round(row["r1"] * r1_every, 4)
            if hasattr(G, "noise_strengths"):  # is the generator using its noise inputs? (per layer, 4×4 first)
                row["noise_strength"] = [round(float(v), 5) for v in G.noise_strengths().detach().abs()]
            run.log(row)
            bar.set_postfix(G=row["loss_G"], D=row["loss_D"])
            acc, t_last = {"loss_G": 0.0, "loss_D": 0.0, "r1": 0.0, "n": 0}, time.time()
        if run.due():
            checkpoint()
    checkpoint()
    bar.close()


# ----------------------------------------------------------------------------- Glow
def train_glow(args) -> None:
    """Trains Glow by maximum likelihood on dequantised 8-bit phantoms, lr warm-up, gradient clipping."""
    from gausslib.generators.glow import Glow, GlowConfig

    dev, run, state, cfg = _start(args, GlowConfig)
    model = Glow(cfg, seed=args.seed).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    step, nimg, wall, cpu, batch = 0, 0, 0.0, 0.0, args.batch
    if state:
        model.load_state_dict(state["model"]), opt.load_state_dict(state["opt"])
        step, nimg, wall, cpu = state["step"], state["nimg"], state["wall"], state.get("cpu", 0.0)
        set_rng_state(state["rng"])
        print(f"resumed from {run.ckpt_path} at step {step} ({nimg / 1000:.1f} kimg)")
    else:
        model.initialize(dequantize(real_batch(-1, 256, cfg.resolution, dev, args.data)))
    heldout = phantoms.sample(256, size=cfg.resolution, seed=HELDOUT_SEEDS[0], device=dev, kind=args.data)
    heldout_u = torch.Generator().manual_seed(5)

    def heldout_bpd() -> float:
        with torch.no_grad():
            x = dequantize(heldout, torch.rand(heldout.shape, generator=heldout_u).to(dev))
            return float(torch.cat([model.bits_per_dim(c) for c in x.split(64)]).mean())

    def checkpoint() -> None:
        model.eval()
        bpd = heldout_bpd()
        export = {"kind": "glow", "config": cfg.to_dict(), "state_dict": model.state_dict(),
                  "meta": {"step": step, "kimg": nimg / 1000, "wall_s": wall, "cpu_s": cpu, "machine": machine(),
                           "batch": batch, "lr": args.lr, "heldout_bpd_256": bpd, **_data_meta(args.data)}}
        run.save({"config": cfg.to_dict(), "model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                  "nimg": nimg, "wall": wall, "cpu": cpu, "rng": rng_state(), **_data_meta(args.data)}, export)
        run.log({"step": step, "kimg": nimg / 1000, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "heldout_bpd": round(bpd, 4)})
        with torch.no_grad():
            imgs = model.sample(32, generator=torch.Generator(device=dev).manual_seed(123))
        save_grid(imgs.clamp(-1, 1), run.out / f"grid-{nimg // 1000:06d}kimg.png")
        save_grid(imgs.clamp(-1, 1), run.out / "grid-latest.png")
        model.train()

    total = int(args.kimg * 1000)
    bar = tqdm(total=total, initial=nimg, unit="img", desc="glow")
    acc, n_acc, t_last = 0.0, 0, time.time()
    while nimg < total:
        t0, c0 = time.time(), time.process_time()
        x = dequantize(real_batch(step, batch, cfg.resolution, dev, args.data))
        loss = model.bits_per_dim(x).mean()
        for g in opt.param_groups:  # linear warm-up over the first 200 steps
            g["lr"] = args.lr * min(1.0, (step + 1) / 200)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 50.0)
        opt.step()
        step, nimg = step + 1, nimg + batch
        wall, cpu = wall + time.time() - t0, cpu + time.process_time() - c0
        bar.update(batch)
        acc, n_acc = acc + float(loss.detach()), n_acc + 1
        if step % args.log_every == 0:
            run.log({"step": step, "kimg": nimg / 1000, "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "bpd": round(acc / n_acc, 4),
                     "grad_norm": round(float(gnorm), 2),
                     "sec_per_kimg": round((time.time() - t_last) * 1000 / (n_acc * batch), 1)})
            bar.set_postfix(bpd=round(acc / n_acc, 3))
            acc, n_acc, t_last = 0.0, 0, time.time()
        if run.due():
            checkpoint()
    checkpoint()
    bar.close()


def probe(run: Path, n: int = 64) -> dict:
    """Returns ``{"kimg", "noise_strength_abs", "noise_redraw_psnr"}`` of a StyleGAN2 run's ``ema.pt``: while it
    trains, whether (and through which layers) the generator uses its noise maps."""
    from gausslib.generators.evaluate import noise_redraw_psnr

    payload = zoo.read_payload(Path(run) / "ema.pt")
    if payload["kind"] != "stylegan2":
        raise ValueError(f"{run}: probe needs a StyleGAN2 run, got {payload['kind']!r}")
    G = zoo.build(payload).eval().requires_grad_(False)
    strengths = G.noise_strengths().abs().tolist() if hasattr(G, "noise_strengths") else None
    return {"kimg": payload["meta"]["kimg"], "noise_strength_abs": strengths, "noise_redraw_psnr": noise_redraw_psnr(G, n)}


# ----------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m gausslib.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("stylegan2", "glow"):
        s = sub.add_parser(name, help=f"train {name} on phantoms")
        s.add_argument("--out", type=Path, default=Path("runs") / name)
        s.add_argument("--kimg", type=float, default=2000.0, help="stop after this many thousand images")
        s.add_argument("--batch", type=int, default=32)
        s.add_argument("--resolution", type=int, default=64)
        s.add_argument("--lr", type=float, default=0.0025 if name == "stylegan2" else 1e-3)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if present")
        s.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a loaded 2-core box)")
        s.add_argument("--ckpt-minutes", type=float, default=5.0)
        s.add_argument("--log-every", type=int, default=20)
        s.add_argument("--device", default="cpu")
        s.add_argument("--data", default="textured", choices=phantoms.KINDS,
                       help="phantom kind (the first shipped models: brain)")
        if name == "stylegan2":
            s.add_argument("--r1-gamma", type=float, default=None, help="default 0.0002·res²/batch")
            s.add_argument("--arch", default="official", choices=("official", "lite"),
                           help="official StyleGAN2 semantics, or the first simplified architecture")
            s.add_argument("--noise-strength-init", type=float, default=0.0,
                           help="initial noise strength of every synthesis layer (official: 0; --arch official)")
    e = sub.add_parser("export", help="copy a run's EMA weights into data/weights and record the checksum")
    e.add_argument("model", choices=("stylegan2", "glow"))
    e.add_argument("--run", type=Path, required=True)
    e.add_argument("--name", required=True)
    e.add_argument("--weights-dir", type=Path, default=None, help="default: data/weights")
    q = sub.add_parser("probe", help="print how much a StyleGAN2 run's EMA generator uses its noise maps")
    q.add_argument("--run", type=Path, required=True)
    q.add_argument("--n", type=int, default=64, help="z+ draws for the noise-redraw PSNR")
    q.add_argument("--threads", type=int, default=1)
    v = sub.add_parser("eval", help="compute the quality metrics of shipped models and write them to the cards")
    v.add_argument("names", nargs="+")
    v.add_argument("--n", type=int, default=2000)
    v.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    if args.cmd == "stylegan2":
        train_stylegan2(args)
    elif args.cmd == "glow":
        train_glow(args)
    elif args.cmd == "probe":
        print(json.dumps(probe(args.run, args.n)))
    elif args.cmd == "export":
        zoo.export(args.run / "ema.pt", args.name, weights_dir=args.weights_dir or zoo.WEIGHTS_DIR)
    else:
        from gausslib import pathological
        from gausslib.generators.evaluate import evaluate, generation_of, ood_figure
        for name in args.names:
            evaluate(name, n=args.n)
        for data in sorted({generation_of(name) for name in args.names}):
            ood_figure(data=data)
            pathological.write_figure(zoo.WEIGHTS_DIR, data=data)


if __name__ == "__main__":
    main()
