#!/usr/bin/env python3
"""PyTorch peer of `npm run bench -- train`: CPU training throughput and peak memory of the
same networks, trained the same way, so that bench/train.ts can print ours/PyTorch ratios
measured side by side in one run.

Networks (README.md, Variants), written here as plain nn.Modules:
  resnet20  He et al. CIFAR ResNet-20: 3x3 stem to 16, stages of 3 basic blocks at 16-32-64,
            option A shortcuts (every other pixel, channels zero-padded evenly), GAP, linear.
  vgg16     CIFAR VGG-16 with BN after every conv, 2x2 max-pool closing each of 5 stages,
            linear 512 -> classes. The first conv is the stem, not a slot.
Slot variants: std = Conv3x3; dw-pw = DW3x3 BN ReLU Conv1x1; dw-gpw(cg) = DW3x3 BN ReLU
grouped Conv1x1; dw-gpw-shuffle(cg) = the same then ShuffleNet's channel shuffle;
dw-scc(cg, s) = DW3x3 BN ReLU SCC, where SCC is emulated as a dense 1x1 conv whose weight is multiplied by a fixed 0/1 band
mask in every forward (output channel c reads input channels (c*s + k) mod Cin, k < Cin/cg).
That is the most efficient SCC PyTorch offers: one MKL-DNN 1x1 conv plus an elementwise
multiply, and the mask also zeroes the gradient of the entries outside the band.

Recipe: batch 128 (default), SGD lr 0.01, momentum 0.9, weight decay 5e-4 on conv and linear
weights only (BN affine and biases undecayed, as our default recipe), constant lr, no
augmentation, synthetic uint8 images normalised per batch (as our trainer does on the host).

Method: `--warmup` steps are trained and discarded, then `--windows` windows of
`--window-batches` steps each are timed with perf_counter (each step is synchronous on the
CPU); images/s of each window, and their median, are reported. Peak memory is the
high-water mark of this process's resident set (getrusage ru_maxrss), which includes the
Python interpreter and the torch library; the RSS just before the model is built is
reported too.

Study mode (--study CONFIG): instead of timing, train one design on Fashion-MNIST with a
sweep config's recipe and data, as `dsxplore sweep` trains a trial, and report its test
accuracy: the IDX files padded to 32x32, the first dataset.limitTrain training images
(dataset.limitTest test images, else all 10,000), normalised with the per-channel mean and
population std of those training images; random crop with a zero (raw black) border of 2,
no flip; SGD with the recipe's lr, momentum, Nesterov and weight decay on conv and linear
weights only; per step a cosine schedule over every step of every epoch with linear warm-up
over recipe.warmupEpochs epochs (factor (step+1)/warm-up steps); an epoch is every full
batch plus a last partial one of at least 2 images; the training set reshuffled every
epoch. Initialisation as our engine's (native/src/net/net.cc): conv and SCC weights
kaiming_normal_(fan_out, relu), linear weight and bias U(-1/sqrt(in), 1/sqrt(in)), BN
gamma 1 and beta 0. The seed is the same number as the sweep's, but PyTorch draws other
random streams from it, so the two engines agree in distribution, not bit for bit.

Usage:
  python3 bench/peer/torch_train.py                      # every benchmark network, a child process each
  python3 bench/peer/torch_train.py --model resnet20 --variant dw-scc:cg=2,co=0.5 --channels 1
  python3 bench/peer/torch_train.py --study configs/study-resnet20.json --variant dw-gpw-shuffle:cg=8 [--seed 0]
  python3 bench/peer/torch_train.py --study configs/study-resnet20.json --variant dw-gpw:cg=8 --steps 3   # smoke
Prints JSON on stdout (one network: one object; all: {"method", "networks": [...]}).
Installs Debian's python3-torch with apt-get only if `import torch` fails.
"""
import argparse
import gzip
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time

NETWORKS = [
    ("resnet20", "std"),
    ("resnet20", "dw-pw"),
    ("resnet20", "dw-scc:cg=2,co=0.5"),
    ("vgg16", "dw-scc:cg=4,co=0.5"),
]
INPUT_CHANNELS = [1, 3]


