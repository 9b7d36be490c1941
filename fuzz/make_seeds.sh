#!/usr/bin/env bash
# Make the fuzz targets' seed inputs in fuzz/seeds/TARGET/ from real files of each format,
# small enough for libFuzzer's mutations to reach every part of them:
#   idx:        a 4x4 MNIST-format image file and its labels, raw and gzip;
#   checkpoint: a checkpoint trained by `latent-explorer train` on those images (4x4,
#               hidden 2, latent 1), a conditional one, and its header alone;
#   torch:      the PyTorch examples' VAE layout at toy size, saved by torch.save (zip and
#               legacy pickle) and as safetensors (needs the PyTorch venv of
#               scripts/reproduce bench-torch; skipped without it);
#   settings:   the app's persisted settings (defaults, and a workspace with runs);
#   image:      small images in each format and colour type an image folder may hold
#               (PNG grey, grey+alpha, RGB, RGBA, 16-bit, palette, interlaced; JPEG colour,
#               grey, progressive; GIF), made with ImageMagick.
# Usage: fuzz/make_seeds.sh [BINARY]   (default: the debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-${CARGO_TARGET_DIR:-$HOME/.cache/latent-explorer/target}/debug/latent-explorer}"
SEEDS=fuzz/seeds
rm -rf "$SEEDS" && mkdir -p "$SEEDS"/{idx,checkpoint,torch,settings,image}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

python3 - "$WORK/data" "$SEEDS/idx" <<'PY'
import gzip, os, struct, sys
data, seeds = sys.argv[1], sys.argv[2]
os.makedirs(data)
def images(n):
    px = bytes((i * 37 + j * 11) % 256 for i in range(n) for j in range(16))
    return struct.pack(">IIII", 0x803, n, 4, 4) + px
def labels(n):
    return struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n))
for name, body in [("train-images-idx3-ubyte", images(40)), ("train-labels-idx1-ubyte", labels(40)),
                   ("t10k-images-idx3-ubyte", images(20)), ("t10k-labels-idx1-ubyte", labels(20))]:
    open(os.path.join(data, name), "wb").write(body)
open(os.path.join(seeds, "images"), "wb").write(images(3))
open(os.path.join(seeds, "labels"), "wb").write(labels(3))
open(os.path.join(seeds, "images.gz"), "wb").write(gzip.compress(images(3)))
open(os.path.join(seeds, "labels.gz"), "wb").write(gzip.compress(labels(3)))
PY

"$BIN" train --data "$WORK/data" --epochs 1 --batch 8 --hidden 2 --latent 1 \
  --final-iwae-k 0 --out "$SEEDS/checkpoint/vae.safetensors" >/dev/null
"$BIN" train --data "$WORK/data" --epochs 1 --batch 8 --hidden 2 --latent 1 --variant cvae \
  --final-iwae-k 0 --out "$SEEDS/checkpoint/cvae.safetensors" >/dev/null
python3 - "$SEEDS/checkpoint/vae.safetensors" "$SEEDS/checkpoint/header-only" <<'PY'
import struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
open(sys.argv[2], "wb").write(raw[:8 + n])
PY

PY_TORCH="$HOME/.cache/torch-ref/bin/python"
if [ -x "$PY_TORCH" ]; then
  "$PY_TORCH" - "$SEEDS/torch" <<'PY'
import sys, torch
out = sys.argv[1]
torch.manual_seed(0)
sd = {}
for name, (o, i) in {"fc1": (3, 16), "fc21": (1, 3), "fc22": (1, 3), "fc3": (3, 1), "fc4": (16, 3)}.items():
    sd[f"{name}.weight"] = torch.randn(o, i)
    sd[f"{name}.bias"] = torch.randn(o)
torch.save(sd, f"{out}/examples.pt")
torch.save(sd, f"{out}/examples-legacy.pt", _use_new_zipfile_serialization=False)
torch.save({k: v.half() for k, v in sd.items()}, f"{out}/examples-f16.pt")
from safetensors.torch import save_file
save_file(sd, f"{out}/examples.safetensors")
PY
else
  echo "no PyTorch venv ($PY_TORCH): torch seeds skipped" >&2
fi

# The settings as eframe stores them (the value under the app key of app.ron), written by
# the app itself: one second under Xvfb, then a normal exit.
mkdir -p "$WORK/home"
HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/data" xvfb-run -a -s "-screen 0 1280x800x24" \
  "$BIN" app --measure 1 --device cpu >/dev/null 2>&1
python3 - "$WORK/home/data" "$SEEDS/settings" <<'PY'
import glob, json, os, re, sys
ron = open(glob.glob(os.path.join(sys.argv[1], "*", "app.ron"))[0]).read()
# {"app": "<RON text as a string literal>", ...}: JSON reads that literal.
m = re.search(r'"app"\s*:\s*("(?:[^"\\]|\\.)*")', ron)
value = json.loads(m.group(1))
open(os.path.join(sys.argv[2], "app"), "w").write(value)
open(os.path.join(sys.argv[2], "empty"), "w").write("()")
PY
# Images: a 6x4 gradient with a disc, in every colour type the folder reader meets.
IM="convert -size 6x4 gradient:red-blue -fill yellow -draw 'circle 3,2 4,2'"
I="$SEEDS/image"
eval "$IM PNG8:$I/palette.png"
eval "$IM -colorspace Gray PNG8:$I/grey.png"
eval "$IM -colorspace Gray -alpha set -channel A -evaluate set 50% PNG32:$I/grey-alpha.png"
eval "$IM PNG24:$I/rgb.png"
eval "$IM -alpha set -channel A -evaluate set 50% PNG32:$I/rgba.png"
eval "$IM -depth 16 PNG48:$I/rgb16.png"
eval "$IM -interlace PNG PNG24:$I/interlaced.png"
eval "$IM -quality 80 $I/colour.jpg"
eval "$IM -colorspace Gray -quality 80 $I/grey.jpg"
eval "$IM -interlace JPEG -quality 80 $I/progressive.jpg"
eval "$IM $I/anim.gif"
convert -size 1x1 xc:'#c80a5a' PNG24:"$I/one-pixel.png"
ls -la "$SEEDS"/*
