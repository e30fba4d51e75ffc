"""Converts a PyTorch checkpoint's state_dict (.pt/.pth) to safetensors, for nn.Module.loadStateDict
through io.readSafetensors. Run: /usr/bin/python3 test/reference/convert_state_dict.py in.pth out.safetensors

Accepts a bare state_dict, one wrapped as {'state_dict': ...} or {'model': ...} (training
checkpoints), and DataParallel's 'module.' prefix on every key (removed). float16/bfloat16 become
F32, bool U8; other dtypes keep their own (F32, F64, I32, I64, U8), which ann-seg reads as float32
or int32. Needs only torch (no safetensors package).
"""
import argparse
import json
import os
import struct
import sys

import torch

_CODES = {
    torch.float32: "F32",
    torch.float64: "F64",
    torch.int32: "I32",
    torch.int64: "I64",
    torch.uint8: "U8",
}
_WIDEN = {torch.float16: torch.float32, torch.bfloat16: torch.float32, torch.bool: torch.uint8}


def unwrap(obj):
    """The state_dict inside a checkpoint, without DataParallel's 'module.' prefix."""
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"expected a state_dict (a dict of tensors), got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"not a state_dict: entries {bad[:5]} are not tensors")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def write_safetensors(path, tensors, metadata=None):
    """The safetensors layout: u64 LE header length, JSON header (sorted keys, 8-byte padded), data."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for key in sorted(tensors):
        t = tensors[key].detach().cpu()
        t = t.to(_WIDEN.get(t.dtype, t.dtype)).contiguous()
        if t.dtype not in _CODES:
            raise ValueError(f"tensor '{key}' has unsupported dtype {t.dtype}")
        raw = t.numpy().tobytes()  # numpy arrays are little-endian on every platform torch runs on
        header[key] = {"dtype": _CODES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (8 + len(text)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode("utf-8"))
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def convert(src, dst):
    obj = torch.load(src, map_location="cpu")
    state = unwrap(obj)
    write_safetensors(dst, state, {"format": "pt", "source": os.path.basename(src)})
    return state


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", help="PyTorch checkpoint (.pt/.pth)")
    parser.add_argument("dst", help="output .safetensors")
    args = parser.parse_args(argv)
    state = convert(args.src, args.dst)
    print(f"wrote {args.dst}: {len(state)} tensors")


if __name__ == "__main__":
    main(sys.argv[1:])