SYSTEM_PYTHON = "/usr/bin/python3"  # the interpreter Debian's python3-torch installs for


def system_python_has_torch():
    if not os.path.exists(SYSTEM_PYTHON) or os.path.realpath(sys.executable) == os.path.realpath(SYSTEM_PYTHON):
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import torch"], capture_output=True).returncode == 0


def ensure_torch():
    """Import torch; else re-run under Debian's python3 (e.g. when a pyenv python3 comes first
    on PATH); else install python3-torch with apt-get and then do that."""
    try:
        import torch  # noqa: F401
        return
    except ImportError:
        pass
    if system_python_has_torch():
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    print("torch_train.py: `import torch` failed; installing Debian's python3-torch with apt-get", file=sys.stderr)
    cmd = ["apt-get", "install", "-y", "python3-torch"]
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            sys.exit("torch_train.py: PyTorch is missing and this is not root; run: sudo apt-get install -y python3-torch")
        cmd = ["sudo"] + cmd
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, env=env)
    if r.returncode != 0:
        sys.exit(f"torch_train.py: {' '.join(cmd)} failed with exit code {r.returncode}")
    try:
        import torch  # noqa: F401,F811
    except ImportError:
        if system_python_has_torch():
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
        sys.exit("torch_train.py: python3-torch is installed but `import torch` still fails")


