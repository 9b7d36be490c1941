#!/usr/bin/env python3
"""Make the bad inputs of scripts/hardening from one good checkpoint (plain VAE, MLP):
python3 scripts/hardening_files.py GOOD.safetensors OUTDIR. Standard library only."""
import json, struct, sys, os, math

good, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
raw = open(good, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
meta = json.loads(header["__metadata__"]["latent_explorer"])


def write(name, header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    open(os.path.join(out, name), "wb").write(struct.pack("<Q", len(h)) + h + data)


def with_meta(m):
    h = dict(header)
    h["__metadata__"] = {"latent_explorer": json.dumps(m)}
    return h


tensors = sorted((k, v) for k, v in header.items() if k != "__metadata__")

# One tensor stored as f64 (same values), offsets shifted.
def retyped(dtype, width):
    h, buf, off = {"__metadata__": header["__metadata__"]}, b"", 0
    target = tensors[0][0]
    for k, v in tensors:
        a, b = v["data_offsets"]
        chunk = data[a:b]
        if k == target:
            vals = struct.unpack("<%df" % (len(chunk) // 4), chunk)
            chunk = struct.pack("<%d%s" % (len(vals), {"F64": "d", "F16": "e"}[dtype]), *vals)
            h[k] = {"dtype": dtype, "shape": v["shape"], "data_offsets": [off, off + len(chunk)]}
        else:
            h[k] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [off, off + len(chunk)]}
        buf += chunk
        off += len(chunk)
    return h, buf


write("f64.safetensors", *retyped("F64", 8))
write("f16.safetensors", *retyped("F16", 2))

m = json.loads(json.dumps(meta)); m["train"]["model"]["rows"] = 1 << 32; m["train"]["model"]["cols"] = 1 << 32
write("huge-sides.safetensors", with_meta(m), data)
m = json.loads(json.dumps(meta)); m["train"]["model"]["arch"]["hidden"] = [1 << 32]
write("huge-hidden.safetensors", with_meta(m), data)
m = json.loads(json.dumps(meta)); m["train"]["model"]["rows"] = 3000; m["train"]["model"]["cols"] = 3000
write("big-image.safetensors", with_meta(m), data)
m = json.loads(json.dumps(meta)); m["train"]["variant"] = "cvae"
write("says-cvae.safetensors", with_meta(m), data)
m = json.loads(json.dumps(meta)); m["dataset"]["rows"] = 14
write("says-14-rows.safetensors", with_meta(m), data)

# Every weight NaN.
nan = struct.pack("<f", math.nan) * (len(data) // 4)
write("nan.safetensors", header, nan)
# One weight of one tensor +inf.
k, v = tensors[-1]
a, _ = v["data_offsets"]
write("one-inf.safetensors", header, data[:a] + struct.pack("<f", math.inf) + data[a + 4:])