def rss_mib():
    """Current resident set size of this process, MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------- variants


VARIANT_FORMS = "std, dw-pw, dw-gpw:cg=N, dw-gpw-shuffle:cg=N, dw-scc:cg=N,co=R|s=K"


def parse_variant(text):
    """'std', 'dw-pw', 'dw-gpw:cg=8', 'dw-gpw-shuffle:cg=8', 'dw-scc:cg=2,co=0.5' or
    'dw-scc:cg=2,s=8' -> dict."""
    kind, _, rest = text.strip().partition(":")
    v = {"kind": kind}
    for part in filter(None, rest.split(",")):
        key, _, raw = part.partition("=")
        v[key.strip()] = float(raw) if key.strip() == "co" else int(raw)
    if kind not in ("std", "dw-pw", "dw-gpw", "dw-gpw-shuffle", "dw-scc"):
        raise SystemExit(f"torch_train.py: variant {text!r} not supported here ({VARIANT_FORMS})")
    if kind == "dw-scc" and "s" not in v and "co" not in v:
        raise SystemExit(f"torch_train.py: {text!r}: dw-scc needs co or s")
    if kind in ("dw-gpw", "dw-gpw-shuffle") and "cg" not in v:
        raise SystemExit(f"torch_train.py: {text!r}: {kind} needs cg")
    return v


def scc_stride(v, cin):
    """s = clamp(D - round(co*D), 1, D), halves rounding up, exactly as src/models/variant.ts."""
    d = cin // v["cg"]
    if "s" in v:
        return v["s"]
    s = d - math.floor(v["co"] * d + 1e-9 + 0.5)
    return min(d, max(1, s))


def build(model, variant, in_channels, classes):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class MaskedConv1x1(nn.Module):
        """SCC(cin -> cout, cg, s) as a dense 1x1 conv with a fixed 0/1 band mask."""

        def __init__(self, cin, cout, cg, s):
            super().__init__()
            d = cin // cg
            self.weight = nn.Parameter(torch.empty(cout, cin, 1, 1))
            mask = torch.zeros(cout, cin, 1, 1)
            for c in range(cout):
                start = (c * s) % cin
                for k in range(d):
                    mask[c, (start + k) % cin] = 1.0
            self.register_buffer("mask", mask)
            nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")
            with torch.no_grad():
                self.weight.mul_(self.mask)
            self.effective = cout * d

        def forward(self, x):
            return F.conv2d(x, self.weight * self.mask)

    class ChannelShuffle(nn.Module):
        """ShuffleNet v1: view C as [groups, C/groups] and transpose (output j*g + i <- input i*C/g + j)."""

        def __init__(self, groups):
            super().__init__()
            self.groups = groups

        def forward(self, x):
            n, c, h, w = x.shape
            return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)

    def slot(cin, cout, stride):
        """A 3x3 conv slot filled by `variant` (the architecture's BN/ReLU after it is the caller's)."""
        k = variant["kind"]
        if k == "std":
            return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        layers = [nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU(inplace=True)]
        if k == "dw-pw":
            layers.append(nn.Conv2d(cin, cout, 1, bias=False))
        elif k in ("dw-gpw", "dw-gpw-shuffle"):
            layers.append(nn.Conv2d(cin, cout, 1, groups=variant["cg"], bias=False))
            if k == "dw-gpw-shuffle":
                layers.append(ChannelShuffle(variant["cg"]))
        else:
            layers.append(MaskedConv1x1(cin, cout, variant["cg"], scc_stride(variant, cin)))
        return nn.Sequential(*layers)

    class ShortcutA(nn.Module):
        def __init__(self, stride, cin, cout):
            super().__init__()
            self.stride = stride
            self.front = (cout - cin) // 2
            self.back = cout - cin - self.front

        def forward(self, x):
            x = x[:, :, :: self.stride, :: self.stride]
            return F.pad(x, (0, 0, 0, 0, self.front, self.back))

    class BasicBlock(nn.Module):
        def __init__(self, cin, planes, stride):
            super().__init__()
            self.conv1 = slot(cin, planes, stride)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = slot(planes, planes, 1)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut = ShortcutA(stride, cin, planes) if stride != 1 or cin != planes else nn.Identity()

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)), inplace=True)
            y = self.bn2(self.conv2(y))
            return F.relu(y + self.shortcut(x), inplace=True)

    class CifarResNet(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
            blocks, cin = [], 16
            for si, planes in enumerate([16, 32, 64]):
                for bi in range(n):
                    stride = 2 if bi == 0 and si > 0 else 1
                    blocks.append(BasicBlock(cin, planes, stride))
                    cin = planes
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(64, classes)

        def forward(self, x):
            x = self.blocks(self.stem(x))
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    class Vgg(nn.Module):
        def __init__(self, stages):
            super().__init__()
            layers, cin = [], in_channels
            for si, widths in enumerate(stages):
                for ci, w in enumerate(widths):
                    conv = nn.Conv2d(cin, w, 3, 1, 1, bias=False) if si == 0 and ci == 0 else slot(cin, w, 1)
                    layers += [conv, nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
                    cin = w
                layers.append(nn.MaxPool2d(2, 2))
            self.features = nn.Sequential(*layers)
            self.fc = nn.Linear(512, classes)

        def forward(self, x):
            x = self.features(x)
            if x.shape[2] > 1 or x.shape[3] > 1:
                x = F.adaptive_avg_pool2d(x, 1)
            return self.fc(torch.flatten(x, 1))

    if model == "resnet20":
        net = CifarResNet(3)
    elif model == "vgg16":
        net = Vgg([[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]])
    else:
        raise SystemExit(f"torch_train.py: model {model!r} not supported here (resnet20, vgg16)")

    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net, MaskedConv1x1


def param_counts(net, masked_cls):
    """(effective trainable scalars, BN affine included, SCC counted as its band only;
    scalars PyTorch actually stores and updates)."""
    stored = sum(p.numel() for p in net.parameters())
    effective = stored
    for m in net.modules():
        if isinstance(m, masked_cls):
            effective -= m.weight.numel() - m.effective
    return effective, stored


# ---------------------------------------------------------------- one network


def run_one(a):
    import torch
    import torch.nn as nn

    threads = a.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    variant = parse_variant(a.variant)
    C, S, B = a.channels, a.size, a.batch
    pool = a.pool_batches * B
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (pool, C, S, S), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, a.classes, (pool,), dtype=torch.int64, generator=g)
    mean = torch.full((1, C, 1, 1), 0.5)
    std = torch.full((1, C, 1, 1), 0.25)
    baseline = rss_mib()

    net, masked_cls = build(a.model, variant, C, a.classes)
    effective, stored = param_counts(net, masked_cls)
    decay, no_decay = [], []
    for m in net.modules():
        for name, p in m.named_parameters(recurse=False):
            (decay if name == "weight" and isinstance(m, (nn.Conv2d, nn.Linear, masked_cls)) else no_decay).append(p)
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}],
        lr=a.lr,
        momentum=0.9,
    )
    loss_fn = nn.CrossEntropyLoss()
    net.train()

    step_seconds = []
    total = a.warmup + a.windows * a.window_batches
    t_start = time.perf_counter()
    loss_value = float("nan")
    for step in range(total):
        t0 = time.perf_counter()
        i = (step % a.pool_batches) * B
        x = (images[i : i + B].float().div_(255.0) - mean) / std
        y = labels[i : i + B]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        loss_value = loss.item()
        step_seconds.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - t_start

    timed = step_seconds[a.warmup :]
    windows = []
    for w in range(a.windows):
        span = sum(timed[w * a.window_batches : (w + 1) * a.window_batches])
        windows.append(a.window_batches * B / span)
    ordered = sorted(windows)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {
        "engine": "pytorch",
        "version": torch.__version__,
        "model": a.model,
        "variant": a.variant,
        "input": f"{C}x{S}x{S}",
        "batch": B,
        "threads": torch.get_num_threads(),
        "params": effective,
        "storedParams": stored,
        "warmupBatches": a.warmup,
        "windowBatches": a.window_batches,
        "windowImagesPerSecond": [round(v, 1) for v in windows],
        "imagesPerSecond": round(median, 1),
        "firstStepSeconds": round(step_seconds[0], 4),
        "peakRssMiB": round(peak_rss_mib(), 1),
        "baselineRssMiB": round(baseline, 1),
        "finalLoss": round(loss_value, 4),
        "seconds": round(seconds, 3),
    }


# ---------------------------------------------------------------- study mode

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist


def read_idx(path):
    """An IDX file (gzipped or not) -> (dims, bytes): the format of src/data/idx.ts, uint8 only."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise SystemExit(f"torch_train.py: {path} is not a uint8 IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = data[4 + 4 * ndim :]
    need = math.prod(dims)
    if len(body) < need:
        raise SystemExit(f"torch_train.py: {path} is truncated ({len(body)} of {need} bytes)")
    return dims, body[:need]


def idx_path(folder, stem):
    for name in (f"{stem}.gz", stem):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    raise SystemExit(f"torch_train.py: {stem}[.gz] not found in {folder} (apt-get install dataset-fashion-mnist, or --data-dir)")


def load_fashion(folder, split, limit):
    """uint8 images [n, 1, 32, 32] (28x28 with a zero border of 2, as src/data/digits.ts) and labels."""
    import torch

    prefix = "train" if split == "train" else "t10k"
    dims, images = read_idx(idx_path(folder, f"{prefix}-images-idx3-ubyte"))
    _, labels = read_idx(idx_path(folder, f"{prefix}-labels-idx1-ubyte"))
    n = dims[0] if limit is None else min(limit, dims[0])
    x = torch.frombuffer(bytearray(images), dtype=torch.uint8).view(dims[0], 1, dims[1], dims[2])[:n]
    x = torch.nn.functional.pad(x, (2, 2, 2, 2))
    y = torch.frombuffer(bytearray(labels), dtype=torch.uint8)[:n].long()
    return x.contiguous(), y


def study_recipe(path):
    """The recipe, data and seeds of a sweep config (JSON), resolved as src/config/recipe.ts
    resolves them for Fashion-MNIST: epochs from the last multi-fidelity rung, else recipe.epochs."""
    with open(path) as f:
        c = json.load(f)
    d = c.get("dataset", {})
    if d.get("name") != "fashion-mnist":
        raise SystemExit(f"torch_train.py: {path}: study mode reads Fashion-MNIST only, not {d.get('name')!r}")
    r = c.get("recipe", {})
    schedule = r.get("schedule", "cosine")
    if schedule not in ("cosine", "constant"):
        raise SystemExit(f"torch_train.py: {path}: recipe.schedule {schedule!r} is not supported here (cosine, constant)")
    for key in ("augment", "decayBnAndBias"):
        if r.get(key):
            raise SystemExit(f"torch_train.py: {path}: recipe.{key} is not supported here")
    rungs = c.get("multiFidelity", {}).get("rungs")
    return {
        "model": c["model"],
        "limitTrain": d.get("limitTrain"),
        "limitTest": d.get("limitTest"),
        "epochs": rungs[-1] if rungs else r.get("epochs", 1),
        "batchSize": r.get("batchSize", 128),
        "lr": r.get("lr", 0.1),
        "momentum": r.get("momentum", 0.9),
        "nesterov": bool(r.get("nesterov", False)),
        "weightDecay": r.get("weightDecay", 5e-4),
        "schedule": schedule,
        "warmupEpochs": r.get("warmupEpochs", 0),
        "threads": r.get("threads", 1),
        "cropPadding": 2,
        "seeds": c.get("seeds", [0]),
    }


def steps_per_epoch(count, batch):
    """Every full batch, plus the rest when it holds at least 2 images (native/src/net/trainer.cc)."""
    full, rest = divmod(count, batch)
    return full + (1 if rest >= 2 else 0)


def learning_rate(r, step, spe):
    """The lr of a step: cosine over every step, times a linear warm-up (trainer.cc learning_rate)."""
    total = r["epochs"] * spe
    f = 0.5 * (1.0 + math.cos(math.pi * step / total)) if r["schedule"] == "cosine" else 1.0
    warm = r["warmupEpochs"] * spe
    if warm > 0 and step < warm:
        f *= (step + 1) / warm
    return r["lr"] * f


def train_study(a, r, seed):
    import torch
    import torch.nn as nn

    torch.set_num_threads(a.threads or r["threads"])
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(seed)
    variant = parse_variant(a.variant)
    train_x, train_y = load_fashion(a.data_dir, "train", r["limitTrain"])
    test_x, test_y = load_fashion(a.data_dir, "test", a.limit_test if a.limit_test else r["limitTest"])
    pixels = train_x.double().div_(255.0)
    mean = pixels.mean().item()
    std = pixels.std(unbiased=False).item() or 1.0
    del pixels
    pad = r["cropPadding"]
    padded = torch.nn.functional.pad(train_x, (pad, pad, pad, pad))

    net, masked_cls = build(r["model"], variant, 1, 10)
    effective, _ = param_counts(net, masked_cls)
    decay, no_decay = [], []
    for m in net.modules():
        for name, p in m.named_parameters(recurse=False):
            (decay if name == "weight" and isinstance(m, (nn.Conv2d, nn.Linear, masked_cls)) else no_decay).append(p)
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": r["weightDecay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=r["lr"], momentum=r["momentum"], nesterov=r["nesterov"],
    )
    loss_fn = nn.CrossEntropyLoss()
    n, B = train_x.shape[0], r["batchSize"]
    spe = steps_per_epoch(n, B)
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    step = 0
    train_loss = float("nan")
    for _epoch in range(r["epochs"]):
        net.train()
        order = torch.randperm(n, generator=g)
        seen, loss_sum = 0, 0.0
        for b in range(spe):
            if a.steps and step >= a.steps:
                break
            idx = order[b * B : (b + 1) * B]
            oy = torch.randint(0, 2 * pad + 1, (len(idx),), generator=g)
            ox = torch.randint(0, 2 * pad + 1, (len(idx),), generator=g)
            crops = torch.stack([padded[i, :, y : y + 32, x : x + 32] for i, y, x in zip(idx.tolist(), oy.tolist(), ox.tolist())])
            x = (crops.float().div_(255.0) - mean) / std
            for group in opt.param_groups:
                group["lr"] = learning_rate(r, step, spe)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), train_y[idx])
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            seen += len(idx)
            step += 1
        train_loss = loss_sum / max(seen, 1)
    seconds = time.perf_counter() - t0

    net.eval()
    correct, test_loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, test_x.shape[0], 500):
            x = (test_x[i : i + 500].float().div_(255.0) - mean) / std
            logits = net(x)
            test_loss += loss_fn(logits, test_y[i : i + 500]).item() * x.shape[0]
            correct += (logits.argmax(1) == test_y[i : i + 500]).sum().item()
    return {
        "engine": "pytorch",
        "version": torch.__version__,
        "model": r["model"],
        "variant": a.variant,
        "seed": seed,
        "epochs": r["epochs"],
        "steps": step,
        "trainImages": n,
        "testImages": int(test_x.shape[0]),
        "params": effective,
        "accuracy": correct / test_x.shape[0],
        "testLoss": test_loss / test_x.shape[0],
        "trainLoss": train_loss,
        "seconds": round(seconds, 1),
    }


METHOD = (
    "PyTorch {version} on the CPU, {threads} threads; each network trained in its own process on "
    "synthetic uint8 images normalised per batch; {warmup} warm-up steps discarded, then {windows} "
    "windows of {wb} steps timed with perf_counter; images/s = median over windows; peak memory = "
    "ru_maxrss of the process (interpreter and torch included). SCC = dense 1x1 conv with a fixed 0/1 "
    "band mask multiplied into the weight every forward."
)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="resnet20 or vgg16; omit to run every benchmark network")
    p.add_argument("--variant", default="std")
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=0, help="0 = all cores")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--warmup", type=int, default=3, help="steps trained before timing")
    p.add_argument("--windows", type=int, default=5, help="timed windows")
    p.add_argument("--window-batches", type=int, default=4, help="steps per timed window")
    p.add_argument("--pool-batches", type=int, default=4, help="distinct synthetic batches cycled through")
    p.add_argument("--quick", action="store_true", help="2 warm-up steps, 3 windows of 2 steps")
    p.add_argument("--study", metavar="CONFIG", help="train --variant on Fashion-MNIST with this sweep config's recipe (see Study mode)")
    p.add_argument("--seed", type=int, help="study mode: one seed (default: every seed of the config, in turn)")
    p.add_argument("--steps", type=int, default=0, help="study mode: stop after this many SGD steps (a smoke run)")
    p.add_argument("--limit-test", type=int, default=0, help="study mode: evaluate on at most N test images (a smoke run)")
    p.add_argument("--data-dir", default=FASHION_MNIST_DIR, help="study mode: the Fashion-MNIST IDX files")
    a = p.parse_args()
    if a.quick:
        a.warmup, a.windows, a.window_batches = 2, 3, 2
    if a.study:
        r = study_recipe(a.study)
        parse_variant(a.variant)  # a bad variant fails before torch is needed
        ensure_torch()
        for seed in [a.seed] if a.seed is not None else r["seeds"]:
            print(json.dumps(train_study(a, r, seed)), flush=True)
        return
    ensure_torch()

    if a.model:
        print(json.dumps(run_one(a)))
        return

    # every network, each in a child process so that its peak memory is its own
    rows = []
    for model, variant in NETWORKS:
        for c in INPUT_CHANNELS:
            cmd = [sys.executable, os.path.abspath(__file__), "--model", model, "--variant", variant,
                   "--channels", str(c), "--size", str(a.size), "--classes", str(a.classes),
                   "--batch", str(a.batch), "--threads", str(a.threads), "--lr", str(a.lr),
                   "--warmup", str(a.warmup), "--windows", str(a.windows),
                   "--window-batches", str(a.window_batches), "--pool-batches", str(a.pool_batches)]
            r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            if r.returncode != 0:
                sys.exit(f"torch_train.py: {model} {variant} {c}ch failed (exit {r.returncode})")
            row = json.loads(r.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{model:9s} {variant:20s} {row['input']:8s} {row['imagesPerSecond']:9.1f} img/s  "
                  f"peak {row['peakRssMiB']:7.1f} MiB  params {row['params']}", file=sys.stderr)
    first = rows[0]
    method = METHOD.format(version=first["version"], threads=first["threads"], warmup=a.warmup,
                           windows=a.windows, wb=a.window_batches)
    print(json.dumps({"method": method, "networks": rows}, indent=2))


if __name__ == "__main__":
    main()
